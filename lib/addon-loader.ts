// Finds and loads the native addon: MINIMONKEY_ADDON_PATH, then a prebuilt binary from
// prebuilds/<platform>-<arch>/, then a local source build in build/Release. On x86-64 the prebuilds
// come in feature levels (native/cpu-levels.json) and the best one this CPU can run is chosen
// before anything is loaded: an AVX2 instruction on a CPU without AVX2 is a SIGILL that kills the
// process, which no try/catch can stop. A failure says why and what to do (sharp's messages are
// the model).
import fs from 'node:fs';
import path from 'node:path';
import { NativeLoadError, UnsupportedCpuError } from './errors';

/** The package root (holds package.json, prebuilds/ and build/), from lib/ or dist/lib/. */
export const packageRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
})();

export interface CpuLevel {
  name: string;
  /** CPU flags it needs, by Linux /proc/cpuinfo names. */
  flags: string[];
}

/** The x86-64 levels the addon is built for, best first. */
export const cpuLevels: CpuLevel[] = (
  JSON.parse(fs.readFileSync(path.join(packageRoot, 'native', 'cpu-levels.json'), 'utf8')) as { levels: CpuLevel[] }
).levels;

/** Electron: a file unpacked from an asar archive (asarUnpack) lies beside it, in app.asar.unpacked. */
export function outsideAsar(file: string): string {
  const marker = `${path.sep}app.asar${path.sep}`;
  if (!file.includes(marker)) return file;
  const unpacked = file.replace(marker, `${path.sep}app.asar.unpacked${path.sep}`);
  return fs.existsSync(unpacked) ? unpacked : file;
}

