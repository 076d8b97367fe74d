// A file name from a hub's listing, checked before it names anything on disk. The check is the
// same on every OS: a name that is harmless here (`..\..\x`, `C:x`, `\\server\x`, `CON`, `.. `)
// escapes MINIMONKEY_HOME or names a device on Windows, and a NUL makes Node throw an untyped error.
import { DownloadError } from '../errors';

/** Bytes of one path part: Linux's NAME_MAX (Windows and macOS allow 255 UTF-16 units, never fewer bytes). */
export const MAX_PART_BYTES = 255;

/**
 * Windows' device names: a part whose name before its first dot is one of these (any case, any
 * extension, `con.txt` and `Aux` alike) opens the device instead of a file. The superscript digits
 * count too (Windows treats COM¹ as COM1).
 */
const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|(com|lpt)[1-9\u00b9\u00b2\u00b3])(\.|$)/i;

/** Why one part of a path cannot be a file or folder name on every supported OS, or undefined. */
function badPart(s: string): string | undefined {
  if (s === '' || s === '.' || s === '..') return "an empty, '.' or '..' part";
  // Windows drops a trailing dot or space: `.. ` would be `..`, and `a.` the same file as `a`.
  if (/[. ]$/.test(s)) return `a part ending in a dot or a space (${JSON.stringify(s)}; Windows drops it)`;
  if (RESERVED.test(s)) return `a Windows device name (${JSON.stringify(s)})`;
  if (/[<>"|?*]/.test(s)) return `a character Windows does not allow in a name (${JSON.stringify(s)})`;
  if (Buffer.byteLength(s, 'utf8') > MAX_PART_BYTES) return `a part longer than ${MAX_PART_BYTES} bytes`;
  return undefined;
}

/** Why `p` cannot be a relative path inside a folder on any supported OS, or undefined when it can. */
export function badRepoPath(p: unknown): string | undefined {
  if (typeof p !== 'string' || p === '') return 'not a name';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return 'a control character (NUL included)';
  if (p.includes('\\')) return 'a backslash (a separator on Windows)';
  if (p.includes(':')) return "a ':' (a drive letter or a stream on Windows)";
  if (p.startsWith('/')) return 'an absolute path';
  for (const s of p.split('/')) {
    const why = badPart(s);
    if (why) return why;
  }
  return undefined;
}

export function checkRepoPath(repo: string, p: unknown): string {
  const why = badRepoPath(p);
  if (why) throw new DownloadError(`${repo}: the hub listed a bad file name ${JSON.stringify(p)}: ${why}`);
  return p as string;
}
