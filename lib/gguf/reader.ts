// Reads a GGUF file's header (metadata and tensor table) without loading tensor data, and single
// tensors as f32 on demand. Malformed input becomes a GgufFormatError, never a crash or a huge
// allocation: every count and length is checked against the bytes the file actually has.
import fs from 'node:fs';
import { ModelLoadError } from '../errors';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufValueType, isKnownType, tensorBytes, typeName } from './constants';

export class GgufFormatError extends ModelLoadError {}

export interface GgufValue {
  type: GgufValueType;
  value: unknown;
  arrayType?: GgufValueType;
}

export interface GgufTensorInfo {
  name: string;
  /** Shape in ggml order (ne[0] varies fastest). */
  ne: number[];
  type: GgmlType;
  /** Absolute offset of the tensor's bytes in the file. */
  offset: number;
  nbytes: number;
}

export interface GgufHeader {
  version: number;
  kv: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataOffset: number;
  fileSize: number;
}

const SCALAR_SIZE: Partial<Record<GgufValueType, number>> = {
  [GgufValueType.UINT8]: 1, [GgufValueType.INT8]: 1, [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT16]: 2, [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4, [GgufValueType.INT32]: 4, [GgufValueType.FLOAT32]: 4,
  [GgufValueType.UINT64]: 8, [GgufValueType.INT64]: 8, [GgufValueType.FLOAT64]: 8,
};

/** Sequential reader over a file descriptor, buffering ahead. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(private readonly fd: number, readonly size: number, private readonly path: string) {}

  fail(msg: string): never {
    throw new GgufFormatError(`${this.path}: not a valid GGUF file (${msg} at byte ${this.pos})`);
  }

  private need(n: number): Buffer {
    if (n < 0 || this.pos + n > this.size) this.fail(`needs ${n} more bytes than the file has`);
    const rel = this.pos - this.bufStart;
    if (rel + n > this.buf.length) {
      const len = Math.min(this.size - this.pos, Math.max(n, 1 << 20));
      this.buf = Buffer.alloc(len);
      fs.readSync(this.fd, this.buf, 0, len, this.pos);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }
  u8() { return this.need(1).readUInt8(0); }
  u32() { return this.need(4).readUInt32LE(0); }
  u64(): number {
    const v = this.need(8).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('a 64-bit count is out of range');
    return Number(v);
  }
  str(): string {
    const len = this.u64();
    return this.need(len).toString('utf8');
  }
  scalar(type: GgufValueType): unknown {
    switch (type) {
      case GgufValueType.UINT8: return this.need(1).readUInt8(0);
      case GgufValueType.INT8: return this.need(1).readInt8(0);
      case GgufValueType.UINT16: return this.need(2).readUInt16LE(0);
      case GgufValueType.INT16: return this.need(2).readInt16LE(0);
      case GgufValueType.UINT32: return this.need(4).readUInt32LE(0);
      case GgufValueType.INT32: return this.need(4).readInt32LE(0);
      case GgufValueType.FLOAT32: return this.need(4).readFloatLE(0);
      case GgufValueType.BOOL: return this.need(1).readUInt8(0) !== 0;
      case GgufValueType.STRING: return this.str();
      case GgufValueType.UINT64: return this.need(8).readBigUInt64LE(0);
      case GgufValueType.INT64: return this.need(8).readBigInt64LE(0);
      case GgufValueType.FLOAT64: return this.need(8).readDoubleLE(0);
      default: return this.fail(`unknown value type ${type}`);
    }
  }
}

function readValue(c: Cursor, type: GgufValueType): GgufValue {
  if (type !== GgufValueType.ARRAY) return { type, value: c.scalar(type) };
  const arrayType = c.u32() as GgufValueType;
  if (arrayType === GgufValueType.ARRAY) c.fail('nested arrays are not supported');
  const n = c.u64();
  // Each element takes at least one byte (strings: 8): a count beyond the file is corrupt.
  const minSize = arrayType === GgufValueType.STRING ? 8 : SCALAR_SIZE[arrayType] ?? c.fail(`unknown array type ${arrayType}`);
  if (n * minSize > c.size - c.pos) c.fail(`array of ${n} elements does not fit the file`);
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = c.scalar(arrayType);
  return { type, value: out, arrayType };
}

export function readGgufHeaderSync(path: string): GgufHeader {
  let fd: number;
  try {
    // Non-blocking, then checked on the descriptor: a FIFO or device must not hang the caller.
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    throw new GgufFormatError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new GgufFormatError(`${path}: not a regular file`);
    const size = st.size;
    const c = new Cursor(fd, size, path);
    if (c.u32() !== GGUF_MAGIC) c.fail("missing 'GGUF' magic");
    const version = c.u32();
    if (version < 2 || version > 3) c.fail(`unsupported version ${version}`);
    const nTensors = c.u64();
    const nKV = c.u64();
    if (nTensors > size / 24 || nKV > size / 13) c.fail('tensor or key count larger than the file could hold');
    const kv = new Map<string, GgufValue>();
    for (let i = 0; i < nKV; i++) {
      const key = c.str();
      const type = c.u32() as GgufValueType;
      if (kv.has(key)) c.fail(`duplicate key '${key}'`);
      kv.set(key, readValue(c, type));
    }
    const alignKV = kv.get('general.alignment');
    const alignment = alignKV ? Number(alignKV.value) : GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) c.fail('bad general.alignment');
    const infos: { name: string; ne: number[]; type: GgmlType; rel: number }[] = [];
    for (let i = 0; i < nTensors; i++) {
      const name = c.str();
      const nDims = c.u32();
      if (nDims < 1 || nDims > 4) c.fail(`tensor '${name}' has ${nDims} dimensions`);
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) ne.push(c.u64());
      const type = c.u32();
      if (!isKnownType(type)) c.fail(`tensor '${name}' has unknown type ${type}`);
      const rel = c.u64();
      infos.push({ name, ne, type, rel });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors = infos.map((t) => {
      let nbytes: number;
      try {
        nbytes = tensorBytes(t.type, t.ne);
      } catch (e) {
        return c.fail(`tensor '${t.name}': ${(e as Error).message}`);
      }
      const offset = dataOffset + t.rel;
      if (!Number.isSafeInteger(nbytes) || offset + nbytes > size) c.fail(`tensor '${t.name}' (${typeName(t.type)}) extends past the end of the file`);
      return { name: t.name, ne: t.ne, type: t.type, offset, nbytes };
    });
    return { version, kv, tensors, alignment, dataOffset, fileSize: size };
  } finally {
    fs.closeSync(fd);
  }
}

export async function readGgufHeader(path: string): Promise<GgufHeader> {
  return readGgufHeaderSync(path);
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** A tensor's values as f32 (dequantized per ggml's formulas for q8_0, q4_0, q4_1). */
export async function readTensorF32(path: string, t: GgufTensorInfo): Promise<Float32Array> {
  const bytes = Buffer.alloc(t.nbytes);
  const fd = fs.openSync(path, 'r');
  try {
    fs.readSync(fd, bytes, 0, t.nbytes, t.offset);
  } finally {
    fs.closeSync(fd);
  }
  const n = t.ne.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  switch (t.type) {
    case GgmlType.F32:
      for (let i = 0; i < n; i++) out[i] = bytes.readFloatLE(i * 4);
      return out;
    case GgmlType.F16:
      for (let i = 0; i < n; i++) out[i] = f16ToF32(bytes.readUInt16LE(i * 2));
      return out;
    case GgmlType.BF16:
      for (let i = 0; i < n; i++) out[i] = new Float32Array(new Uint32Array([bytes.readUInt16LE(i * 2) << 16]).buffer)[0];
      return out;
    case GgmlType.Q8_0:
      for (let b = 0; b < n / 32; b++) {
        const d = f16ToF32(bytes.readUInt16LE(b * 34));
        for (let i = 0; i < 32; i++) out[b * 32 + i] = d * bytes.readInt8(b * 34 + 2 + i);
      }
      return out;
    case GgmlType.Q4_0:
    case GgmlType.Q4_1: {
      const size = t.type === GgmlType.Q4_0 ? 18 : 20;
      const qs = t.type === GgmlType.Q4_0 ? 2 : 4;
      for (let b = 0; b < n / 32; b++) {
        const d = f16ToF32(bytes.readUInt16LE(b * size));
        const m = t.type === GgmlType.Q4_1 ? f16ToF32(bytes.readUInt16LE(b * size + 2)) : 0;
        for (let i = 0; i < 16; i++) {
          const q = bytes[b * size + qs + i];
          if (t.type === GgmlType.Q4_0) {
            out[b * 32 + i] = d * ((q & 0xf) - 8);
            out[b * 32 + i + 16] = d * ((q >> 4) - 8);
          } else {
            out[b * 32 + i] = d * (q & 0xf) + m;
            out[b * 32 + i + 16] = d * (q >> 4) + m;
          }
        }
      }
      return out;
    }
    default:
      throw new GgufFormatError(`${path}: tensor '${t.name}' has type ${typeName(t.type)}, which readTensorF32 does not decode`);
  }
}