const prebuildDir = (): string => outsideAsar(path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`));
const buildDir = (): string => outsideAsar(path.join(packageRoot, 'build', 'Release'));

/** Where this CPU's features came from, for messages and runtimeInfo. */
export type CpuFeatureSource = 'cpuid' | '/proc/cpuinfo' | 'sysctl' | 'unknown';

export interface CpuFeatures {
  flags: Set<string>;
  source: CpuFeatureSource;
}

/**
 * This x86-64 CPU's features. First from the CPUID probe (cpu-features.node, base x86-64 code that
 * loads anywhere, and right under emulators and hypervisors that mask features), else from the OS.
 */
export function detectCpuFeatures(): CpuFeatures {
  for (const probe of [path.join(prebuildDir(), 'cpu-features.node'), path.join(buildDir(), 'cpu-features.node')]) {
    if (!fs.existsSync(probe)) continue;
    try {
      const found = (require(probe) as { x86Features: Record<string, boolean> }).x86Features;
      return { flags: new Set(Object.keys(found).filter((k) => found[k])), source: 'cpuid' };
    } catch {
      // another platform's probe, or a damaged file: fall back to what the OS says
    }
  }
  try {
    if (process.platform === 'linux') {
      const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
      if (line) return { flags: new Set(line.split(':')[1].trim().split(/\s+/)), source: '/proc/cpuinfo' };
    } else if (process.platform === 'darwin') {
      const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
      const out = execFileSync('sysctl', ['-n', 'machdep.cpu.features', 'machdep.cpu.leaf7_features'], { encoding: 'utf8' });
      const names = out.toLowerCase().split(/\s+/).map((f) => f.replace('avx1.0', 'avx').replace('sse4.', 'sse4_'));
      return { flags: new Set(names), source: 'sysctl' };
    }
  } catch {
    // fall through
  }
  return { flags: new Set(), source: 'unknown' };
}

/** The flags of `level` that the CPU lacks ([] when it can run it). */
export function missingFlags(level: CpuLevel, flags: Set<string>): string[] {
  return level.flags.filter((f) => !flags.has(f));
}

/** The best level a CPU with these features can run, or undefined if it lacks even the lowest prebuilt one. */
export function bestCpuLevel(features: CpuFeatures, available: string[] = cpuLevels.map((l) => l.name)): string | undefined {
  // Features we cannot read: take the lowest level offered, which nearly every x86-64 CPU runs.
  if (features.source === 'unknown') return available.length ? cpuLevels.filter((l) => available.includes(l.name)).pop()?.name : undefined;
  return cpuLevels.find((l) => available.includes(l.name) && missingFlags(l, features.flags).length === 0)?.name;
}

function libc(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

export interface Prebuilt {
  file: string;
  /** The x86-64 level it was built for, from its name (minimonkey.x86-64-v3.glibc.napi.node). */
  level?: string;
}

/** The prebuilt addons for this platform, arch and libc (node-gyp-build's tags: napi, glibc/musl). */
export function prebuiltAddons(): Prebuilt[] {
  const dir = prebuildDir();
  if (!fs.existsSync(dir)) return [];
  const mine = libc();
  const out: Prebuilt[] = [];
  for (const file of fs.readdirSync(dir).sort()) {
    const tags = file.split('.');
    if (tags.pop() !== 'node' || !tags.includes('napi')) continue;
    const fileLibc = tags.find((t) => t === 'glibc' || t === 'musl');
    if (fileLibc && fileLibc !== mine) continue;
    out.push({ file: path.join(dir, file), level: tags.find((t) => cpuLevels.some((l) => l.name === t)) });
  }
  return out;
}

export interface AddonChoice {
  /** Files to try, in order. */
  candidates: string[];
  /** Binaries left out because this CPU cannot run them, with why. */
  skipped: string[];
}

/** The x86-64 level a source build was made for (build-native.mjs writes it beside the addon). */
function sourceBuildLevel(): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(buildDir(), 'build-info.json'), 'utf8')) as { cpuLevel?: string }).cpuLevel;
  } catch {
    return undefined;
  }
}

/**
 * Where the addon may be, in the order tried: MINIMONKEY_ADDON_PATH (taken as is), the prebuilt
 * binary of the best level this CPU runs (or the one unleveled prebuild), then a local source build.
 * A binary whose level needs flags this CPU lacks is left out, with the reason in `skipped`.
 */
export function chooseAddon(features: CpuFeatures = detectCpuFeatures()): AddonChoice {
  const candidates: string[] = [];
  const skipped: string[] = [];
  const lacks = (levelName: string, what: string): boolean => {
    const level = cpuLevels.find((l) => l.name === levelName);
    if (!level || features.source === 'unknown') return false;
    const missing = missingFlags(level, features.flags);
    if (missing.length) skipped.push(`${what} is built for ${levelName}, and this CPU lacks ${missing.join(', ')} (read from ${features.source})`);
    return missing.length > 0;
  };
  if (process.env.MINIMONKEY_ADDON_PATH) candidates.push(path.resolve(process.env.MINIMONKEY_ADDON_PATH));
  const prebuilt = prebuiltAddons();
  const leveled = prebuilt.filter((p) => p.level);
  if (leveled.length > 0) {
    const best = bestCpuLevel(features, leveled.map((p) => p.level!));
    if (best) candidates.push(...leveled.filter((p) => p.level === best).map((p) => p.file));
    else lacks(cpuLevels.filter((l) => leveled.some((p) => p.level === l.name)).pop()!.name, 'the lowest prebuilt binary');
  }
  candidates.push(...prebuilt.filter((p) => !p.level).map((p) => p.file));
  const level = sourceBuildLevel();
  if (!level || !lacks(level, `the source build in ${buildDir()}`)) candidates.push(path.join(buildDir(), 'minimonkey.node'));
  return { candidates: candidates.filter((f) => fs.existsSync(f)), skipped };
}

const rebuildHint =
  'Build it from source for this machine with `npm rebuild minimonkey --build-from-source` (needs g++ or clang, ' +
  'cmake and git; the build targets this CPU). See README, Troubleshooting.';

/** Loads the first candidate that loads; a typed error that says why and what to do otherwise. */
export function loadAddon<T>(): { addon: T; path: string } {
  const choice = chooseAddon();
  const where = `${process.platform}-${process.arch}, Node ${process.versions.node}, N-API ${process.versions.napi}`;
  if (choice.candidates.length === 0) {
    if (choice.skipped.length) {
      throw new UnsupportedCpuError(
        `minimonkey: no binary here can run on this CPU: ${choice.skipped.join('; ')}. Loading one would crash the process, ` +
          `so none was loaded. ${rebuildHint}`,
      );
    }
    throw new NativeLoadError(
      `minimonkey: no native binary for ${where}. No prebuilt binary matched in ${prebuildDir()} and there is no local ` +
        `build in ${buildDir()}. ${rebuildHint}`,
    );
  }
  const failures: string[] = [];
  for (const file of choice.candidates) {
    try {
      return { addon: require(file) as T, path: file };
    } catch (e) {
      failures.push(`${file}: ${(e as Error).message}`);
    }
  }
  throw new NativeLoadError(
    `minimonkey: the native binary failed to load (${where}):\n  ${failures.join('\n  ')}\n` +
      `If it was built for another platform, libc or Node, or a file is damaged, ${rebuildHint[0].toLowerCase()}${rebuildHint.slice(1)}`,
  );
}
