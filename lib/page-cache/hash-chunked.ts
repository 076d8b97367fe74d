// SHA-256 of large buffers without holding the JS thread: a page's KV state is hundreds of MB
// (1-2 s of hashing), so the bytes go in 4 MiB slices with a turn of the event loop between them,
// and a server answers its other requests meanwhile.
import { createHash, Hash } from 'node:crypto';

const SLICE = 4 << 20;

/** Feeds `bytes` into `h` slice by slice, yielding between slices. */
export async function updateChunked(h: Hash, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; off += SLICE) {
    h.update(bytes.subarray(off, Math.min(bytes.length, off + SLICE)));
    if (off + SLICE < bytes.length) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The hex SHA-256 of `bytes`, computed slice by slice. */
export async function sha256Chunked(bytes: Uint8Array): Promise<string> {
  const h = createHash('sha256');
  await updateChunked(h, bytes);
  return h.digest('hex');
}
