// The package as users get it. `npm run prebuild` writes this platform's package folder
// (@minimonkey/<platform>-<arch>: the addon, ggml's and libllama's libraries, one CPU backend module per
// variant); `npm pack` packs it and the main package, which ships no binaries and lists the platform
// packages in optionalDependencies. Both tarballs, installed into an empty folder with nothing but the
// registry and every compiler replaced by a failing stub, must run `minimonkey demo` without compiling
// anything, on the best CPU variant for this CPU: with npm, with `npm install --ignore-scripts` and with
// pnpm 10 (which runs no dependency's install script). A CPU without AVX2 must get a variant it runs
// rather than die with SIGILL: qemu-user's CPU models (Nehalem: SSE4.2, no AVX; qemu64: not even
// SSE4.2) stand in for such machines.
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, tinyPair } from './helpers/models';
import { cleanEnv, compileAttempts, mustRun, newApp as installApp, noCompilers as noCompilerEnv, pack, packMain, root, sh, stageMain } from './helpers/packages';
import { bytesOf, installedPackages, readmeInstallSize, readmePackageSizes, treeBytes, within10 } from './helpers/readme-sizes';

const x64Linux = process.platform === 'linux' && process.arch === 'x64';
const onX64Linux = x64Linux ? it : it.skip;
const qemu = 'qemu-x86_64';
const platformTag = `${process.platform}-${process.arch}`;
const platformPackage = `@minimonkey/${platformTag}`;
// Every x86-64 variant of ggml's CPU backend (GGML_CPU_ALL_VARIANTS in the pinned ggml/src/CMakeLists.txt).
const X64_VARIANTS = ['x64', 'sse42', 'sandybridge', 'ivybridge', 'piledriver', 'haswell', 'skylakex', 'cannonlake',
  'cascadelake', 'icelake', 'cooperlake', 'zen4', 'alderlake', 'sapphirerapids'];
type Variant = { name: string; score: number };

