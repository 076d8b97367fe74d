// The results file: one JSON object per line, appended as pages finish. Each line goes out in one
// write(2) on a file opened O_APPEND, so lines from one writer never interleave and a crash can at
// worst tear the last line; reading tolerates that line, and opening for append cuts it off first
// (else the next line would be glued to it). A key may appear more than once (a failure, then a
// success on a re-run): the last record of a key is its result.
import fs from 'node:fs';
import { checkOutputFile } from '../util/file-kind';
import { ioError } from '../util/io-error';

export interface JsonlRecord {
  key: string;
  error?: unknown;
}

/** The records of `file` (none when it does not exist), a torn or unparsable last line skipped. */
export function readJsonl(file: string): JsonlRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(e, 'read', file);
  }
  const out: JsonlRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const rec = JSON.parse(line) as JsonlRecord;
      if (rec && typeof rec.key === 'string') out.push(rec);
    } catch (e) {
      // Only a last line without its newline can be torn (a crash mid-write); a bad whole line is not ours to skip.
      if (i !== lines.length - 1) {
        throw ioError(new Error(`line ${i + 1} is not JSON (${(e as Error).message})`), 'read', file);
      }
    }
  });
  return out;
}

/** Keys with a successful result in `file`. */
export function doneKeys(file: string): Set<string> {
  const last = new Map<string, JsonlRecord>();
  for (const r of readJsonl(file)) last.set(r.key, r);
  return new Set([...last].filter(([, r]) => r.error === undefined || r.error === null).map(([k]) => k));
}

/** Appends whole lines to a results file. */
export class JsonlWriter {
  private fd: number;

  constructor(readonly file: string) {
    checkOutputFile(file);
    try {
      this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
      cutTornLine(this.fd);
    } catch (e) {
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

/** Truncates a last line that has no newline (a write cut short by a crash). */
function cutTornLine(fd: number): void {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return;
  const chunk = Buffer.alloc(Math.min(size, 1 << 16));
  let end = size;
  // Walk back to the last '\n'.
  while (end > 0) {
    const from = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - from, from);
    const at = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (at >= 0) {
      const keep = from + at + 1;
      if (keep !== size) fs.ftruncateSync(fd, keep);
      return;
    }
    end = from;
  }
  fs.ftruncateSync(fd, 0);
}
