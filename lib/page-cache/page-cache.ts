// Image embeddings on disk, so a page encoded once is not encoded again by the next process (a
// second `minimonkey ask`, a batch re-run, a restarted server), and beside them the KV state of
// the prompt up to the page's image (prompt-prefix.ts), so its prefill is not paid again either.
// One file per entry under
// <MINIMONKEY_HOME>/page-cache/, named by its key (key.ts); written aside and renamed, so no
// reader ever sees a torn entry; bounded by maxBytes, the least recently used going first (an
// entry's mtime is its last use: a hit touches it; atime is often not kept). Nothing here throws
// into a question: a broken entry is a miss with a warning (and is removed), a folder that
// cannot be written is a warning and no cache.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../errors';
import { minimonkeyHome } from '../hub/home';
import { PAGE_CACHE_LIMITS } from '../limits';
import { decodeEntry, decodeStateEntry, encodeEntry, encodeStateEntry } from './entry';
import { TEMP_PREFIX, writeAside } from './write-aside';

export interface PageCacheOptions {
  /** The folder (default <MINIMONKEY_HOME>/page-cache, see minimonkeyHome()). */
  dir?: string;
  /** Bytes of entries kept, least recently used evicted first (default 2 GiB). */
  maxBytes?: number;
}

const ENTRY = /^[0-9a-f]{64}\.mmpc$/;
/** A temporary file this old belongs to a writer that died. */
const STALE_TEMP_MS = 60 * 60 * 1000;
export const WARNING_CODE = 'MINIMONKEY_PAGE_CACHE';

export function defaultPageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(minimonkeyHome(env), 'page-cache');
}

/** The load option checked: a cache, or undefined when off (false or not given). */
export function pageCacheFrom(option: PageCacheOptions | boolean | undefined): PageCache | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return new PageCache(defaultPageCacheDir(), PAGE_CACHE_LIMITS.maxBytes.default);
  if (option === null || typeof option !== 'object') throw new InvalidArgumentError('pageCache must be { dir?, maxBytes? }, true or false');
  const { dir, maxBytes } = option;
  if (dir !== undefined && (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0'))) {
    throw new InvalidArgumentError('pageCache.dir must be a folder path');
  }
  const r = PAGE_CACHE_LIMITS.maxBytes;
  if (maxBytes !== undefined && !(typeof maxBytes === 'number' && Number.isSafeInteger(maxBytes) && maxBytes >= r.min && maxBytes <= r.max)) {
    throw new InvalidArgumentError(`pageCache.maxBytes must be an integer from ${r.min} to ${r.max}`);
  }
  return new PageCache(path.resolve(dir ?? defaultPageCacheDir()), maxBytes ?? r.default);
}

export class PageCache {
  hits = 0;
  misses = 0;
  writes = 0;
  /** The same counts for the KV states of prompt prefixes (prompt-prefix.ts). */
  readonly states = { hits: 0, misses: 0, writes: 0 };
  /** Set once writing failed for a reason that will not go away (permissions, a file in the way). */
  private broken = false;

  constructor(readonly dir: string, readonly maxBytes: number) {}

  private file(key: string): string {
    return path.join(this.dir, `${key}.mmpc`);
  }

  /** The embeddings stored under `key` (`floats` values), or undefined. */
  async get(key: string, floats: number): Promise<Float32Array | undefined> {
    const r = await this.read(key, (bytes) => {
      const d = decodeEntry(bytes, key, floats);
      return 'bad' in d ? d : { value: d.embeddings };
    }, 'encoding the image again');
    if (r) this.hits++;
    else this.misses++;
    return r;
  }

  /** Stores `embeddings` under `key`, then evicts down to maxBytes. Never throws. */
  async put(key: string, embeddings: Float32Array): Promise<void> {
    if (await this.write(key, encodeEntry(key, embeddings))) this.writes++;
  }

