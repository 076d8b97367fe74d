// The install figures README states, read back so the tests that pack and install the real tarballs
// can hold them to what they measure (within 10%: a figure is rounded, and the bytes move a little
// with every change of the native code).
import fs from 'node:fs';
import path from 'node:path';

const readme = () => fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The "download / installed" cell of a platform's row in README's install table, in bytes. */
export function readmePackageSizes(tag: string): { download: number; installed: number } {
  const row = readme().split('\n').find((l) => l.startsWith(`| ${tag} `));
  const m = row?.match(/\| ([\d.]+) MB \/ ([\d.]+) MB \|/);
  if (!m) throw new Error(`README's install table has no "download / installed" figures for ${tag}`);
  return { download: Number(m[1]) * 1e6, installed: Number(m[2]) * 1e6 };
}

/** README's "a plain install ... is N MB of node_modules in P packages" (linux-x64), as bytes and a count. */
export function readmeInstallSize(): { bytes: number; packages: number } {
  const m = readme().match(/is \*\*([\d.]+) MB of node_modules in (\d+) packages\*\*/);
  if (!m) throw new Error('README states no "N MB of node_modules in P packages" for a plain install');
  return { bytes: Number(m[1]) * 1e6, packages: Number(m[2]) };
}

/** Sum of the sizes of `files` under `dir` (a package's unpacked size). */
export function bytesOf(dir: string, files: string[]): number {
  return files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

/** Every file under `dir`, in bytes (apparent sizes, as npm's unpackedSize counts them). */
export function treeBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += treeBytes(p);
    else if (e.isFile()) n += fs.statSync(p).size;
  }
  return n;
}

/** Packages npm installed, from the app's lock file: its entries that are on disk (other platforms' optional ones are listed but skipped). */
export function installedPackages(app: string): number {
  const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return Object.keys(lock.packages).filter((k) => k && fs.existsSync(path.join(app, k))).length;
}

/** `actual` within 10% of README's `stated`. */
export const within10 = (actual: number, stated: number): boolean => Math.abs(actual - stated) <= 0.1 * stated;
