// Reads safetensors files (the Hugging Face weight format): an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}}, then raw little-endian tensor bytes. Only the
// header is read up front; each tensor is read on demand, so memory stays near one tensor.
import fs from 'node:fs';
import { ModelLoadError, UnsupportedError } from '../errors';
import { openInputSync } from '../util/file-kind';

/** Header sizes above this are not a real checkpoint (the real ones are a few hundred KB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export type SafetensorsDtype = 'BF16' | 'F16' | 'F32';
const BYTES_PER_VALUE: Record<SafetensorsDtype, number> = { BF16: 2, F16: 2, F32: 4 };
/** Every dtype the format defines; those not in BYTES_PER_VALUE are rejected as unsupported. */
const KNOWN_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64']);

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  /** Shape as PyTorch writes it (outermost first). */
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  nbytes: number;
  file: string;
}

/** The tensor table of one .safetensors file; unsupported dtypes are kept aside and fail on use. */
export interface SafetensorsFile {
  path: string;
  tensors: Map<string, SafetensorsTensor>;
  /** name → dtype of tensors in a dtype we cannot convert (they fail only if they are needed). */
  unsupported: Map<string, string>;
}

export function readSafetensorsHeader(file: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openInputSync(file, 'weights'); // non-blocking, and refused unless a regular file
  } catch (e) {
    throw new ModelLoadError(`cannot open ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const size = fs.fstatSync(fd).size;
    const bad = (why: string): never => {
      throw new ModelLoadError(`${file}: not a valid safetensors file (${why})`);
    };
    if (size < 8) bad('shorter than its 8-byte header length');
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) bad(`header length ${headerLen} for a ${size}-byte file`);
    const json = Buffer.alloc(headerLen);
    fs.readSync(fd, json, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(json.toString('utf8'));
    } catch {
      return bad('header is not JSON');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return bad('header is not a JSON object');
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, SafetensorsTensor>();
    const unsupported = new Map<string, string>();
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e !== 'object' || e === null || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
        bad(`entry '${name}' lacks dtype, shape or data_offsets`);
      }
      const dtype = e.dtype as string;
      const shape = e.shape as unknown[];
      const offs = e.data_offsets as unknown[];
      if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) bad(`entry '${name}' has a bad shape`);
      if (offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) bad(`entry '${name}' has bad data_offsets`);
      const [begin, end] = offs as number[];
      if (end < begin || dataStart + end > size) bad(`tensor '${name}' lies outside the file (bytes ${begin}..${end})`);
      if (!KNOWN_DTYPES.has(dtype)) bad(`tensor '${name}' has unknown dtype '${dtype}'`);
      if (!(dtype in BYTES_PER_VALUE)) {
        unsupported.set(name, dtype);
        continue;
      }
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      const nbytes = count * BYTES_PER_VALUE[dtype as SafetensorsDtype];
      if (nbytes !== end - begin) bad(`tensor '${name}' has ${end - begin} bytes, its shape [${shape}] needs ${nbytes}`);
      tensors.set(name, { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], offset: dataStart + begin, nbytes, file });
    }
    return { path: file, tensors, unsupported };
  } finally {
    fs.closeSync(fd);
  }
}

// f16 → f32 for all 65536 bit patterns, built once on first use.
let f16Table: Float32Array | undefined;
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  f16Table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    f16Table[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return f16Table;
}

/**
 * Reads one tensor as f32, asynchronously (the read runs on the libuv pool). The raw bytes land in
 * the back half of the f32 result and are widened in place, front to back, so a tensor costs its
 * f32 size and no more: at step i the write covers bytes 4i..4i+3, below the next unread value at
 * byte 2n+2i+2.
 */
export async function readTensor(t: SafetensorsTensor): Promise<Float32Array> {
  const width = BYTES_PER_VALUE[t.dtype];
  const n = t.nbytes / width;
  const out = new Float32Array(n);
  const raw = new Uint8Array(out.buffer, 4 * n - t.nbytes, t.nbytes);
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(t.file, 'r');
  } catch (e) {
    throw new ModelLoadError(`cannot open ${t.file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    let done = 0;
    while (done < t.nbytes) {
      const { bytesRead } = await handle.read(raw, done, t.nbytes - done, t.offset + done);
      if (bytesRead === 0) throw new ModelLoadError(`${t.file}: tensor '${t.name}' is truncated`);
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
  if (t.dtype === 'F32') return out;
  const src = new Uint16Array(out.buffer, 2 * n, n);
  if (t.dtype === 'BF16') {
    // bf16 is the top half of an f32's bits.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  } else {
    const table = f16ToF32Table();
    for (let i = 0; i < n; i++) out[i] = table[src[i]];
  }
  return out;
}

export function unsupportedDtype(file: string, name: string, dtype: string): UnsupportedError {
  return new UnsupportedError(`${file}: tensor '${name}' has dtype ${dtype}; the converter reads BF16, F16 and F32 checkpoints`);
}
