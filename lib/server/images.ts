// `image_url` parts → image bytes. data: URLs always; a local file path (or file: URL) only with
// --allow-files and an http(s) URL only with --allow-urls, since either lets a client make the
// server read what it can reach. Every source is bounded by the image byte limit before decoding.
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { badRequest } from './api-error';

export interface ImageSourcePolicy {
  allowFiles: boolean;
  allowUrls: boolean;
  maxBytes: number;
}

const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*)(;base64)?,/i;

/** The bytes an `image_url.url` names (`param` is its JSON path, for the error). */
export async function imageBytes(url: string, policy: ImageSourcePolicy, param: string, signal: AbortSignal): Promise<Uint8Array> {
  const m = DATA_URL.exec(url);
  if (m) return dataUrlBytes(url.slice(m[0].length), m[3] !== undefined, policy.maxBytes, param);
  if (/^https?:\/\//i.test(url)) {
    if (!policy.allowUrls) throw badRequest('http(s) image URLs are off; start the server with --allow-urls, or send a data: URL', param, 'image_url_not_allowed');
    return fetchBytes(url, policy.maxBytes, param, signal);
  }
  if (/^file:/i.test(url) || url.startsWith('/')) {
    if (!policy.allowFiles) throw badRequest('local image files are off; start the server with --allow-files, or send a data: URL', param, 'image_url_not_allowed');
    return fileBytes(url.startsWith('/') ? url : fileURLToPath(url), policy.maxBytes, param);
  }
  throw badRequest('image_url.url must be a data: URL (or, when the server allows it, an http(s) URL or an absolute file path)', param);
}

function tooLarge(param: string, max: number) {
  return badRequest(`the image is larger than ${max} bytes`, param, 'image_too_large');
}

function dataUrlBytes(payload: string, base64: boolean, max: number, param: string): Uint8Array {
  // base64 is 4 characters per 3 bytes: refuse by length before decoding anything.
  if ((base64 ? Math.floor((payload.length * 3) / 4) : payload.length) > max + 3) throw tooLarge(param, max);
  const bytes = base64 ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'latin1');
  if (bytes.length > max) throw tooLarge(param, max);
  if (bytes.length === 0) throw badRequest('the data: URL holds no bytes', param);
  return bytes;
}

async function fileBytes(file: string, max: number, param: string): Promise<Uint8Array> {
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    throw badRequest(`cannot read the image file ${file}`, param, 'image_unreadable');
  }
  if (!st.isFile()) throw badRequest(`${file} is not a regular file`, param, 'image_unreadable');
  if (st.size > max) throw tooLarge(param, max);
  return fs.readFile(file);
}

async function fetchBytes(url: string, max: number, param: string, signal: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (e) {
    throw badRequest(`cannot fetch the image: ${(e as Error).message}`, param, 'image_unreadable');
  }
  if (!res.ok || !res.body) throw badRequest(`fetching the image gave HTTP ${res.status}`, param, 'image_unreadable');
  if (Number(res.headers.get('content-length') ?? 0) > max) throw tooLarge(param, max);
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) throw tooLarge(param, max);  // a lying or absent Content-Length is cut off here
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
