// Finds and loads the native addon. Where from, in order: MINIMONKEY_ADDON_PATH; the installed platform
// package @minimonkey/<platform>-<arch>[-musl] (an optionalDependency: npm, pnpm and Yarn install only
// the one whose os/cpu/libc match, the way sharp's @img/sharp-<platform> are shipped); a checkout's
// prebuilds/<platform>-<arch>[-musl]/ (`npm run prebuild`); a local source build in build/Release,
// tried before the prebuilt sets when it is newer. The addon and ggml's libraries are base-ISA code that
// loads on any CPU of the architecture; the CPU-specific code is ggml's CPU backend, one module per
// variant beside them, and the addon picks the variant at run time (native/core/cpu_backend.cpp). A
// failure says why and what to do (sharp's messages are the model).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { NativeLoadError } from './errors';

/** The package root (holds package.json, prebuilds/ and build/), from lib/ or dist/lib/. */
export const packageRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
})();

/** Electron: a file unpacked from an asar archive (asarUnpack) lies beside it, in app.asar.unpacked. */
export function outsideAsar(file: string): string {
  const marker = `${path.sep}app.asar${path.sep}`;
  if (!file.includes(marker)) return file;
  const unpacked = file.replace(marker, `${path.sep}app.asar.unpacked${path.sep}`);
  return fs.existsSync(unpacked) ? unpacked : file;
}

export function libcSuffix(): string {
  if (process.platform !== 'linux') return '';
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? '' : '-musl';
}

/** `<platform>-<arch>[-musl]`: the name of this platform's prebuilt set and of its package. */
export const platformTag = (platform: string = process.platform, arch: string = process.arch, libc: string = libcSuffix()): string =>
  `${platform}-${arch}${libc}`;

/** `@minimonkey/<platform>-<arch>[-musl]`: the optional package that holds one platform's prebuilt set. */
export const platformPackageName = (tag: string = platformTag()): string => `@minimonkey/${tag}`;

/**
 * An installed package as Node resolves it from `from` (the main package's folder): its folder
 * (outside an Electron asar) and version, or undefined when it is not installed.
 */
export function installedPackage(name: string, from: string = packageRoot): { dir: string; version: string } | undefined {
  let manifest: string;
  try {
    manifest = createRequire(path.join(from, 'package.json')).resolve(`${name}/package.json`);
  } catch {
    return undefined;
  }
  const { version } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: string };
  return { dir: outsideAsar(path.dirname(manifest)), version: String(version) };
}

/** minimonkey's own version (package.json beside lib/ or dist/). */
export function ownVersion(root: string = packageRoot): string {
  return (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The folder of this platform's prebuilt set in a checkout: the addon, ggml's libraries and its CPU modules. */
export const prebuildDir = (): string => outsideAsar(path.join(packageRoot, 'prebuilds', platformTag()));
export const buildDir = (): string => outsideAsar(path.join(packageRoot, 'build', 'Release'));

/** Where a loaded addon came from (runtimeInfo().addonSource). */
export type AddonSource = 'env' | 'package' | 'prebuilds' | 'build';

export interface AddonCandidate {
  file: string;
  source: AddonSource;
  /** The platform package it is in (source 'package'). */
  package?: { name: string; version: string };
}

/** Where to look; the defaults are this installation's. */
export interface AddonDirs {
  prebuilt: string;
  built: string;
  /** The main package's folder: the platform package is resolved from it and must have its version. */
  main?: string;
  /** The platform package's name (platformPackageName()). */
  packageName?: string;
}

/** When a source build was made (build-native.mjs writes it beside the addon), in ms since the epoch. */
function sourceBuildTime(dir: string): number | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'build-info.json'), 'utf8')) as { builtAt?: string };
    const t = info.builtAt ? Date.parse(info.builtAt) : NaN;
    return Number.isFinite(t) ? t : fs.statSync(path.join(dir, 'minimonkey.node')).mtimeMs;
  } catch {
    return undefined;
  }
}

const defaultDirs = (): AddonDirs => ({ prebuilt: prebuildDir(), built: buildDir(), main: packageRoot, packageName: platformPackageName() });

