// Yarn 4 (berry, node-modules linker) installs the package as users get it, from a registry: Yarn
// resolves every optionalDependency of the main package, also the other platforms' ones it will not
// install, so the tarballs alone are not enough (an unpublished platform package is a 404). A real
// registry, verdaccio from npm, runs on 127.0.0.1 for the test and holds the main package and every
// platform package this machine builds (linux-x64, linux-arm64, win32-x64), all packed from the real
// scripts; everything else comes through it from the npm registry. The two macOS packages cannot be
// built here: the app maps those two, and only those, with Yarn's `resolutions` to stand-ins that are a
// manifest alone (name, version, os, cpu), which Yarn resolves and never installs on Linux. Then
// `yarn add minimonkey`, with every compiler a failing stub, must give a package whose `demo` runs on
// @minimonkey/linux-x64, with nothing compiled. The three platform tarballs are also held to README's
// size figures.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './helpers/models';
import { cleanEnv, compileAttempts, mustRun, noCompilers, pack, packMain, root } from './helpers/packages';
import { bytesOf, readmePackageSizes, within10 } from './helpers/readme-sizes';

const x64Linux = process.platform === 'linux' && process.arch === 'x64';
// Pinned: Yarn's defaults move between minors (4.18 added the age gate below); verdaccio 6.10 wants Node 22.
const YARN = '@yarnpkg/cli-dist@4.18.1';
const VERDACCIO = 'verdaccio@6.8.0';
const BUILT_HERE = ['linux-x64', 'linux-arm64', 'win32-x64'];
const MACOS: [string, string][] = [['darwin-arm64', 'arm64'], ['darwin-x64', 'x64']];

