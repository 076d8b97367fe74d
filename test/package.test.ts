// The package as users get it. `npm run prebuild` makes the prebuilt set (the addon, ggml's and
// libllama's libraries, one CPU backend module per variant); `npm pack` packs it; the tarball,
// installed into an empty folder with nothing but the registry, must run `minimonkey demo` without
// compiling anything, on the best CPU variant for this CPU. A CPU without AVX2 must get a variant it
// runs rather than die with SIGILL: qemu-user's CPU models (Nehalem: SSE4.2, no AVX; qemu64: not
// even SSE4.2) stand in for such machines.
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, tinyPair } from './helpers/models';

const root = path.join(__dirname, '..');
const x64Linux = process.platform === 'linux' && process.arch === 'x64';
const onX64Linux = x64Linux ? it : it.skip;
const qemu = 'qemu-x86_64';
// Every x86-64 variant of ggml's CPU backend (GGML_CPU_ALL_VARIANTS in the pinned ggml/src/CMakeLists.txt).
const X64_VARIANTS = ['x64', 'sse42', 'sandybridge', 'ivybridge', 'piledriver', 'haswell', 'skylakex', 'cannonlake',
  'cascadelake', 'icelake', 'cooperlake', 'zen4', 'alderlake', 'sapphirerapids'];
type Variant = { name: string; score: number };

// Children get no npm_* variables from the `npm test` that runs us (they would steer npm install).
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))),
  ...extra,
});