/**
 * The addons to try, in order, and the platform package refused for its version (a set built from
 * another release of our code and ggml can disagree with this JS on every structure: never loaded).
 * MINIMONKEY_ADDON_PATH (taken as is), then the platform package and the checkout's prebuilds/, then
 * the source build; the source build goes first when it is newer than the first prebuilt set: one made
 * after the package was installed is what the user just built (a fix, another llama.cpp); nothing is
 * deleted to prefer it.
 */
export function findAddons(dirs: AddonDirs = defaultDirs()): { candidates: AddonCandidate[]; refused?: string } {
  const out: AddonCandidate[] = [];
  let refused: string | undefined;
  if (process.env.MINIMONKEY_ADDON_PATH) out.push({ file: path.resolve(process.env.MINIMONKEY_ADDON_PATH), source: 'env' });
  const prebuilt: AddonCandidate[] = [];
  if (dirs.main && dirs.packageName) {
    const pkg = installedPackage(dirs.packageName, dirs.main);
    const want = pkg && ownVersion(dirs.main);
    if (pkg && pkg.version !== want) {
      refused = `${dirs.packageName}@${pkg.version} (in ${pkg.dir}) is not the set for minimonkey ${want}: install ${dirs.packageName}@${want}`;
    } else if (pkg) {
      prebuilt.push({ file: path.join(pkg.dir, 'minimonkey.node'), source: 'package', package: { name: dirs.packageName, version: pkg.version } });
    }
  }
  prebuilt.push({ file: path.join(dirs.prebuilt, 'minimonkey.node'), source: 'prebuilds' });
  const built: AddonCandidate = { file: path.join(dirs.built, 'minimonkey.node'), source: 'build' };
  const present = prebuilt.filter((c) => fs.existsSync(c.file));
  const builtAt = fs.existsSync(built.file) ? sourceBuildTime(dirs.built) : undefined;
  const prebuiltAt = present.length > 0 ? fs.statSync(present[0].file).mtimeMs : undefined;
  if (builtAt !== undefined && (prebuiltAt === undefined || builtAt > prebuiltAt)) out.push(built, ...present);
  else out.push(...present, built);
  const candidates = out.filter((c, i) => fs.existsSync(c.file) && out.findIndex((o) => o.file === c.file) === i);
  return { candidates, refused };
}

/** The addon files to try, in order (findAddons()). */
export function addonCandidates(dirs?: AddonDirs): string[] {
  return findAddons(dirs).candidates.map((c) => c.file);
}

const rebuildHint =
  'Build it from source for this machine with `npm rebuild minimonkey --build-from-source` (needs g++ or clang, ' +
  'cmake and git). See README, Troubleshooting.';

/** Loads the first candidate that loads; a typed error that says why and what to do otherwise. */
export function loadAddon<T>(dirs?: AddonDirs): { addon: T } & AddonCandidate {
  const { candidates, refused } = findAddons(dirs);
  const where = `${process.platform}-${process.arch}, Node ${process.versions.node}, N-API ${process.versions.napi}`;
  const refusedLine = refused ? ` The platform package was refused: ${refused}.` : '';
  if (candidates.length === 0) {
    throw new NativeLoadError(
      `minimonkey: no native binary for ${where}.${refusedLine} There is no platform package ` +
        `${dirs?.packageName ?? platformPackageName()} installed (an optionalDependency: was it left out, e.g. --omit=optional ` +
        `or a lockfile made on another platform?), no prebuilt set in ${dirs?.prebuilt ?? prebuildDir()} and no local ` +
        `build in ${dirs?.built ?? buildDir()}. ${rebuildHint}`,
    );
  }
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return { addon: require(candidate.file) as T, ...candidate };
    } catch (e) {
      failures.push(`${candidate.file}: ${(e as Error).message}`);
    }
  }
  throw new NativeLoadError(
    `minimonkey: the native binary failed to load (${where}):\n  ${failures.join('\n  ')}\n${refused ? `The platform package was refused: ${refused}.\n` : ''}` +
      `If it was built for another platform, libc or Node, or a file is damaged, ${rebuildHint[0].toLowerCase()}${rebuildHint.slice(1)}`,
  );
}