  /** The KV state of a prompt prefix of `positions` positions stored under `key` (prompt-prefix.ts), or undefined. */
  async getState(key: string, positions: number): Promise<Buffer | undefined> {
    const r = await this.read(key, async (bytes) => {
      const d = await decodeStateEntry(bytes, key, positions);
      return 'bad' in d ? d : { value: d.state };
    }, 'prefilling the prompt again');
    if (r) this.states.hits++;
    else this.states.misses++;
    return r;
  }

  /** Stores a prompt prefix's KV state under `key`, then evicts down to maxBytes. Never throws. */
  async putState(key: string, state: Uint8Array, positions: number): Promise<void> {
    if (await this.write(key, await encodeStateEntry(key, state, positions))) this.states.writes++;
  }

  /** An entry that a later reader found unusable (libllama refused it): removed with a warning. */
  async discard(key: string, why: string): Promise<void> {
    const file = this.file(key);
    warn(`ignored and removed ${file}: ${why}`);
    await fs.promises.rm(file, { force: true }).catch(() => {});
  }

  private async read<T>(
    key: string, decode: (bytes: Buffer) => { value: T } | { bad: string } | Promise<{ value: T } | { bad: string }>, instead: string,
  ): Promise<T | undefined> {
    const file = this.file(key);
    let bytes: Buffer;
    try {
      bytes = await fs.promises.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read ${file} (${(e as Error).message}); ${instead}`);
      return undefined;
    }
    const r = await decode(bytes);
    if ('bad' in r) {
      warn(`ignored and removed ${file}: ${r.bad}`);
      await fs.promises.rm(file, { force: true }).catch(() => {});
      return undefined;
    }
    const now = new Date();
    await fs.promises.utimes(file, now, now).catch(() => {}); // last use, for eviction
    return r.value;
  }

  /** Writes an entry aside and evicts; false when it was not stored (too large, or the folder refuses). */
  private async write(key: string, chunks: Buffer[]): Promise<boolean> {
    if (this.broken) return false;
    const size = chunks.reduce((n, c) => n + c.length, 0);
    if (size > this.maxBytes) return false; // it would evict everything, itself included
    try {
      await writeAside(this.file(key), chunks);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Full disk, read-only or forbidden folder: say so once, then run without storing.
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') this.broken = true;
      warn(`cannot store in ${this.dir} (${(e as Error).message})${this.broken ? '; the page cache is off for this model' : ''}`);
      return false;
    }
    await this.evict(key).catch((e: Error) => warn(`eviction in ${this.dir} failed (${e.message})`));
    return true;
  }

  /** Least recently used entries removed until the rest fit maxBytes (`keep` never). */
  private async evict(keep: string): Promise<void> {
    const names = await fs.promises.readdir(this.dir);
    const entries: { file: string; size: number; used: number }[] = [];
    const now = Date.now();
    for (const name of names) {
      const file = path.join(this.dir, name);
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(file);
      } catch {
        continue; // removed by another process meanwhile
      }
      if (name.startsWith(TEMP_PREFIX)) {
        if (now - st.mtimeMs > STALE_TEMP_MS) await fs.promises.rm(file, { force: true }).catch(() => {});
      } else if (ENTRY.test(name) && st.isFile() && name !== `${keep}.mmpc`) {
        entries.push({ file, size: st.size, used: st.mtimeMs });
      } else if (name === `${keep}.mmpc`) {
        entries.push({ file, size: st.size, used: Infinity });
      }
    }
    let total = entries.reduce((n, e) => n + e.size, 0);
    if (total <= this.maxBytes) return;
    entries.sort((a, b) => a.used - b.used);
    for (const e of entries) {
      if (total <= this.maxBytes || e.used === Infinity) break;
      await fs.promises.rm(e.file, { force: true });
      total -= e.size;
    }
  }
}

function warn(message: string): void {
  process.emitWarning(`page cache: ${message}`, { code: WARNING_CODE });
}
