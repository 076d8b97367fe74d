// What a path names, checked before a command reads or writes it. A FIFO or a character device
// blocks a read forever (or, for a write, feeds a reader that may never come); a socket cannot be
// opened at all; the kernel's pseudo file systems (/proc, /sys, ...) report "regular" files whose
// content is generated on read, may never end, and whose writes change kernel state; creating a
// folder under /proc makes Node's recursive mkdir loop forever. So such paths are refused up front.
//
// The refusal is an IoError (code IO), not INVALID_ARGUMENT: the same path can also fail later in
// the syscall itself (EISDIR, ENXIO) and must get the same code however early it is caught; IO is
// the code for "the file system object at this path cannot be used", INVALID_ARGUMENT is kept for
// option values.
import fs from 'node:fs';
import path from 'node:path';
import { IoError } from '../errors';
import { FILE_LIMITS } from '../limits';
import { throwIfAborted } from './abort';
import { ioError } from './io-error';

export type FileKind = 'file' | 'folder' | 'FIFO' | 'socket' | 'character device' | 'block device' | 'other';

export function kindOf(st: fs.Stats): FileKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'folder';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'other';
}

/** statfs(2) magic numbers of the kernel's pseudo file systems (linux/magic.h). */
const PSEUDO_FS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x62656570, 'configfs'],
  [0xde5e81e4, 'efivarfs'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
]);

/** The path itself when it exists, else its nearest existing ancestor, with links resolved. */
function nearestExisting(p: string): string {
  let cur = path.resolve(p);
  for (;;) {
    try {
      return fs.realpathSync(cur);
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return cur;
      cur = up;
    }
  }
}

/**
 * The pseudo file system `p` lies on ('proc', 'sysfs', ...), or undefined. By mount point and by
 * statfs, so a procfs mounted elsewhere (/host/proc in a container) is caught too.
 */
export function pseudoFileSystem(p: string): string | undefined {
  const real = nearestExisting(p);
  for (const [root, name] of [['/proc', 'proc'], ['/sys', 'sysfs']] as const) {
    if (real === root || real.startsWith(`${root}/`)) return name;
  }
  try {
    return PSEUDO_FS.get(fs.statfsSync(real).type);
  } catch {
    return undefined;
  }
}

function refusePseudo(p: string, what: string): void {
  const fsName = pseudoFileSystem(p);
  if (fsName) throw new IoError(`${what} ${p} is on the kernel's ${fsName} file system, not a real file; refused`);
}

/**
 * Refuses an input path that names something other than a regular file (a folder, FIFO, device,
 * socket) or lies on a pseudo file system. A missing path passes: the reader reports it in its own
 * terms. `what` names the input in the message ("GGUF file", "model").
 */
export function checkInputFile(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError(e, `read the ${what}`, file);
  }
  const kind = kindOf(st);
  if (kind !== 'file') throw new IoError(`${what} ${file} is a ${kind}, not a regular file`);
  refusePseudo(file, what);
}

/**
 * True when `file` is a regular file, false when nothing is there; throws an IoError for anything
 * else. For the optional files of a checkpoint folder (added_tokens.json, tokenizer.json, ...).
 */
export function isInputFile(file: string, what = 'input'): boolean {
  try {
    fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(e, `read the ${what}`, file);
  }
  checkInputFile(file, what);
  return true;
}

/** Where an open descriptor really points, on systems that say (Linux's /proc/self/fd). */
function pathOfFd(fd: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Checks what an open descriptor is: a regular file not on a pseudo file system, at most
 * `maxBytes` long. Checked on the descriptor, so a link swapped after the path's check (a FIFO,
 * /dev/zero, /proc/self/environ planted behind a symlink) is still refused. Closes `fd` on refusal.
 */
function checkOpened(fd: number, file: string, what: string, maxBytes: number): fs.Stats {
  try {
    const st = fs.fstatSync(fd);
    const kind = kindOf(st);
    if (kind !== 'file') throw new IoError(`${what} ${file} is a ${kind}, not a regular file`);
    const real = pathOfFd(fd);
    if (real !== undefined && real.startsWith('/')) {
      const fsName = pseudoFileSystem(real);
      if (fsName) throw new IoError(`${what} ${file} is on the kernel's ${fsName} file system (${real}), not a real file; refused`);
    }
    if (st.size > maxBytes) throw new IoError(`${what} ${file} is ${st.size} bytes, over the limit of ${maxBytes}; refused before reading`);
    return st;
  } catch (e) {
    fs.closeSync(fd);
    throw ioError(e, `read the ${what}`, file);
  }
}

const INPUT_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

/** Reading options: `maxBytes` bounds the read (default FILE_LIMITS.inputBytes). */
export interface ReadInputOptions {
  maxBytes?: number;
  signal?: AbortSignal;
}

