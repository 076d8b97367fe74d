// One page-cache entry on disk: a header that names the key and the payload's length and
// checksum, then the image embeddings as little-endian f32. A reader checks all of it, so a
// truncated, corrupt or foreign file is never taken for embeddings.
//
//   bytes 0-7    magic "MMPAGE\0\1"
//   bytes 8-11   u32 format version
//   bytes 12-15  u32 header length H (JSON, UTF-8)
//   bytes 16..   header JSON: { key, floats, sha256 } (sha256: of the payload, hex)
//   then         payload: floats × 4 bytes
import { createHash } from 'node:crypto';

export const ENTRY_MAGIC = Buffer.from('MMPAGE\0\x01', 'latin1');
/** Bumped whenever the layout above or the meaning of the payload changes. */
export const ENTRY_VERSION = 1;
const FIXED = 16;
/** A header is a few hundred bytes; more means the file is not ours. */
const MAX_HEADER = 4096;

interface EntryHeader {
  key: string;
  floats: number;
  sha256: string;
}

/** The bytes of an entry holding `embeddings` under `key`. */
export function encodeEntry(key: string, embeddings: Float32Array): Buffer[] {
  const payload = littleEndian(Buffer.from(embeddings.buffer, embeddings.byteOffset, embeddings.byteLength));
  const header: EntryHeader = { key, floats: embeddings.length, sha256: createHash('sha256').update(payload).digest('hex') };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const fixed = Buffer.alloc(FIXED);
  ENTRY_MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(ENTRY_VERSION, 8);
  fixed.writeUInt32LE(json.length, 12);
  return [fixed, json, payload];
}

/**
 * The embeddings in `file`, or the reason it is not a whole entry for `key` with `floats` values
 * (wrong magic or version, another key, a length that does not match, a checksum that does not).
 */
export function decodeEntry(file: Buffer, key: string, floats: number): { embeddings: Float32Array } | { bad: string } {
  if (file.length < FIXED || !file.subarray(0, 8).equals(ENTRY_MAGIC)) return { bad: 'not a minimonkey page-cache entry' };
  const version = file.readUInt32LE(8);
  if (version !== ENTRY_VERSION) return { bad: `entry format ${version}, this version reads ${ENTRY_VERSION}` };
  const h = file.readUInt32LE(12);
  if (h > MAX_HEADER || FIXED + h > file.length) return { bad: 'truncated header' };
  let header: EntryHeader;
  try {
    header = JSON.parse(file.subarray(FIXED, FIXED + h).toString('utf8')) as EntryHeader;
  } catch {
    return { bad: 'unreadable header' };
  }
  if (!header || header.key !== key) return { bad: 'the header names another key' };
  if (header.floats !== floats) return { bad: `${header.floats} values where the crop plan needs ${floats}` };
  const payload = file.subarray(FIXED + h);
  if (payload.length !== floats * 4) return { bad: `truncated: ${payload.length} of ${floats * 4} payload bytes` };
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) return { bad: 'checksum mismatch' };
  // Copied into its own aligned buffer (the file's bytes need not be 4-aligned).
  const out = new Float32Array(floats);
  Buffer.from(out.buffer).set(littleEndian(payload));
  return { embeddings: out };
}

const BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** Entries are little-endian everywhere; swapped on the rare big-endian host. */
function littleEndian(bytes: Buffer): Buffer {
  if (!BIG_ENDIAN) return bytes;
  const copy = Buffer.from(bytes);
  copy.swap32();
  return copy;
}