/** pnpm 10 from npm, kept in test/.cache (CI installs nothing else for it). */
function pnpm10(): string {
  const prefix = path.join(root, 'test', '.cache', 'pnpm10');
  const bin = path.join(prefix, 'node_modules', '.bin', 'pnpm');
  if (!fs.existsSync(bin)) mustRun('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, 'pnpm@10'], { env: cleanEnv() });
  return bin;
}

describe('the packed package, installed from its tarballs', () => {
  const work = fs.mkdtempSync(path.join(tempDir(), 'package-'));
  const staging = path.join(work, 'staging');
  const platformDir = path.join(work, 'platform', platformTag);
  const app = path.join(work, 'app');
  const fakeBin = path.join(work, 'no-compilers');
  const compileLog = path.join(work, 'compile-attempts.log');
  const installed = path.join(app, 'node_modules', 'minimonkey');
  const installedPlatform = path.join(app, 'node_modules', ...platformPackage.split('/'));
  const cli = path.join(app, 'node_modules', '.bin', 'minimonkey');
  let main = { tarball: '', files: [] as string[] };
  let platform = { tarball: '', files: [] as string[] };
  let env: NodeJS.ProcessEnv = {};
  const newApp = (dir: string, install: [string, string[]]) => installApp(dir, install, env);

  beforeAll(() => {
    // The main package and this platform's package folder, made by the real script.
    main = packMain(staging, work);
    mustRun(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--out', platformDir], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    platform = pack(platformDir, work);
    env = noCompilerEnv(fakeBin, compileLog);
    newApp(app, ['npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', main.tarball, platform.tarball]]);
  }, 30 * 60 * 1000);

  it('the main tarball holds the compiled JS, declarations and sources for a rebuild, no binaries; it lists every platform package', () => {
    expect(main.files).toEqual(expect.arrayContaining([
      'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js',
      'CMakeLists.txt', 'scripts/install.mjs', 'scripts/build-native.mjs', 'scripts/check-addon.js',
    ]));
    expect(main.files.filter((f) => /\.(node|so|dll|dylib)$/.test(f))).toEqual([]);
    // Never third-party sources, build folders, prebuilt sets or tests.
    expect(main.files.filter((f) => /^(deps|build|node_modules|test|prebuilds)\//.test(f))).toEqual([]);
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    const tags = ['linux-x64', 'linux-arm64', 'win32-x64', 'darwin-arm64', 'darwin-x64'];
    expect(manifest.optionalDependencies).toEqual(Object.fromEntries(tags.map((t) => [`@minimonkey/${t}`, manifest.version])));
  });

  it('the platform tarball holds the prebuilt set and a manifest that only this platform installs', () => {
    const binaries = platform.files.filter((f) => f !== 'package.json').sort();
    if (x64Linux) {
      // The addon, ggml's and libllama's libraries under private names, and every x86-64 CPU variant ggml defines.
      expect(binaries).toEqual([
        ...X64_VARIANTS.map((v) => `libggml-cpu-${v}.so`).sort(),
        'libmm-ggml-base.so', 'libmm-ggml.so', 'libmm-llama.so', 'minimonkey.node',
      ].sort());
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(installedPlatform, 'package.json'), 'utf8'));
    const own = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: platformPackage, version: own.version, os: [process.platform], cpu: [process.arch] });
    if (process.platform === 'linux') expect(manifest.libc).toEqual(['glibc']);
    expect(manifest.scripts).toBeUndefined();
    // Under 30 MB to download.
    expect(fs.statSync(platform.tarball).size).toBeLessThan(30e6);
  });

  it('installing it compiled nothing, and left no build folder', () => {
    expect(compileAttempts(compileLog)).toBe('');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'deps'))).toBe(false);
  });

  it('the install and the platform package are within 10% of the sizes README states', () => {
    // Measured before any test writes into the app: the plain `npm install` of the two tarballs.
    const stated = readmeInstallSize();
    const actual = { bytes: treeBytes(path.join(app, 'node_modules')), packages: installedPackages(app) };
    expect([within10(actual.bytes, stated.bytes), within10(actual.packages, stated.packages), actual]).toEqual([true, true, actual]);
    const row = readmePackageSizes(platformTag);
    const sizes = { download: fs.statSync(platform.tarball).size, installed: bytesOf(platformDir, platform.files) };
    expect([within10(sizes.download, row.download), within10(sizes.installed, row.installed), sizes]).toEqual([true, true, sizes]);
  });

  it('a build from source without cmake-js and node-addon-api stops in one line naming them; after that command it gets past the check', () => {
    // README's two source-build commands, run as written in an app that has the two tarballs.
    const dir = path.join(work, 'app-from-source');
    const log = path.join(work, 'from-source-attempts.log');
    const stubs = noCompilerEnv(path.join(work, 'no-compilers-from-source'), log);
    installApp(dir, ['npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', main.tarball, platform.tarball]], stubs);
    // A llama.cpp tarball that is not there stops the build at its first stage, once past the check.
    const rebuild = () => sh('npm', ['rebuild', 'minimonkey', '--build-from-source'], { cwd: dir, env: { ...stubs, MINIMONKEY_LLAMA_TARBALL: path.join(work, 'no-such-llama.tgz') } });
    let r = rebuild();
    expect(r.status).not.toBe(0);
    const said = r.stderr.split('\n').filter((l) => l.includes('minimonkey: building from source'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('needs the npm packages cmake-js and node-addon-api, which a plain install leaves out (missing: cmake-js, node-addon-api): ' +
      'run `npm install cmake-js@8 node-addon-api@8` in your project, then `npm rebuild minimonkey`');
    expect(r.stderr).not.toContain('[build] 1/3');
    expect(fs.existsSync(path.join(dir, 'node_modules', 'minimonkey', 'deps'))).toBe(false);
    mustRun('npm', ['install', 'cmake-js@8', 'node-addon-api@8'], { cwd: dir, env: stubs });
    r = rebuild();
    expect(r.stderr).not.toContain('minimonkey: building from source needs');
    expect(r.stderr).toContain('[build] 1/3 the pinned llama.cpp source');
    expect(r.status).not.toBe(0);
    expect(compileAttempts(log)).toBe('');
  }, 10 * 60 * 1000);

  it('`minimonkey demo` runs there, on the platform package, with the best CPU variant for this CPU', () => {
    const info = JSON.parse(mustRun(cli, ['runtime', '--json'], { cwd: app, env: cleanEnv() }));
    expect(info).toMatchObject({ prebuilt: true, addonSource: 'package', addonPackage: { name: platformPackage, version: info.version } });
    expect(path.dirname(info.addonPath)).toBe(installedPlatform);
    const best = [...info.cpu.variants].sort((a: Variant, b: Variant) => b.score - a.score)[0];
    expect(best.score).toBeGreaterThan(0);
    expect(info.cpu).toMatchObject({ variant: best.name, chosenBy: 'score' });
    const demo = JSON.parse(mustRun(cli, ['demo', '--json', '--threads', '2'], { cwd: app, env: cleanEnv() }));
    expect(demo.result.tokens.generated).toBeGreaterThan(0);
    expect(demo.scm.detailKept).toBe(demo.scm.detailTokens / 2);
  });

  onX64Linux('the set is stripped; the addon exports only the N-API entry points, the libraries no libstdc++', () => {
    const dir = installedPlatform;
    const exported = (f: string) => mustRun('nm', ['-D', '--defined-only', path.join(dir, f)]).trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!);
    expect(exported('minimonkey.node').sort()).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
    for (const f of fs.readdirSync(dir).filter((f) => f !== 'package.json')) {
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
    const dir = installedPlatform;
    const vexInstructions = (file: string): number => {
      const asm = mustRun('objdump', ['-d', '--no-show-raw-insn', path.join(dir, file)], { maxBuffer: 1 << 30 });
      return asm.split('\n').filter((l) => /\tv[a-z0-9]+\s.*%[xyz]mm/.test(l)).length;
    };
    for (const f of ['minimonkey.node', 'libmm-ggml-base.so', 'libmm-ggml.so', 'libmm-llama.so', 'libggml-cpu-x64.so', 'libggml-cpu-sse42.so']) {
      expect([f, vexInstructions(f)]).toEqual([f, 0]);
    }
    expect(vexInstructions('libggml-cpu-haswell.so')).toBeGreaterThan(1000);
  });

  /** `runtime --json` and `demo` in an installed app: where the addon came from, and a demo that answered. */
  const runsThere = (dir: string) => {
    const bin = path.join(dir, 'node_modules', '.bin', 'minimonkey');
    const info = JSON.parse(mustRun(bin, ['runtime', '--json'], { cwd: dir, env: cleanEnv() }));
    const demo = JSON.parse(mustRun(bin, ['demo', '--json', '--threads', '2'], { cwd: dir, env: cleanEnv() }));
    return { info, generated: demo.result.tokens.generated as number };
  };

  it('`npm install --ignore-scripts` of the two tarballs needs no install script: demo runs on the platform package', () => {
    const dir = path.join(work, 'app-ignore-scripts');
    newApp(dir, ['npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', main.tarball, platform.tarball]]);
    const { info, generated } = runsThere(dir);
    expect(info).toMatchObject({ addonSource: 'package', addonPackage: { name: platformPackage } });
    expect(fs.realpathSync(path.dirname(info.addonPath))).toBe(fs.realpathSync(path.join(dir, 'node_modules', ...platformPackage.split('/'))));
    expect(generated).toBeGreaterThan(0);
    expect(compileAttempts(compileLog)).toBe('');
  }, 10 * 60 * 1000);

  it('pnpm 10 (it runs no dependency\'s install script) installs the two tarballs and demo runs on the platform package', () => {
    const dir = path.join(work, 'app-pnpm');
    newApp(dir, [pnpm10(), ['add', '--reporter', 'silent', main.tarball, platform.tarball]]);
    const { info, generated } = runsThere(dir);
    expect(info).toMatchObject({ addonSource: 'package', addonPackage: { name: platformPackage } });
    // pnpm's store layout: the package lives under node_modules/.pnpm and is reached through a link.
    expect(fs.realpathSync(info.addonPath)).toContain(`${path.sep}.pnpm${path.sep}`);
    expect(generated).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dir, 'node_modules', 'minimonkey', 'build'))).toBe(false);
    expect(compileAttempts(compileLog)).toBe('');
  }, 10 * 60 * 1000);

  it('packing the main package is allowed once this platform\'s set of this version is in prebuilds/ (the release job\'s case)', () => {
    // The real set from the real script, where `npm run prebuild` puts it; the prepack check run as npm runs it.
    const copy = path.join(work, 'staging-with-set');
    stageMain(copy);
    fs.cpSync(platformDir, path.join(copy, 'prebuilds', platformTag), { recursive: true });
    const r = sh('node', ['scripts/check-pack.mjs'], { cwd: copy, env: cleanEnv() });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a platform package of another version is refused with NATIVE_LOAD, naming the version to install', () => {
    // The same set under another version number: what a stale lockfile or a hand-picked version gives.
    const other = path.join(work, 'platform-other');
    fs.cpSync(platformDir, other, { recursive: true });
    const manifest = JSON.parse(fs.readFileSync(path.join(other, 'package.json'), 'utf8'));
    const own = manifest.version;
    fs.writeFileSync(path.join(other, 'package.json'), JSON.stringify({ ...manifest, version: '0.0.1-other' }));
    const otherTarball = pack(other, path.join(work, 'platform-other-tgz')).tarball;
    const dir = path.join(work, 'app-other-version');
    newApp(dir, ['npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', main.tarball, otherTarball]]);
    const r = sh(path.join(dir, 'node_modules', '.bin', 'minimonkey'), ['runtime', '--json'], { cwd: dir, env: cleanEnv() });
    expect(r.signal).toBeNull();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('[NATIVE_LOAD]');
    expect(r.stderr).toContain(`${platformPackage}@0.0.1-other`);
    expect(r.stderr).toContain(`install ${platformPackage}@${own}`);
  }, 10 * 60 * 1000);

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

