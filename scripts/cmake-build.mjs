// One cmake-js build of the addon (and the CPU probe) at one x86-64 level, shared by
// build-native.mjs (the source build for this machine) and prebuild.mjs (one build per level);
// build-tools.mjs uses its helpers for the plain-cmake tools build.
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

/** Parallel compile jobs: MINIMONKEY_JOBS, else one per core. */
export const jobs = String(process.env.MINIMONKEY_JOBS || Math.max(1, os.availableParallelism?.() ?? os.cpus().length));

/** Unpacks the pinned llama.cpp into deps/ unless it is there already. */
export function fetchLlama() {
  run(process.execPath, [path.join(root, 'scripts', 'fetch-llama.mjs')]);
}

/** The x86-64 levels we build, best first, each with the /proc/cpuinfo flags it needs. */
export const cpuLevels = JSON.parse(fs.readFileSync(path.join(root, 'native', 'cpu-levels.json'), 'utf8')).levels;

/**
 * The level a source build on this machine uses: MINIMONKEY_CPU if set, else the best level whose
 * flags this CPU has (x86-64 Linux), else x86-64-v3 elsewhere on x86-64 (CMake's default).
 */
export function machineCpuLevel() {
  if (process.env.MINIMONKEY_CPU) return process.env.MINIMONKEY_CPU;
  if (process.arch !== 'x64' || process.platform !== 'linux') return undefined;
  let flags;
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    flags = new Set(line.split(':')[1].trim().split(/\s+/));
  } catch {
    return undefined;
  }
  return cpuLevels.find((level) => level.flags.every((f) => flags.has(f))).name;
}

/** Fetches llama.cpp if needed and builds into `outDir` (relative to the root); returns cmake's Release folder. */
export function cmakeBuild({ cpu, outDir }) {
  fetchLlama();
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const env = {};
  // Build against the running Node's own headers when it ships them, so no download is needed.
  const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join(nodePrefix, 'include', 'node', 'node_api.h'))) {
    env.npm_config_nodedir = nodePrefix;
  }
  const args = [cmakeJs, 'build', '--out', outDir, '--parallel', jobs, '--log-level', 'warn'];
  if (cpu) args.push(`--CDMINIMONKEY_CPU=${cpu}`);
  process.stderr.write(`[build] ${outDir}${cpu ? ` (${cpu})` : ''}\n`);
  run(process.execPath, args, env);
  return path.join(root, outDir, 'Release');
}
