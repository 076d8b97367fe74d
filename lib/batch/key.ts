// Which work a result belongs to: the page's content (a hash of the file's bytes, so a renamed or
// moved file is still done and an edited one is not), its page number, the question or schema,
// and every option that changes the answer. A re-run skips the pages whose key has a result.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ioError } from '../util/io-error';

/** sha256 of a file's bytes, read in chunks (a PDF may be large). */
export function fileHash(file: string): string {
  const h = crypto.createHash('sha256');
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw ioError(e, 'read', file);
  }
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
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
