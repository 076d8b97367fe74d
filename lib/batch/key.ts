// Which work a result belongs to: the page's content (a hash of the file's bytes, so a renamed or
// moved file is still done and an edited one is not), its page number, the question or schema,
// and every option that changes the answer. A re-run skips the pages whose key has a result.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ioError } from '../util/io-error';

/** sha256 of a file's bytes, streamed (a PDF may be large; the event loop stays free). */
export async function fileHash(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  } catch (e) {
    throw ioError(e, 'read', file);
  }
  return h.digest('hex');
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
