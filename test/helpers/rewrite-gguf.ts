// A GGUF file copied with some keys or tensor types changed: the bad-file regression tests make
// exactly the value a hostile file would carry (a string array where floats belong, an i32 norm)
// with our own reader and writer, so every offset and size stays consistent.
import fs from 'node:fs';
import { GgmlType, GgufValueType } from '../../lib/gguf/constants';
import { readGgufHeader } from '../../lib/gguf/reader';
import { GgufKV, GgufScalar, GgufWriter } from '../../lib/gguf/writer';

export interface GgufEdits {
  /** New values by key; null removes the key. */
  kv?: Record<string, GgufKV | null>;
  /** Per tensor: a new type for the same bytes (types of equal size, e.g. f32 → i32). */
  tensorType?: Record<string, GgmlType>;
  /** Tensors added after the file's own (f32 values). */
  addTensors?: { name: string; ne: number[]; values: Float32Array }[];
}

export async function rewriteGguf(src: string, dst: string, edits: GgufEdits): Promise<void> {
  const header = await readGgufHeader(src);
  const w = new GgufWriter(header.alignment);
  for (const [key, v] of header.kv) {
    if (key === 'general.alignment') continue;
    const e = edits.kv?.[key];
    if (e === null) continue;
    const kv = e ?? { type: v.type, value: v.value as GgufScalar | GgufScalar[], arrayType: v.arrayType };
    w.addKV(key, kv.type, kv.value, kv.arrayType);
  }
  for (const [key, e] of Object.entries(edits.kv ?? {})) {
    if (e && !header.kv.has(key)) w.addKV(key, e.type, e.value, e.arrayType);
  }
  const fd = fs.openSync(src, 'r');
  try {
    for (const t of header.tensors) {
      const bytes = Buffer.alloc(t.nbytes);
      fs.readSync(fd, bytes, 0, t.nbytes, t.offset);
      w.addTensor(t.name, t.ne, edits.tensorType?.[t.name] ?? t.type, () => bytes);
    }
  } finally {
    fs.closeSync(fd);
  }
  for (const t of edits.addTensors ?? []) {
    const bytes = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
    w.addTensor(t.name, t.ne, GgmlType.F32, () => bytes);
  }
  await w.write(dst);
}

export const u32 = (value: number): GgufKV => ({ type: GgufValueType.UINT32, value });
export const f32 = (value: number): GgufKV => ({ type: GgufValueType.FLOAT32, value });
export const str = (value: string): GgufKV => ({ type: GgufValueType.STRING, value });
export const strings = (value: string[]): GgufKV => ({ type: GgufValueType.ARRAY, value, arrayType: GgufValueType.STRING });
