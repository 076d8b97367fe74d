// Writes GGUF v3 files. Tensor data is produced lazily, one tensor at a time, so a multi-GB model
// never sits in memory whole; the file appears atomically (temp file, then rename).
import fs from 'node:fs';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufValueType, tensorBytes } from './constants';

export type GgufScalar = number | bigint | boolean | string;
export interface GgufKV {
  type: GgufValueType;
  value: GgufScalar | GgufScalar[];
  /** Element type when `type` is ARRAY. */
  arrayType?: GgufValueType;
}

interface PendingTensor {
  name: string;
  ne: number[];
  type: GgmlType;
  nbytes: number;
  produce: () => Promise<Uint8Array>;
}

/** Little-endian byte sink that grows as needed. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number) { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  i8(v: number) { this.ensure(1); this.buf.writeInt8(v, this.length); this.length += 1; }
  u16(v: number) { this.ensure(2); this.buf.writeUInt16LE(v, this.length); this.length += 2; }
  i16(v: number) { this.ensure(2); this.buf.writeInt16LE(v, this.length); this.length += 2; }
  u32(v: number) { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  i32(v: number) { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
  u64(v: number | bigint) { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  i64(v: number | bigint) { this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.length); this.length += 8; }
  f32(v: number) { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  f64(v: number) { this.ensure(8); this.buf.writeDoubleLE(v, this.length); this.length += 8; }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  zeros(n: number) { this.ensure(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  bytes(): Buffer { return this.buf.subarray(0, this.length); }
}

function writeValue(sink: ByteSink, type: GgufValueType, v: GgufScalar): void {
  switch (type) {
    case GgufValueType.UINT8: return sink.u8(Number(v));
    case GgufValueType.INT8: return sink.i8(Number(v));
    case GgufValueType.UINT16: return sink.u16(Number(v));
    case GgufValueType.INT16: return sink.i16(Number(v));
    case GgufValueType.UINT32: return sink.u32(Number(v));
    case GgufValueType.INT32: return sink.i32(Number(v));
    case GgufValueType.FLOAT32: return sink.f32(Number(v));
    case GgufValueType.BOOL: return sink.u8(v ? 1 : 0);
    case GgufValueType.STRING: return sink.str(String(v));
    case GgufValueType.UINT64: return sink.u64(typeof v === 'bigint' ? v : BigInt(Number(v)));
    case GgufValueType.INT64: return sink.i64(typeof v === 'bigint' ? v : BigInt(Number(v)));
    case GgufValueType.FLOAT64: return sink.f64(Number(v));
    default: throw new Error(`cannot write GGUF value type ${type}`);
  }
}

export class GgufWriter {
  private readonly kv = new Map<string, GgufKV>();
  private readonly tensors: PendingTensor[] = [];
  readonly alignment: number;

  constructor(alignment = GGUF_DEFAULT_ALIGNMENT) {
    this.alignment = alignment;
    if (alignment !== GGUF_DEFAULT_ALIGNMENT) this.addKV('general.alignment', GgufValueType.UINT32, alignment);
  }

  addKV(key: string, type: GgufValueType, value: GgufScalar | GgufScalar[], arrayType?: GgufValueType): this {
    if (type === GgufValueType.ARRAY && arrayType === undefined) throw new Error(`${key}: array needs an element type`);
    this.kv.set(key, { type, value, arrayType });
    return this;
  }
  addString(key: string, v: string) { return this.addKV(key, GgufValueType.STRING, v); }
  addU32(key: string, v: number) { return this.addKV(key, GgufValueType.UINT32, v); }
  addF32(key: string, v: number) { return this.addKV(key, GgufValueType.FLOAT32, v); }
  addBool(key: string, v: boolean) { return this.addKV(key, GgufValueType.BOOL, v); }
  addArray(key: string, elementType: GgufValueType, values: GgufScalar[]) {
    return this.addKV(key, GgufValueType.ARRAY, values, elementType);
  }

  /** Adds a tensor; `produce` is called once, when its bytes are written. */
  addTensor(name: string, ne: number[], type: GgmlType, produce: () => Promise<Uint8Array> | Uint8Array): this {
    if (this.tensors.some((t) => t.name === name)) throw new Error(`duplicate tensor '${name}'`);
    this.tensors.push({ name, ne: [...ne], type, nbytes: tensorBytes(type, ne), produce: async () => produce() });
    return this;
  }

  private header(): Buffer {
    const s = new ByteSink();
    s.u32(GGUF_MAGIC);
    s.u32(GGUF_VERSION);
    s.u64(this.tensors.length);
    s.u64(this.kv.size);
    for (const [key, kv] of this.kv) {
      s.str(key);
      s.u32(kv.type);
      if (kv.type === GgufValueType.ARRAY) {
        const values = kv.value as GgufScalar[];
        s.u32(kv.arrayType!);
        s.u64(values.length);
        for (const v of values) writeValue(s, kv.arrayType!, v);
      } else {
        writeValue(s, kv.type, kv.value as GgufScalar);
      }
    }
    let offset = 0;
    for (const t of this.tensors) {
      s.str(t.name);
      s.u32(t.ne.length);
      for (const d of t.ne) s.u64(d);
      s.u32(t.type);
      s.u64(offset);
      offset += Math.ceil(t.nbytes / this.alignment) * this.alignment;
    }
    s.zeros((this.alignment - (s.length % this.alignment)) % this.alignment);
    return s.bytes();
  }

  /** Writes the file at `path` (atomically). */
  async write(path: string): Promise<void> {
    const tmp = `${path}.tmp-${process.pid}`;
    // Exclusive create: a link planted at the temp name is removed, never written through.
    fs.rmSync(tmp, { force: true });
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeSync(fd, this.header());
      const pad = Buffer.alloc(this.alignment);
      for (const t of this.tensors) {
        const data = await t.produce();
        if (data.byteLength !== t.nbytes) throw new Error(`tensor '${t.name}': ${data.byteLength} bytes given, ${t.nbytes} expected`);
        fs.writeSync(fd, data);
        const rem = t.nbytes % this.alignment;
        if (rem) fs.writeSync(fd, pad, 0, this.alignment - rem);
      }
      fs.closeSync(fd);
      fs.renameSync(tmp, path);
    } catch (e) {
      try { fs.closeSync(fd); } catch { /* already closed */ }
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }
}