function sh(cmd: string, args: string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function mustRun(cmd: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = sh(cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('the packed package, installed from its tarball', () => {
  const work = fs.mkdtempSync(path.join(tempDir(), 'package-'));
  const staging = path.join(work, 'staging');
  const app = path.join(work, 'app');
  const fakeBin = path.join(work, 'no-compilers');
  const compileLog = path.join(work, 'compile-attempts.log');
  const prebuilds = path.join(staging, 'prebuilds', `${process.platform}-${process.arch}`);
  const installed = path.join(app, 'node_modules', 'minimonkey');
  const cli = path.join(app, 'node_modules', '.bin', 'minimonkey');
  let tarball = '';
  let files: string[] = [];

  beforeAll(() => {
    // The package folder as `npm pack` sees it after `npm run prebuild`: package.json's "files" (dist/
    // is fresh: jest's global setup compiled it) plus prebuilds made by the real script.
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
    fs.mkdirSync(staging, { recursive: true });
    for (const entry of [...pkg.files.filter((f) => f !== 'prebuilds/'), 'package.json']) {
      fs.cpSync(path.join(root, entry), path.join(staging, entry), { recursive: true });
    }
    mustRun(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--out', prebuilds], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    const packed = JSON.parse(mustRun('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: staging, env: cleanEnv() }));
    tarball = path.join(work, packed[0].filename);
    files = (packed[0].files as { path: string }[]).map((f) => f.path);

    // An app folder, and a PATH on which every compiler and build tool fails and leaves a note.
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    fs.mkdirSync(fakeBin);
    for (const tool of ['cc', 'gcc', 'c++', 'g++', 'clang', 'clang++', 'cmake', 'make', 'ninja', 'node-gyp']) {
      fs.writeFileSync(path.join(fakeBin, tool), `#!/bin/sh\necho "${tool} $*" >> "${compileLog}"\nexit 1\n`, { mode: 0o755 });
    }
    mustRun('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: app,
      env: cleanEnv({ PATH: `${fakeBin}${path.delimiter}${process.env.PATH}` }),
    });
  }, 30 * 60 * 1000);

  it('the tarball holds the compiled JS, declarations, sources for a rebuild and the prebuilt set', () => {
    expect(files).toEqual(expect.arrayContaining([
      'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js',
      'CMakeLists.txt', 'scripts/install.mjs', 'scripts/build-native.mjs', 'scripts/check-addon.js',
    ]));
    const binaries = files.filter((f) => f.startsWith('prebuilds/')).map((f) => path.basename(f)).sort();
    if (x64Linux) {
      // The addon, ggml's and libllama's libraries under private names, and every x86-64 CPU variant ggml defines.
      expect(binaries).toEqual([
        ...X64_VARIANTS.map((v) => `libggml-cpu-${v}.so`).sort(),
        'libmm-ggml-base.so', 'libmm-ggml.so', 'libmm-llama.so', 'minimonkey.node',
      ].sort());
    }
    // Never third-party sources, build folders or tests.
    expect(files.filter((f) => /^(deps|build|node_modules|test)\//.test(f))).toEqual([]);
  });

  it('installing it compiled nothing, and left no build folder', () => {
    expect(fs.existsSync(compileLog) ? fs.readFileSync(compileLog, 'utf8') : '').toBe('');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'deps'))).toBe(false);
  });

  it('`minimonkey demo` runs there, on the prebuilt set, with the best CPU variant for this CPU', () => {
    const info = JSON.parse(mustRun(cli, ['runtime', '--json'], { cwd: app, env: cleanEnv() }));
    expect(info.prebuilt).toBe(true);
    expect(path.dirname(info.addonPath)).toBe(path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`));
    const best = [...info.cpu.variants].sort((a: Variant, b: Variant) => b.score - a.score)[0];
    expect(best.score).toBeGreaterThan(0);
    expect(info.cpu).toMatchObject({ variant: best.name, chosenBy: 'score' });
    const demo = JSON.parse(mustRun(cli, ['demo', '--json', '--threads', '2'], { cwd: app, env: cleanEnv() }));
    expect(demo.result.tokens.generated).toBeGreaterThan(0);
    expect(demo.scm.detailKept).toBe(demo.scm.detailTokens / 2);
  });

  onX64Linux('the set is stripped; the addon exports only the N-API entry points, the libraries no libstdc++', () => {
    const dir = path.join(installed, 'prebuilds', 'linux-x64');
    const exported = (f: string) => mustRun('nm', ['-D', '--defined-only', path.join(dir, f)]).trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!);
    expect(exported('minimonkey.node').sort()).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
    for (const f of fs.readdirSync(dir)) {
      expect([f, sh('nm', [path.join(dir, f)]).stderr.includes('no symbols')]).toEqual([f, true]); // no static symbol table left
    }
    // The modules are found beside the addon, wherever the folder is ($ORIGIN), never on the system's paths.
    for (const f of ['minimonkey.node', 'libmm-llama.so', 'libggml-cpu-haswell.so']) {
      expect([f, mustRun('readelf', ['-d', path.join(dir, f)])]).toEqual([f, expect.stringMatching(/R(UN)?PATH.*\[\$ORIGIN\]/)]);
    }
    const needed = mustRun('readelf', ['-d', path.join(dir, 'libggml-cpu-haswell.so')]);
    expect(needed).toContain('[libmm-ggml-base.so]');
    expect(needed).not.toMatch(/\[libggml(-base)?\.so/);
  });

  onX64Linux('only the CPU variants hold vector code past SSE2: the addon and its libraries run on any x86-64', () => {
    const dir = path.join(installed, 'prebuilds', 'linux-x64');
    const vexInstructions = (file: string): number => {
      const asm = mustRun('objdump', ['-d', '--no-show-raw-insn', path.join(dir, file)], { maxBuffer: 1 << 30 });
      return asm.split('\n').filter((l) => /\tv[a-z0-9]+\s.*%[xyz]mm/.test(l)).length;
    };
    for (const f of ['minimonkey.node', 'libmm-ggml-base.so', 'libmm-ggml.so', 'libmm-llama.so', 'libggml-cpu-x64.so', 'libggml-cpu-sse42.so']) {
      expect([f, vexInstructions(f)]).toEqual([f, 0]);
    }
    expect(vexInstructions('libggml-cpu-haswell.so')).toBeGreaterThan(1000);
  });

  describe('on emulated CPUs (qemu-user)', () => {
    const haveQemu = x64Linux && sh('sh', ['-c', `command -v ${qemu}`]).status === 0;
    if (x64Linux && !haveQemu) {
      it('needs qemu-user (scripts/setup-system.sh installs it)', () => {
        throw new Error(`${qemu} is missing: run scripts/setup-system.sh`);
      });
      return;
    }
    const onQemu = haveQemu ? it : it.skip;
    const emulate = (cpu: string, args: string[], env: Record<string, string> = {}) =>
      sh(qemu, ['-cpu', cpu, process.execPath, cli, ...args], { cwd: app, env: cleanEnv(env) });

    const variantOf = (r: { status: number | null; stdout: string }): string => {
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout).cpu.variant;
    };
    const demoArgs = ['demo', '--json', '--threads', '2'];
    const demoText = (r: { status: number | null; stdout: string; stderr: string }): string => {
      if (r.status !== 0) throw new Error(`demo failed (${r.status}): ${r.stderr}`);
      return JSON.parse(r.stdout).result.text;
    };

    onQemu('without AVX (Nehalem) it loads the sse42 variant and the demo answers as that variant does natively', () => {
      expect(variantOf(emulate('Nehalem', ['runtime', '--json']))).toBe('sse42');
      const emulated = demoText(emulate('Nehalem', demoArgs));
      const nativeRun = demoText(sh(cli, demoArgs, { cwd: app, env: cleanEnv({ MINIMONKEY_CPU_VARIANT: 'sse42' }) }));
      expect(emulated).toBe(nativeRun);
    }, 15 * 60 * 1000);

    onQemu('without SSE4.2 (qemu64) it loads the baseline x64 variant and answers as that variant does natively; encoded images are UNSUPPORTED_CPU', async () => {
      expect(variantOf(emulate('qemu64', ['runtime', '--json']))).toBe('x64');
      // sharp's libvips binary itself needs SSE4.2, so the check is an ask about raw pixels; an
      // encoded image is a typed error there (sharp is never loaded), not a SIGILL.
      const pair = await tinyPair('q8_0', 4);
      const png = path.join(work, 'red.png');
      await (await import('sharp')).default({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).png().toFile(png);
      const args = [path.join(__dirname, 'helpers', 'raw-pixel-ask.js'), path.join(installed, 'dist', 'lib', 'index.js'), pair.model, pair.mmproj, png];
      const run = (r: { status: number | null; stdout: string; stderr: string }) => {
        if (r.status !== 0) throw new Error(`raw-pixel ask failed (${r.status}): ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split('\n').pop()!) as { tokens: string; encoded: string };
      };
      const emulated = run(sh(qemu, ['-cpu', 'qemu64', process.execPath, ...args], { cwd: app, env: cleanEnv() }));
      const nativeRun = run(sh(process.execPath, args, { cwd: app, env: cleanEnv({ MINIMONKEY_CPU_VARIANT: 'x64' }) }));
      expect(emulated.tokens).toBe(nativeRun.tokens);
      expect(emulated.tokens.length).toBeGreaterThan(0);
      expect([emulated.encoded, nativeRun.encoded]).toEqual(['UNSUPPORTED_CPU', 'decoded']);
    }, 15 * 60 * 1000);

    onQemu('a variant the CPU cannot run, forced with MINIMONKEY_CPU_VARIANT, is a typed error, not a SIGILL', () => {
      const r = emulate('Nehalem', ['runtime', '--json'], { MINIMONKEY_CPU_VARIANT: 'haswell' });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('[UNSUPPORTED_CPU]');
      expect(r.stderr).toContain('MINIMONKEY_CPU_VARIANT=haswell');
      expect(r.stderr).toMatch(/the ones this CPU runs: .*sse42/);
    });

    onQemu('with AVX2 and FMA (qemu\'s max CPU) it loads a variant that uses AVX2', () => {
      const r = emulate('max', ['runtime', '--json']);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).cpu.features).toMatchObject({ AVX2: '1' });
    });
  });
});
