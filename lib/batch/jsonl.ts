// The results file: one JSON object per line, appended as pages finish. Each line goes out in one
// write(2) on a file opened O_APPEND, so lines from one writer never interleave and a crash can at
// worst tear the last line; reading tolerates that line, and opening for append cuts it off first
// (else the next line would be glued to it). A key may appear more than once (a failure, then a
// success on a re-run): the last record of a key is its result.
//
// Only what a batch wrote is ever cut: a last line without its newline is taken for torn only when
// it begins as our records do ({"key":"), and every other line must be a record; a file that is
// something else (a user's notes.txt given as --out by mistake) is refused with the file and line,
// never truncated. The file is opened with O_NOFOLLOW: a symbolic link at --out is replaced by a
// new results file (its target is never read, cut or appended to), as every output link is.
import fs from 'node:fs';
import { IoError } from '../errors';
import { FILE_LIMITS } from '../limits';
import { checkOutputFile, kindOf } from '../util/file-kind';
import { ioError } from '../util/io-error';

export interface JsonlRecord {
  key: string;
  error?: unknown;
}

/** How every record line begins (JSON.stringify of an object whose first property is `key`). */
const RECORD_START = '{"key":"';

const NOFOLLOW = fs.constants.O_NOFOLLOW;

/** Opens `file` for reading without following a link; undefined when nothing (or a link) is there. */
function openResults(file: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return undefined; // a link is replaced, not read
    throw ioError(e, 'read the results file', file);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new IoError(`cannot use ${file} as the results file: it is a ${kindOf(st)}, not a regular file`);
  }
  if (st.size > FILE_LIMITS.inputBytes.default) {
    fs.closeSync(fd);
    throw new IoError(`cannot use ${file} as the results file: it is ${st.size} bytes, over the limit of ${FILE_LIMITS.inputBytes.default}`);
  }
  return fd;
}

function notRecords(file: string, line: number, why: string): IoError {
  return new IoError(`${file} line ${line} is not JSON (${why}): it is not a batch results file; give --out a new file or one a batch wrote`);
}

/** The records of `text` (the content of `file`); a torn last record is skipped, anything else not a record throws. */
function parseRecords(file: string, text: string): JsonlRecord[] {
  const out: JsonlRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const last = i === lines.length - 1; // no newline after it
    let rec: JsonlRecord;
    try {
      rec = JSON.parse(line) as JsonlRecord;
    } catch (e) {
      // Only a last line without its newline, begun as our records are, can be a torn write.
      if (last && line.startsWith(RECORD_START)) return;
      throw notRecords(file, i + 1, (e as Error).message);
    }
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec) || typeof rec.key !== 'string') throw notRecords(file, i + 1, 'a JSON value without a string "key"');
    out.push(rec);
  });
  return out;
}

/** The records of `file` (none when it does not exist or is a link), a torn last line skipped. */
export function readJsonl(file: string): JsonlRecord[] {
  const fd = openResults(file);
  if (fd === undefined) return [];
  try {
    return parseRecords(file, fs.readFileSync(fd, 'utf8'));
  } catch (e) {
    throw ioError(e, 'read the results file', file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Keys with a successful result in `file`. */
export function doneKeys(file: string): Set<string> {
  const last = new Map<string, JsonlRecord>();
  for (const r of readJsonl(file)) last.set(r.key, r);
  return new Set([...last].filter(([, r]) => r.error === undefined || r.error === null).map(([k]) => k));
}

/** Opens the results file for appending, never through a link: a link there is replaced by a new file. */
function openForAppend(file: string): number {
  const flags = fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NONBLOCK | NOFOLLOW;
  try {
    return fs.openSync(file, flags, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOOP' || !fs.lstatSync(file).isSymbolicLink()) throw e;
  }
  fs.unlinkSync(file); // the link, not its target
  return fs.openSync(file, flags | fs.constants.O_EXCL, 0o644);
}

/** Appends whole lines to a results file. */
export class JsonlWriter {
  private fd: number;

  constructor(readonly file: string) {
    checkOutputFile(file);
    try {
      this.fd = openForAppend(file);
    } catch (e) {
      throw ioError(e, 'write', file);
    }
    try {
      const st = fs.fstatSync(this.fd);
      if (!st.isFile()) throw new IoError(`cannot write ${file}: it is a ${kindOf(st)}, not a regular file`);
      cutTornLine(this.fd, file);
    } catch (e) {
      fs.closeSync(this.fd);
      throw ioError(e, 'write', file);
    }
  }

  /** Writes `rec` as one line, in one write; synchronous, so it is on disk when the next page starts. */
  append<R extends JsonlRecord>(rec: R): void {
    const line = Buffer.from(`${JSON.stringify(rec)}\n`);
    try {
      const n = fs.writeSync(this.fd, line);
      if (n !== line.length) throw new Error(`short write (${n} of ${line.length} bytes)`);
    } catch (e) {
      throw ioError(e, 'write', this.file);
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Truncates a last line that has no newline (a write cut short by a crash), and only that: the
 * line must begin as a record does and not parse (a whole record without its newline gets one).
 * Anything else there is refused (notRecords), so no byte a batch did not write is cut.
 */
function cutTornLine(fd: number, file: string): void {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return;
  const chunk = Buffer.alloc(Math.min(size, 1 << 16));
  let end = size;
  let keep = 0;
  // Walk back to the last '\n'.
  while (end > 0) {
    const from = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - from, from);
    const at = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (at >= 0) {
      keep = from + at + 1;
      break;
    }
    end = from;
  }
  if (keep === size) return;
  const tail = Buffer.alloc(size - keep);
  fs.readSync(fd, tail, 0, tail.length, keep);
  const text = tail.toString('utf8');
  const line = keep === 0 ? 1 : countLines(fd, keep) + 1;
  if (!text.startsWith(RECORD_START)) throw notRecords(file, line, 'its last line has no newline and is not a record a batch wrote');
  try {
    JSON.parse(text);
  } catch {
    fs.ftruncateSync(fd, keep); // a torn record: cut off, its page is done again
    return;
  }
  fs.writeSync(fd, '\n'); // a whole record that lost only its newline: kept
}

/** Newlines in the first `end` bytes of `fd`. */
function countLines(fd: number, end: number): number {
  const chunk = Buffer.alloc(1 << 16);
  let n = 0;
  for (let pos = 0; pos < end; ) {
    const got = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - pos), pos);
    if (got === 0) break;
    for (let i = 0; i < got; i++) if (chunk[i] === 0x0a) n++;
    pos += got;
  }
  return n;
}
