// A file name from a hub's listing, checked before it names anything on disk. The check is the
// same on every OS: a name that is harmless here (`..\..\x`, `C:x`, `\\server\x`) escapes
// MINIMONKEY_HOME on Windows, and a NUL makes Node throw an untyped error.
import { DownloadError } from '../errors';

/** Why `p` cannot be a relative path inside a folder on any supported OS, or undefined when it can. */
export function badRepoPath(p: unknown): string | undefined {
  if (typeof p !== 'string' || p === '') return 'not a name';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return 'a control character (NUL included)';
  if (p.includes('\\')) return 'a backslash (a separator on Windows)';
  if (p.includes(':')) return "a ':' (a drive letter or a stream on Windows)";
  if (p.startsWith('/')) return 'an absolute path';
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) return "an empty, '.' or '..' part";
  return undefined;
}

export function checkRepoPath(repo: string, p: unknown): string {
  const why = badRepoPath(p);
  if (why) throw new DownloadError(`${repo}: the hub listed a bad file name ${JSON.stringify(p)}: ${why}`);
  return p as string;
}
