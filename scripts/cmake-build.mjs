// Shared pieces of the native builds: build-native.mjs (the addon for this machine), prebuild.mjs
// (the addon as shipped), build-sanitized.mjs and build-tools.mjs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

// CCACHE_BASEDIR: cache hits independent of where the checkout lives.
export function run(cmd, args, env = {}) {
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, CCACHE_BASEDIR: root, ...env } });
}

/** This machine's platform package tag: <platform>-<arch>, with -musl on a musl Linux (@minimonkey/<tag>). */
export function hostPlatformTag() {
  const musl = process.platform === 'linux' && !process.report.getReport().header.glibcVersionRuntime;
  return `${process.platform}-${process.arch}${musl ? '-musl' : ''}`;
}

/** Parallel compile jobs: MINIMONKEY_JOBS, else one per core. */
export const jobs = String(process.env.MINIMONKEY_JOBS || Math.max(1, os.availableParallelism?.() ?? os.cpus().length));

/** Unpacks the pinned llama.cpp into deps/ unless it is there already. */
export function fetchLlama() {
  run(process.execPath, [path.join(root, 'scripts', 'fetch-llama.mjs')]);
}

/**
 * The x86-64 level of a static build (MINIMONKEY_BACKEND_DL=OFF: the sanitizer and fuzz builds, which
 * run only where they are built): MINIMONKEY_CPU if set, else the best level this CPU has.
 * The shipped addon needs none: ggml picks its CPU variant at run time.
 */
export function staticCpuLevel() {
  if (process.env.MINIMONKEY_CPU) return process.env.MINIMONKEY_CPU;
  if (process.arch !== 'x64' || process.platform !== 'linux') return undefined;
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    const flags = new Set(line.split(':')[1].trim().split(/\s+/));
    if (['avx', 'avx2', 'fma', 'f16c', 'bmi2'].every((f) => flags.has(f))) return 'x86-64-v3';
    if (['sse4_2', 'popcnt'].every((f) => flags.has(f))) return 'x86-64-v2';
    return 'x86-64';
  } catch {
    return undefined;
  }
}

/**
 * Configures and builds with cmake-js (Node-API mode, from package.json binary.napi_versions: the
 * headers come from node-api-headers, nothing is downloaded) into `outDir`; returns the folder that
 * holds the addon: <outDir>/bin with its libraries and CPU modules (bin/Release with Visual Studio), or
 * <outDir>/Release in a static build.
 */
export function cmakeBuild({ outDir, defines = {} }) {
  // One line per stage, so a long source build (npm shows it with --foreground-scripts) is never silent.
  const t0 = Date.now();
  const stage = (n, what) => process.stderr.write(`[build] ${n}/3 ${what} (${Math.round((Date.now() - t0) / 1000)} s so far)\n`);
  stage(1, 'the pinned llama.cpp source');
  fetchLlama();
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const common = ['--out', outDir, '--log-level', 'warn', ...Object.entries(defines).map(([k, v]) => `--CD${k}=${v}`)];
  // Configured every time (seconds): a build folder made by an older layout keeps stale cache entries.
  stage(2, `configure ${outDir}`);
  run(process.execPath, [cmakeJs, 'configure', ...common]);
  stage(3, `compile with ${jobs} jobs (a first build compiles ggml's CPU backend once per CPU variant: 20-40 minutes on 2 cores; ccache makes rebuilds quick)`);
  run(process.execPath, [cmakeJs, 'build', ...common, '--parallel', jobs]);
  process.stderr.write(`[build] done in ${Math.round((Date.now() - t0) / 1000)} s\n`);
  // Visual Studio (cmake-js's generator on Windows) is multi-config: it writes into <dir>/Release.
  const candidates = ['bin', path.join('bin', 'Release'), 'Release'].map((d) => path.join(root, outDir, d));
  return candidates.find((d) => fs.existsSync(path.join(d, 'minimonkey.node'))) ?? candidates[2];
}

/** The files of one addon build: the addon, ggml's and libllama's libraries, the backend modules. */
export function addonFiles(dir) {
  return fs.readdirSync(dir).filter((f) => f === 'minimonkey.node' || /^(lib)?(mm-|ggml-).*\.(so|dylib|dll)$/.test(f)).sort();
}
