// Node's file-system errors (EISDIR, EACCES, ENOSPC, ...) as typed IoErrors whose message names
// the path and says in words what went wrong, so no raw `EISDIR: illegal operation` reaches a user.
import { IoError, MiniMonkeyError } from '../errors';

const REASONS: Record<string, string> = {
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EEXIST: 'something is already there',
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  EFBIG: 'the file size limit was reached',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  EIO: 'an input/output error',
  EXDEV: 'the temp file and the destination are on different file systems',
  EBUSY: 'the file is busy',
  ETXTBSY: 'the file is busy',
};

/**
 * `e` as an IoError for `action` ("write", "read", "create the folder") on `file`. Typed errors
 * pass through unchanged; anything that is not a file-system error is returned as is.
 */
export function ioError(e: unknown, action: string, file: string): unknown {
  if (e instanceof MiniMonkeyError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return e;
  const why = REASONS[code] ?? (e as Error).message;
  return new IoError(`cannot ${action} ${file}: ${why} (${code})`, { cause: e });
}

const ACTIONS: Record<string, string> = { open: 'open', read: 'read', write: 'write', mkdir: 'create the folder', rename: 'write', stat: 'read', scandir: 'read the folder' };

/**
 * A file-system error that escaped its caller, as an IoError named from the error's own path and
 * syscall; anything else is returned as is. The last line of defence, for the CLI.
 */
export function asIoError(e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof MiniMonkeyError || typeof err?.path !== 'string' || typeof err.syscall !== 'string') return e;
  return ioError(e, ACTIONS[err.syscall] ?? err.syscall, err.path);
}