describe('packing the main package without its prebuilt set', () => {
  // A copy of the package folder, never the checkout's prebuilds/ (shared with other checkouts).
  const staging = path.join(fs.mkdtempSync(path.join(tempDir(), 'prepack-')), 'staging');
  const dest = path.join(path.dirname(staging), 'tarballs');
  stageMain(staging);
  const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  const npmPack = () => sh('npm', ['pack', '--pack-destination', dest], { cwd: staging, env: cleanEnv() });
  const tarballs = () => (fs.existsSync(dest) ? fs.readdirSync(dest) : []);

  it('is refused with one line naming what is missing, and writes no tarball', () => {
    fs.mkdirSync(dest, { recursive: true });
    const r = npmPack();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`minimonkey: not packing minimonkey@${version}: prebuilds/${platformTag}/package.json is missing`);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('minimonkey:'))).toHaveLength(1);
    expect(tarballs()).toEqual([]);
  });

  it('is refused when the set there is of another version, or lacks a file its manifest lists', () => {
    const set = path.join(staging, 'prebuilds', platformTag);
    fs.mkdirSync(set, { recursive: true });
    const manifest = { name: platformPackage, version: '0.0.1-other', files: ['minimonkey.node', 'libmm-llama.so'] };
    fs.writeFileSync(path.join(set, 'package.json'), JSON.stringify(manifest));
    fs.writeFileSync(path.join(set, 'minimonkey.node'), '');
    let r = npmPack();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`prebuilds/${platformTag} holds ${platformPackage}@0.0.1-other, not ${platformPackage}@${version}`);
    fs.writeFileSync(path.join(set, 'package.json'), JSON.stringify({ ...manifest, version }));
    r = npmPack();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`prebuilds/${platformTag} lacks libmm-llama.so`);
    expect(tarballs()).toEqual([]);
  });
});
