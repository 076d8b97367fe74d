// `image_url` parts → image bytes. data: URLs always; a local file path (or file: URL) only with
// --allow-files and an http(s) URL only with --allow-urls, since either lets a client make the
// server read what it can reach. Every source is bounded by the image byte limit before decoding,
// and a request's images are counted and sized (data: by length, files by stat) before any is read.
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { badRequest } from './api-error';

export interface ImageSourcePolicy {
  allowFiles: boolean;
  allowUrls: boolean;
  maxBytes: number;
  /** All images of one request together (SERVER_LIMITS.requestImageBytes). */
  maxTotalBytes: number;
}

/** What one request's image reads have left of maxTotalBytes. */
export interface ImageBudget {
  left: number;
}

const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*)(;base64)?,/i;

type Source = { kind: 'data'; payload: string; base64: boolean } | { kind: 'http' } | { kind: 'file'; file: string };

// Where an image_url points, its flags checked; nothing read yet.
function source(url: string, policy: ImageSourcePolicy, param: string): Source {
  const m = DATA_URL.exec(url);
  if (m) return { kind: 'data', payload: url.slice(m[0].length), base64: m[3] !== undefined };
  if (/^https?:\/\//i.test(url)) {
    if (!policy.allowUrls) throw badRequest('http(s) image URLs are off; start the server with --allow-urls, or send a data: URL', param, 'image_url_not_allowed');
    return { kind: 'http' };
  }
  if (/^file:/i.test(url) || url.startsWith('/')) {
    if (!policy.allowFiles) throw badRequest('local image files are off; start the server with --allow-files, or send a data: URL', param, 'image_url_not_allowed');
    if (url.startsWith('/')) return { kind: 'file', file: url };
    try {
      return { kind: 'file', file: fileURLToPath(url) };
    } catch (e) {
      // file://host/... (a remote host), a malformed file: URL
      throw badRequest(`the file: URL cannot name a local file (${(e as Error).message})`, param, 'image_unreadable');
    }
  }
  throw badRequest('image_url.url must be a data: URL (or, when the server allows it, an http(s) URL or an absolute file path)', param);
}

/**
 * The bytes the request's images will need, as far as they are known before reading (a data: URL
 * by its length, a file by its size; an http(s) URL counts only as it is read): checked against
 * the per-image and per-request bounds before any image is read or fetched.
 */
export async function checkImageSizes(urls: { url: string; param: string }[], policy: ImageSourcePolicy): Promise<void> {
  let total = 0;
  for (const { url, param } of urls) {
    const s = source(url, policy, param);
    let size = 0;
    if (s.kind === 'data') size = s.base64 ? Math.floor((s.payload.length * 3) / 4) : s.payload.length;
    else if (s.kind === 'file') size = (await fileStat(s.file, param)).size;
    if (size > policy.maxBytes + 3) throw tooLarge(param, policy.maxBytes);
    total += size;
    if (total > policy.maxTotalBytes) {
      throw badRequest(`the request's images are larger than ${policy.maxTotalBytes} bytes together`, param, 'images_too_large');
    }
  }
}

/** The bytes an `image_url.url` names (`param` is its JSON path, for the error), within `budget`. */
export async function imageBytes(url: string, policy: ImageSourcePolicy, param: string, signal: AbortSignal, budget?: ImageBudget): Promise<Uint8Array> {
  const s = source(url, policy, param);
  const max = Math.min(policy.maxBytes, budget?.left ?? Infinity);
  const fail = (n: number) => (n > policy.maxBytes ? tooLarge(param, policy.maxBytes) : badRequest(`the request's images are larger than ${policy.maxTotalBytes} bytes together`, param, 'images_too_large'));
  let bytes: Uint8Array;
  if (s.kind === 'data') bytes = dataUrlBytes(s.payload, s.base64, max, param, fail);
  else if (s.kind === 'http') bytes = await fetchBytes(url, max, param, signal, fail);
  else bytes = await fileBytes(s.file, max, param, fail);
  if (budget) budget.left -= bytes.length;
  return bytes;
}

function tooLarge(param: string, max: number) {
  return badRequest(`the image is larger than ${max} bytes`, param, 'image_too_large');
}

type TooLarge = (n: number) => Error;

function dataUrlBytes(payload: string, base64: boolean, max: number, param: string, tooMany: TooLarge): Uint8Array {
  // base64 is 4 characters per 3 bytes: refuse by length before decoding anything.
  const estimate = base64 ? Math.floor((payload.length * 3) / 4) : payload.length;
  if (estimate > max + 3) throw tooMany(estimate);
  let bytes: Buffer;
  try {
    bytes = base64 ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'latin1');
  } catch (e) {
    throw badRequest(`the data: URL is not valid percent-encoding (${(e as Error).message})`, param, 'invalid_image_url');
  }
  if (bytes.length > max) throw tooMany(bytes.length);
  if (bytes.length === 0) throw badRequest('the data: URL holds no bytes', param);
  return bytes;
}

async function fileStat(file: string, param: string) {
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    throw badRequest(`cannot read the image file ${file}`, param, 'image_unreadable');
  }
  if (!st.isFile()) throw badRequest(`${file} is not a regular file`, param, 'image_unreadable');
  return st;
}

async function fileBytes(file: string, max: number, param: string, tooMany: TooLarge): Promise<Uint8Array> {
  const st = await fileStat(file, param);
  if (st.size > max) throw tooMany(st.size);
  const bytes = await fs.readFile(file);
  if (bytes.length > max) throw tooMany(bytes.length);  // it grew since the stat
  return bytes;
}

async function fetchBytes(url: string, max: number, param: string, signal: AbortSignal, tooMany: TooLarge): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (e) {
    throw badRequest(`cannot fetch the image: ${(e as Error).message}`, param, 'image_unreadable');
  }
  if (!res.ok || !res.body) throw badRequest(`fetching the image gave HTTP ${res.status}`, param, 'image_unreadable');
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > max) throw tooMany(length);
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) throw tooMany(n);  // a lying or absent Content-Length is cut off here
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