/** An npm package's folder under test/.cache, installed once from the npm registry. */
function cachedTool(spec: string, dir: string): string {
  const prefix = path.join(root, 'test', '.cache', dir);
  const name = spec.slice(0, spec.lastIndexOf('@'));
  const folder = path.join(prefix, 'node_modules', ...name.split('/'));
  if (!fs.existsSync(path.join(folder, 'package.json'))) {
    mustRun('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, spec], { env: cleanEnv() });
  }
  return folder;
}

/** A port nothing listens on now, on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function until(what: string, ms: number, ready: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not ready after ${ms} ms`);
}

(x64Linux ? describe : describe.skip)('Yarn 4 (node-modules linker), from a loopback registry holding the packed packages', () => {
  const work = fs.mkdtempSync(path.join(tempDir(), 'yarn-'));
  const app = path.join(work, 'app');
  const compileLog = path.join(work, 'compile-attempts.log');
  const platformPackage = '@minimonkey/linux-x64';
  const tarballs: Record<string, { tarball: string; files: string[]; dir: string }> = {};
  let registry: ChildProcess | undefined;
  let registryLog = '';
  let url = '';
  let yarnOutput = '';
  const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;

  beforeAll(async () => {
    const yarn = path.join(cachedTool(YARN, 'yarn4'), 'bin', 'yarn.js');
    const verdaccio = path.join(cachedTool(VERDACCIO, 'verdaccio6'), 'bin', 'verdaccio');

    // The packages, from the real scripts: the main one, and each platform's set (the cross-built ones
    // come from ~/.cache/minimonkey/prebuilds when these sources were built before).
    const main = packMain(path.join(work, 'staging'), path.join(work, 'tgz'));
    for (const tag of BUILT_HERE) {
      const dir = path.join(work, 'sets', tag);
      const args = tag === 'linux-x64' ? [] : ['--platform', tag];
      mustRun(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), ...args, '--out', dir], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
      tarballs[tag] = { ...pack(dir, path.join(work, 'tgz')), dir };
    }

    // The registry: our packages are published to it (never proxied); the rest it fetches from npm's.
    const port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    const storage = path.join(work, 'registry');
    fs.mkdirSync(storage);
    const own = { access: '$all', publish: '$authenticated' };
    fs.writeFileSync(path.join(storage, 'config.yaml'), JSON.stringify({ // YAML is a superset of JSON
      storage: path.join(storage, 'storage'),
      auth: { htpasswd: { file: path.join(storage, 'htpasswd') } },
      uplinks: { npmjs: { url: 'https://registry.npmjs.org/' } },
      packages: { minimonkey: own, '@minimonkey/*': own, '**': { access: '$all', proxy: 'npmjs' } },
      max_body_size: '100mb',
      log: { type: 'stdout', format: 'pretty', level: 'warn' },
    }));
    registry = spawn(process.execPath, [verdaccio, '--config', path.join(storage, 'config.yaml'), '--listen', `127.0.0.1:${port}`], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    registry.stdout!.on('data', (d) => { registryLog += d; });
    registry.stderr!.on('data', (d) => { registryLog += d; });
    await until(`verdaccio on ${url} (${registryLog})`, 60_000, async () => (await fetch(`${url}-/ping`)).ok);
    const user = await (await fetch(`${url}-/user/org.couchdb.user:ci`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ci', password: 'ci-password-for-loopback' }),
    })).json() as { token: string };
    for (const tarball of [main.tarball, ...BUILT_HERE.map((t) => tarballs[t].tarball)]) {
      mustRun('npm', ['publish', tarball, '--ignore-scripts', '--registry', url, `--//127.0.0.1:${port}/:_authToken=${user.token}`], { env: cleanEnv() });
    }

    // The app: the registry for everything; the macOS stand-ins; Yarn's own cache in the test folder.
    fs.mkdirSync(app, { recursive: true });
    const resolutions: Record<string, string> = {};
    for (const [tag, cpu] of MACOS) {
      const dir = path.join(app, 'stand-ins', tag);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `@minimonkey/${tag}`, version, os: ['darwin'], cpu: [cpu] }));
      resolutions[`@minimonkey/${tag}`] = `portal:./stand-ins/${tag}`; // portal: Yarn reads the manifest's os/cpu
    }
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, resolutions }));
    fs.writeFileSync(path.join(app, 'yarn.lock'), '');
    fs.writeFileSync(path.join(app, '.yarnrc.yml'), JSON.stringify({
      nodeLinker: 'node-modules',
      npmRegistryServer: url.slice(0, -1),
      unsafeHttpWhitelist: ['127.0.0.1'],
      // Yarn 4.18 installs no version younger than a day (npmMinimalAgeGate, 1440 minutes); ours are seconds old.
      npmPreapprovedPackages: ['minimonkey', '@minimonkey/*'],
      enableGlobalCache: false,
      cacheFolder: path.join(work, 'yarn-cache'),
      // Yarn's metadata cache lives in its global folder, keyed without the port: a run after another
      // would fetch tarballs from the earlier run's (dead) registry port.
      globalFolder: path.join(work, 'yarn-global'),
      enableTelemetry: false,
    }));
    const env = noCompilers(path.join(work, 'no-compilers'), compileLog);
    // CI=true would make Yarn refuse to write the new lock file.
    try {
      yarnOutput = mustRun(process.execPath, [yarn, 'add', 'minimonkey'], { cwd: app, env: { ...env, YARN_ENABLE_IMMUTABLE_INSTALLS: 'false' } });
    } catch (e) {
      throw new Error(`${(e as Error).message}\nthe registry said:\n${registryLog}`);
    }
  }, 30 * 60 * 1000);

  afterAll(() => {
    registry?.kill();
  });

  it('`yarn add minimonkey` installs only this platform\'s package, having resolved the others from the registry', () => {
    expect(fs.readdirSync(path.join(app, 'node_modules', '@minimonkey'))).toEqual(['linux-x64']);
    const lock = fs.readFileSync(path.join(app, 'yarn.lock'), 'utf8');
    for (const tag of BUILT_HERE) expect(lock).toContain(`resolution: "@minimonkey/${tag}@npm:`);
    expect(lock).toContain('conditions: os=linux & cpu=arm64 & libc=glibc');
    expect(lock).toContain('conditions: os=win32 & cpu=x64');
    for (const [tag] of MACOS) expect(lock).toContain(`resolution: "@minimonkey/${tag}@portal:./stand-ins/${tag}`);
    expect(lock).toContain(`resolution: "minimonkey@npm:${version}"`);
  });

  it('nothing was compiled, and no install script was needed', () => {
    expect(compileAttempts(compileLog)).toBe('');
    expect(fs.existsSync(path.join(app, 'node_modules', 'minimonkey', 'build'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules', 'minimonkey', 'deps'))).toBe(false);
    // Yarn 4 runs no dependency's build script unless the project allows it.
    expect(yarnOutput).toMatch(/minimonkey@npm:[^\s]* .*lists build scripts, but all build scripts have been disabled/);
  });

  it('`minimonkey demo` runs there, on the platform package', () => {
    const cli = path.join(app, 'node_modules', '.bin', 'minimonkey');
    const info = JSON.parse(mustRun(cli, ['runtime', '--json'], { cwd: app, env: cleanEnv() }));
    expect(info).toMatchObject({ prebuilt: true, addonSource: 'package', addonPackage: { name: platformPackage, version: info.version } });
    expect(path.dirname(info.addonPath)).toBe(path.join(app, 'node_modules', '@minimonkey', 'linux-x64'));
    const demo = JSON.parse(mustRun(cli, ['demo', '--json', '--threads', '2'], { cwd: app, env: cleanEnv() }));
    expect(demo.result.tokens.generated).toBeGreaterThan(0);
  }, 10 * 60 * 1000);

  it('each platform package is within 10% of the download and installed sizes README states for it', () => {
    for (const tag of BUILT_HERE) {
      const stated = readmePackageSizes(tag);
      const { tarball, files, dir } = tarballs[tag];
      const actual = { download: fs.statSync(tarball).size, installed: bytesOf(dir, files) };
      expect([tag, within10(actual.download, stated.download), within10(actual.installed, stated.installed), actual])
        .toEqual([tag, true, true, actual]);
      expect(actual.download).toBeLessThan(30e6);
    }
  });
});
