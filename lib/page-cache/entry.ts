// One page-cache entry on disk: a header that names the key and the payload's length and
// checksum, then the payload: a page's image embeddings as little-endian f32, or (kind "kv") the
// KV state of a prompt prefix (native/core/sequence_state.h's bytes). A reader checks all of it,
// so a truncated, corrupt or foreign file is never taken for either.
//
//   bytes 0-7    magic "MMPAGE\0\1"
//   bytes 8-11   u32 format version
//   bytes 12-15  u32 header length H (JSON, UTF-8)
//   bytes 16..   header JSON: { key, floats, sha256 } or { key, kind: "kv", bytes, positions, sha256 }
//                (sha256: of the payload, hex)
//   then         payload: floats × 4 bytes, or `bytes` bytes
import { createHash } from 'node:crypto';
import { sha256Chunked } from './hash-chunked';

export const ENTRY_MAGIC = Buffer.from('MMPAGE\0\x01', 'latin1');
/** Bumped whenever the layout above or the meaning of the payload changes. */
export const ENTRY_VERSION = 1;
const FIXED = 16;
const CHECKSUM = 'checksum mismatch';
/** A header is a few hundred bytes; more means the file is not ours. */
const MAX_HEADER = 4096;

interface EntryHeader {
  key: string;
  /** Absent: image embeddings. */
  kind?: 'kv';
  floats?: number;
  bytes?: number;
  positions?: number;
  sha256: string;
}

function encodeWith(header: Omit<EntryHeader, 'sha256'>, payload: Buffer, sha256 = createHash('sha256').update(payload).digest('hex')): Buffer[] {
  const json = Buffer.from(JSON.stringify({ ...header, sha256 }), 'utf8');
  const fixed = Buffer.alloc(FIXED);
  ENTRY_MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(ENTRY_VERSION, 8);
  fixed.writeUInt32LE(json.length, 12);
  return [fixed, json, payload];
}

/** The bytes of an entry holding `embeddings` under `key`. */
export function encodeEntry(key: string, embeddings: Float32Array): Buffer[] {
  return encodeWith({ key, floats: embeddings.length }, littleEndian(Buffer.from(embeddings.buffer, embeddings.byteOffset, embeddings.byteLength)));
}

/** The bytes of an entry holding the KV state of a prompt prefix of `positions` positions under `key` (hashed off the JS thread's long turns). */
export async function encodeStateEntry(key: string, state: Uint8Array, positions: number): Promise<Buffer[]> {
  const payload = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
  return encodeWith({ key, kind: 'kv', bytes: state.length, positions }, payload, await sha256Chunked(payload));
}

/**
 * The header and payload of a whole entry under `key`, or why not; `header` gives the payload
 * length it must have, or why the header does not fit. The checksum is left to the caller.
 */
function decodeWith(file: Buffer, key: string, header: (h: EntryHeader) => string | number): { header: EntryHeader; payload: Buffer } | { bad: string } {
  if (file.length < FIXED || !file.subarray(0, 8).equals(ENTRY_MAGIC)) return { bad: 'not a minimonkey page-cache entry' };
  const version = file.readUInt32LE(8);
  if (version !== ENTRY_VERSION) return { bad: `entry format ${version}, this version reads ${ENTRY_VERSION}` };
  const h = file.readUInt32LE(12);
  if (h > MAX_HEADER || FIXED + h > file.length) return { bad: 'truncated header' };
  let parsed: EntryHeader;
  try {
    parsed = JSON.parse(file.subarray(FIXED, FIXED + h).toString('utf8')) as EntryHeader;
  } catch {
    return { bad: 'unreadable header' };
  }
  if (!parsed || parsed.key !== key) return { bad: 'the header names another key' };
  const expect = header(parsed);
  if (typeof expect === 'string') return { bad: expect };
  const payload = file.subarray(FIXED + h);
  if (payload.length !== expect) return { bad: `truncated: ${payload.length} of ${expect} payload bytes` };
  return { header: parsed, payload };
}

/**
 * The embeddings in `file`, or the reason it is not a whole entry for `key` with `floats` values
 * (wrong magic or version, another key, a length that does not match, a checksum that does not).
 */
export function decodeEntry(file: Buffer, key: string, floats: number): { embeddings: Float32Array } | { bad: string } {
  const r = decodeWith(file, key, (h) => {
    if (h.kind !== undefined) return `a ${String(h.kind)} entry, not embeddings`;
    return h.floats === floats ? floats * 4 : `${h.floats} values where the crop plan needs ${floats}`;
  });
  if ('bad' in r) return r;
  if (createHash('sha256').update(r.payload).digest('hex') !== r.header.sha256) return { bad: CHECKSUM };
  // Copied into its own aligned buffer (the file's bytes need not be 4-aligned).
  const out = new Float32Array(floats);
  Buffer.from(out.buffer).set(littleEndian(r.payload));
  return { embeddings: out };
}

/** The KV state in `file` (a view of its bytes), or the reason it is not a whole state entry for `key` of `positions` positions. */
export async function decodeStateEntry(file: Buffer, key: string, positions: number): Promise<{ state: Buffer } | { bad: string }> {
  const r = decodeWith(file, key, (h) => {
    if (h.kind !== 'kv') return 'not a KV state entry';
    if (h.positions !== positions) return `a state of ${String(h.positions)} positions where the prompt has ${positions}`;
    return typeof h.bytes === 'number' && Number.isSafeInteger(h.bytes) && h.bytes > 0 ? h.bytes : 'unreadable header';
  });
  if ('bad' in r) return r;
  return (await sha256Chunked(r.payload)) === r.header.sha256 ? { state: r.payload } : { bad: CHECKSUM };
}

const BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** Entries are little-endian everywhere; swapped on the rare big-endian host. */
function littleEndian(bytes: Buffer): Buffer {
  if (!BIG_ENDIAN) return bytes;
  const copy = Buffer.from(bytes);
  copy.swap32();
  return copy;
}