function tooLong(file: string, what: string, maxBytes: number): IoError {
  return new IoError(`${what} ${file} grew past the limit of ${maxBytes} bytes while it was read; refused`);
}

/**
 * The bytes of a regular input file: the one way a user-named file is read. Opened non-blocking
 * and checked on the open descriptor (checkOpened), then read up to `maxBytes` (a file that grows
 * while read is cut off there and refused, not followed forever).
 */
export function readInputFileSync(file: string, what = 'input', o: ReadInputOptions = {}): Buffer {
  const maxBytes = o.maxBytes ?? FILE_LIMITS.inputBytes.default;
  const fd = openInputSync(file, what, maxBytes);
  try {
    const st = fs.fstatSync(fd);
    const buf = Buffer.allocUnsafe(Math.min(st.size + 1, maxBytes + 1));
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > maxBytes) throw tooLong(file, what, maxBytes);
      if (n === buf.length) return Buffer.concat([buf, readRestSync(fd, file, what, maxBytes - n)]);
    }
    return buf.subarray(0, n);
  } catch (e) {
    throw ioError(e, `read the ${what}`, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** What a file that grew since its fstat holds past the first read, bounded by `left` bytes. */
function readRestSync(fd: number, file: string, what: string, left: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    const got = fs.readSync(fd, chunk, 0, chunk.length, null);
    if (got === 0) return Buffer.concat(chunks);
    total += got;
    if (total > left) throw tooLong(file, what, total);
    chunks.push(Buffer.from(chunk.subarray(0, got)));
  }
}

/**
 * readInputFileSync without blocking the event loop: the same checks, then chunked reads that see
 * the abort signal between chunks (Ctrl-C ends a batch hashing a large file at once).
 */
export async function readInputFile(file: string, what = 'input', o: ReadInputOptions = {}): Promise<Buffer> {
  const maxBytes = o.maxBytes ?? FILE_LIMITS.inputBytes.default;
  throwIfAborted(o.signal);
  const fd = openInputSync(file, what, maxBytes);
  try {
    const chunks: Buffer[] = [];
    let n = 0;
    for (;;) {
      throwIfAborted(o.signal);
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - n));
      const got = await new Promise<number>((resolve, reject) => fs.read(fd, chunk, 0, chunk.length, null, (e, r) => (e ? reject(e) : resolve(r))));
      if (got === 0) break;
      n += got;
      if (n > maxBytes) throw tooLong(file, what, maxBytes);
      chunks.push(got === chunk.length ? chunk : chunk.subarray(0, got));
    }
    return Buffer.concat(chunks, n);
  } catch (e) {
    throw ioError(e, `read the ${what}`, file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A read-only descriptor of a regular input file (see readInputFileSync), at most `maxBytes` long;
 * the caller closes it.
 */
export function openInputSync(file: string, what = 'input', maxBytes: number = Number.MAX_SAFE_INTEGER): number {
  refusePseudo(file, what);
  let fd: number;
  try {
    fd = fs.openSync(file, INPUT_FLAGS);
  } catch (e) {
    throw ioError(e, `open the ${what}`, file);
  }
  checkOpened(fd, file, what, maxBytes);
  return fd;
}

/**
 * Refuses an output file path that cannot take a regular file: a folder, a FIFO, a device, a
 * socket, or a place on a pseudo file system. A symbolic link is fine: it is replaced, never
 * followed (see safe-write.ts). Also says when the folder it goes in does not exist.
 */
export function checkOutputFile(file: string): void {
  refusePseudo(file, 'output');
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, 'write', file);
  }
  if (st && !st.isSymbolicLink() && kindOf(st) !== 'file') throw new IoError(`cannot write ${file}: it is a ${kindOf(st)}, not a regular file`);
  const dir = path.dirname(path.resolve(file));
  let dst: fs.Stats;
  try {
    dst = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new IoError(`cannot write ${file}: the folder ${dir} does not exist`, { cause: e });
    throw ioError(e, 'write', file);
  }
  if (!dst.isDirectory()) throw new IoError(`cannot write ${file}: ${dir} is not a folder`);
}

/**
 * Makes sure `dir` is a folder outputs can go in, creating it (and its parents) when missing.
 * Refuses pseudo file systems before mkdir, which loops forever under /proc.
 */
export function ensureOutputDir(dir: string): void {
  refusePseudo(dir, 'output folder');
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, 'use the output folder', dir);
  }
  if (st) {
    if (!st.isDirectory()) throw new IoError(`cannot use the output folder ${dir}: it is a ${kindOf(st)}, not a folder`);
    return;
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw ioError(e, 'create the output folder', dir);
  }
}
