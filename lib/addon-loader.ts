// Finds and loads the native addon: MINIMONKEY_ADDON_PATH, else the prebuilt set in
// prebuilds/<platform>-<arch>[-musl]/ or a local source build in build/Release, whichever is newer.
// The addon and ggml's libraries are base-ISA code that loads on any CPU of the architecture; the
// CPU-specific code is ggml's CPU backend, one module per variant beside them, and the addon picks
// the variant at run time (native/core/cpu_backend.cpp). A failure says why and what to do (sharp's
// messages are the model).
import fs from 'node:fs';
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

function libcSuffix(): string {
  if (process.platform !== 'linux') return '';
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? '' : '-musl';
}

/** The folder of this platform's prebuilt set: the addon, ggml's libraries and its CPU modules. */
export const prebuildDir = (): string =>
  outsideAsar(path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}${libcSuffix()}`));
export const buildDir = (): string => outsideAsar(path.join(packageRoot, 'build', 'Release'));

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

/**
 * The addons to try, in order: MINIMONKEY_ADDON_PATH (taken as is), then the prebuilt and the source
 * build, the newer first. A source build made after the package was installed is what the user just
 * built (a fix, another llama.cpp); nothing is deleted to prefer it.
 */
export function addonCandidates(dirs: { prebuilt: string; built: string } = { prebuilt: prebuildDir(), built: buildDir() }): string[] {
  const out: string[] = [];
  if (process.env.MINIMONKEY_ADDON_PATH) out.push(path.resolve(process.env.MINIMONKEY_ADDON_PATH));
  const prebuilt = path.join(dirs.prebuilt, 'minimonkey.node');
  const built = path.join(dirs.built, 'minimonkey.node');
  const builtAt = fs.existsSync(built) ? sourceBuildTime(dirs.built) : undefined;
  const prebuiltAt = fs.existsSync(prebuilt) ? fs.statSync(prebuilt).mtimeMs : undefined;
  if (builtAt !== undefined && (prebuiltAt === undefined || builtAt > prebuiltAt)) out.push(built, prebuilt);
  else out.push(prebuilt, built);
  return out.filter((f, i) => fs.existsSync(f) && out.indexOf(f) === i);
}

const rebuildHint =
  'Build it from source for this machine with `npm rebuild minimonkey --build-from-source` (needs g++ or clang, ' +
  'cmake and git). See README, Troubleshooting.';

/** Loads the first candidate that loads; a typed error that says why and what to do otherwise. */
export function loadAddon<T>(): { addon: T; path: string } {
  const candidates = addonCandidates();
  const where = `${process.platform}-${process.arch}, Node ${process.versions.node}, N-API ${process.versions.napi}`;
  if (candidates.length === 0) {
    throw new NativeLoadError(
      `minimonkey: no native binary for ${where}. There is no prebuilt set in ${prebuildDir()} and no local ` +
        `build in ${buildDir()}. ${rebuildHint}`,
    );
  }
  const failures: string[] = [];
  for (const file of candidates) {
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
