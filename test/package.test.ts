// The package as users get it. `npm run prebuild` makes one addon per x86-64 level; `npm pack`
// packs them; the tarball, installed into an empty folder with nothing but the registry, must run
// `minimonkey demo` without compiling anything, on the best level this CPU has. On an x86-64 CPU
// without AVX2 it must pick the SSE4.2 build rather than die with SIGILL: qemu-user's CPU models
// (Nehalem: SSE4.2, no AVX; qemu64: not even SSE4.2) stand in for such machines.
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bestCpuLevel, detectCpuFeatures } from '../lib/addon-loader';
import { tempDir } from './helpers/models';

const root = path.join(__dirname, '..');
const x64Linux = process.platform === 'linux' && process.arch === 'x64';
const onX64Linux = x64Linux ? it : it.skip;
const qemu = 'qemu-x86_64';

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

  it('the tarball holds the compiled JS, declarations, sources for a rebuild and the prebuilt binaries', () => {
    expect(files).toEqual(expect.arrayContaining([
      'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/main.js', 'native/cpu-levels.json',
      'CMakeLists.txt', 'scripts/install.mjs', 'scripts/build-native.mjs', 'scripts/check-addon.js',
    ]));
    const binaries = files.filter((f) => f.startsWith('prebuilds/')).sort();
    if (x64Linux) {
      expect(binaries).toEqual([
        'prebuilds/linux-x64/cpu-features.node',
        'prebuilds/linux-x64/minimonkey.x86-64-v2.glibc.napi.node',
        'prebuilds/linux-x64/minimonkey.x86-64-v3.glibc.napi.node',
      ]);
    }
    // Never third-party sources, build folders or tests.
    expect(files.filter((f) => /^(deps|build|node_modules|test)\//.test(f))).toEqual([]);
  });

  it('installing it compiled nothing, and left no build folder', () => {
    expect(fs.existsSync(compileLog) ? fs.readFileSync(compileLog, 'utf8') : '').toBe('');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'deps'))).toBe(false);
  });

  it('`minimonkey demo` runs there, on the prebuilt binary of the best level this CPU has', () => {
    const info = JSON.parse(mustRun(cli, ['runtime', '--json'], { cwd: app, env: cleanEnv() }));
    expect(info.prebuilt).toBe(true);
    expect(path.dirname(info.addonPath)).toBe(path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`));
    if (x64Linux) expect(info.cpuLevel).toBe(bestCpuLevel(detectCpuFeatures()));
    const demo = JSON.parse(mustRun(cli, ['demo', '--json', '--threads', '2'], { cwd: app, env: cleanEnv() }));
    expect(demo.result.tokens.generated).toBeGreaterThan(0);
    expect(demo.scm.detailKept).toBe(demo.scm.detailTokens / 2);
  });

  onX64Linux('each binary is stripped and exports only the N-API entry points', () => {
    for (const f of files.filter((p) => p.endsWith('.node'))) {
      const file = path.join(installed, f);
      const exported = mustRun('nm', ['-D', '--defined-only', file]).trim().split('\n').map((l) => l.trim().split(/\s+/).pop()).sort();
      expect(exported).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
      expect(sh('nm', [file]).stderr).toContain('no symbols'); // no static symbol table left
    }
  });

  onX64Linux('the x86-64-v2 build holds no AVX instruction at all; the v3 build does use AVX2 and FMA', () => {
    const vexInstructions = (level: string): number => {
      const asm = mustRun('objdump', ['-d', '--no-show-raw-insn', path.join(installed, 'prebuilds', 'linux-x64', `minimonkey.${level}.glibc.napi.node`)]);
      return asm.split('\n').filter((l) => /\tv[a-z0-9]+\s.*%[xyz]mm/.test(l)).length;
    };
    expect(vexInstructions('x86-64-v2')).toBe(0);
    expect(vexInstructions('x86-64-v3')).toBeGreaterThan(1000);
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

    onQemu('without AVX (Nehalem) it loads the SSE4.2 build and runs the whole demo, as that build does natively', () => {
      const info = emulate('Nehalem', ['runtime', '--json']);
      expect(info.status).toBe(0);
      expect(JSON.parse(info.stdout)).toMatchObject({ cpuLevel: 'x86-64-v2', prebuilt: true });
      const args = ['demo', '--json', '--threads', '2'];
      const emulated = emulate('Nehalem', args);
      expect(emulated.status).toBe(0);
      const v2 = path.join(installed, 'prebuilds', 'linux-x64', 'minimonkey.x86-64-v2.glibc.napi.node');
      const nativeRun = JSON.parse(mustRun(cli, args, { cwd: app, env: cleanEnv({ MINIMONKEY_ADDON_PATH: v2 }) }));
      expect(JSON.parse(emulated.stdout).result.text).toBe(nativeRun.result.text);
    }, 10 * 60 * 1000);

    onQemu('the control: the AVX2 build forced onto that CPU is killed by SIGILL', () => {
      const v3 = path.join(installed, 'prebuilds', 'linux-x64', 'minimonkey.x86-64-v3.glibc.napi.node');
      const r = emulate('Nehalem', ['runtime', '--json'], { MINIMONKEY_ADDON_PATH: v3 });
      expect(r.status === 132 || r.signal === 'SIGILL' || /signal 4 \(Illegal instruction\)/.test(r.stderr)).toBe(true);
    });

    onQemu('with AVX2 and FMA (qemu\'s max CPU) it loads the x86-64-v3 build', () => {
      const r = emulate('max', ['runtime', '--json']);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).cpuLevel).toBe('x86-64-v3');
    });

    onQemu('without SSE4.2 (qemu64) it refuses with UNSUPPORTED_CPU, says what is missing and how to fix it, and does not crash', () => {
      const r = emulate('qemu64', ['runtime', '--json']);
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('[UNSUPPORTED_CPU]');
      expect(r.stderr).toMatch(/lacks .*sse4_2.*\(read from cpuid\)/);
      expect(r.stderr).toContain('npm rebuild minimonkey --build-from-source');
    });
  });
});
