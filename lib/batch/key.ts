// Which work a result belongs to: the page's content (a hash of the file's bytes, so a renamed or
// moved file is still done and an edited one is not), its page number, the question or schema,
// and every option that changes the answer. A re-run skips the pages whose key has a result.
import crypto from 'node:crypto';
import { readInputFile } from '../util/file-kind';
import type { BatchTask } from './batch-task';

/** sha256 of bytes, as hex. */
export function bytesHash(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/**
 * sha256 of a file's bytes, read through the one input reader (file-kind.ts: a FIFO, a device or
 * a /proc file is refused with IO before any read, the size is bounded, the signal is seen between
 * chunks).
 */
export async function fileHash(file: string, signal?: AbortSignal): Promise<string> {
  return bytesHash(await readInputFile(file, 'batch input', { signal }));
}

/** JSON with object keys sorted, so equal options always hash alike. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The result key of one page: 32 hex digits of sha256(content, page, task). */
export function resultKey(contentHash: string, page: number | null, task: unknown): string {
  return crypto.createHash('sha256').update(`${contentHash}\0${page ?? 0}\0${canonicalJson(task)}`).digest('hex').slice(0, 32);
}

/** The key of a page of a file: its content hash, page, and the task (the password is not part of the answer). */
export function pageKey(hash: string, page: number | null, task: BatchTask): string {
  const { question, json, crop = 'default', maxTokens, temperature, seed, scm = false, dpi } = task;
  return resultKey(hash, page, { question, json, crop, maxTokens, temperature, seed, scm, dpi });
}
