// How every output file is written: into a private temp folder made next to the destination
// (mkdtemp: exclusive, mode 0700, so nobody can plant a link inside it), then renamed over the
// destination. rename(2) replaces what is at the destination, a symbolic link included, and never
// follows it, so an output never lands through a link somewhere else; a reader sees the old file
// or the whole new one, never half of one. On failure or abort the temp folder is removed; the
// temps still open are tracked so a forced exit (a second Ctrl-C) can remove them synchronously.
import fs from 'node:fs';
import path from 'node:path';
import { throwIfAborted } from './abort';
import { checkOutputFile } from './file-kind';
import { ioError } from './io-error';

/** Temp paths that exist now; removed by removeTempsSync on a forced exit. */
const live = new Set<string>();

/** Tracks `p` (a temp file or folder) until the returned function is called. */
export function registerTemp(p: string): () => void {
  live.add(p);
  return () => live.delete(p);
}

/** Removes every tracked temp path, synchronously (safe in a signal handler or an 'exit' listener). */
export function removeTempsSync(): void {
  for (const p of live) {
    try {
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      /* nothing more can be done on the way out */
    }
  }
  live.clear();
}

const TEMP_MARK = '.partial-';

/** The name prefix of the temp folders made by process `pid` for outputs named `base`. */
function tempPrefix(base: string, pid: number): string {
  return `.${base.slice(0, 100)}${TEMP_MARK}${pid}-`; // cut, so a long name stays under NAME_MAX
}

/**
 * Removes the temp folders that process `pid` left in `dir` and its subfolders (one level), for a
 * parent whose child died by a signal before it could clean up (bench's benchmark processes).
 */
export function removeTempsOf(dir: string, pid: number): void {
  const mark = `${TEMP_MARK}${pid}-`;
  const visit = (d: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(d, e.name);
      if (e.name.startsWith('.') && e.name.includes(mark)) fs.rmSync(p, { recursive: true, force: true });
      else if (depth > 0) visit(p, depth - 1);
    }
  };
  visit(dir, 1);
}

/** An output being written: write `tmp`, then commit() puts it at `dest`; discard() drops it. */
export interface PendingOutput {
  readonly dest: string;
  /** Where to write the content (inside a private temp folder beside `dest`). */
  readonly tmp: string;
  /** Renames the finished temp file over `dest` (replacing a link, never following it). */
  commit(): void;
  /** Removes the temp file and its folder; safe to call more than once, and after commit. */
  discard(): void;
}

/** Starts an output at `dest`: checks where it goes (file-kind.ts), makes the private temp folder. */
export function beginOutput(dest: string): PendingOutput {
  checkOutputFile(dest);
  const base = path.basename(dest);
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(path.dirname(dest), tempPrefix(base, process.pid)));
  } catch (e) {
    throw ioError(e, 'write', dest);
  }
  const unregister = registerTemp(dir);
  const tmp = path.join(dir, base);
  let done = false;
  const discard = () => {
    if (done) return;
    done = true;
    fs.rmSync(dir, { recursive: true, force: true });
    unregister();
  };
  return {
    dest,
    tmp,
    commit() {
      if (done) throw new Error(`output ${dest} was already committed or discarded`);
      try {
        const st = fs.lstatSync(tmp);
        if (!st.isFile()) throw new Error(`the temp output ${tmp} is not a regular file`);
        fs.renameSync(tmp, dest);
      } catch (e) {
        discard();
        throw ioError(e, 'write', dest);
      }
      discard();
    },
    discard,
  };
}

/**
 * Writes `dest` through a temp file: `write` fills the temp path (any way it likes: writeFile,
 * GgufWriter.write), then it is renamed over `dest`. Nothing is left behind on error or abort;
 * fs errors become IoErrors naming `dest`.
 */
export async function writeOutput(dest: string, write: (tmp: string) => Promise<void> | void, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const out = beginOutput(dest);
  try {
    await write(out.tmp);
    throwIfAborted(signal);
    out.commit();
  } catch (e) {
    out.discard();
    throw ioError(e, 'write', dest);
  }
}

/** Writes `bytes` to `dest` as writeOutput does (the temp file created exclusively, flag 'wx'). */
export function writeBytes(dest: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  return writeOutput(dest, (tmp) => fs.writeFileSync(tmp, bytes, { flag: 'wx' }), signal);
}
