// Request bodies, bounded: every route that takes a body (the JSON of a chat completion, the bytes
// of a PDF) reads it here, so the size limit, the in-flight reservation and the 413 are the same.
import type http from 'node:http';
import { ApiError, badRequest } from './api-error';

/**
 * The body's bytes, refused past `max` bytes (by Content-Length before reading, else while reading).
 * `reserve(n)` is told of n more bytes before they are kept (the Content-Length up front, else as
 * chunks come) and may throw to refuse them; the body is then drained, not kept.
 */
export async function readBody(req: http.IncomingMessage, max: number, reserve: (n: number) => void): Promise<Buffer> {
  const tooLarge = () => new ApiError(413, 'invalid_request_error', `the request body is larger than ${max} bytes`, 'request_too_large');
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > max) {
    req.resume();  // drain, so the 413 reaches the client instead of a reset
    throw tooLarge();
  }
  let reserved = 0;
  const take = (n: number) => {
    try {
      reserve(n);
    } catch (e) {
      req.resume();
      throw e;
    }
    reserved += n;
  };
  if (Number.isSafeInteger(length) && length > 0) take(length);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) {
      req.resume();
      throw tooLarge();
    }
    if (n > reserved) take(n - reserved);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A body read by readBody, as JSON (400 invalid_json otherwise). */
export function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw badRequest(`the request body is not JSON: ${(e as Error).message}`, null, 'invalid_json');
  }
}
