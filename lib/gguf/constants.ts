// GGUF format constants: value types and the ggml tensor types we read and write.

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/**
 * `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). SentencePiece's piece types
 * (ModelProto.SentencePiece.Type) use the same ids, so one enum serves both.
 */
export enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** ggml tensor type ids (ggml.h) with their block geometry. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
}

const BLOCKS: Record<number, { blockSize: number; typeSize: number; name: string }> = {
  [GgmlType.F32]: { blockSize: 1, typeSize: 4, name: 'f32' },
  [GgmlType.F16]: { blockSize: 1, typeSize: 2, name: 'f16' },
  [GgmlType.BF16]: { blockSize: 1, typeSize: 2, name: 'bf16' },
  [GgmlType.Q4_0]: { blockSize: 32, typeSize: 18, name: 'q4_0' },
  [GgmlType.Q4_1]: { blockSize: 32, typeSize: 20, name: 'q4_1' },
  [GgmlType.Q5_0]: { blockSize: 32, typeSize: 22, name: 'q5_0' },
  [GgmlType.Q5_1]: { blockSize: 32, typeSize: 24, name: 'q5_1' },
  [GgmlType.Q8_0]: { blockSize: 32, typeSize: 34, name: 'q8_0' },
  [GgmlType.Q2_K]: { blockSize: 256, typeSize: 84, name: 'q2_k' },
  [GgmlType.Q3_K]: { blockSize: 256, typeSize: 110, name: 'q3_k' },
  [GgmlType.Q4_K]: { blockSize: 256, typeSize: 144, name: 'q4_k' },
  [GgmlType.Q5_K]: { blockSize: 256, typeSize: 176, name: 'q5_k' },
  [GgmlType.Q6_K]: { blockSize: 256, typeSize: 210, name: 'q6_k' },
  // Integer and f64 tensors are valid GGUF (model files must not use them for weights).
  [GgmlType.I8]: { blockSize: 1, typeSize: 1, name: 'i8' },
  [GgmlType.I16]: { blockSize: 1, typeSize: 2, name: 'i16' },
  [GgmlType.I32]: { blockSize: 1, typeSize: 4, name: 'i32' },
  [GgmlType.I64]: { blockSize: 1, typeSize: 8, name: 'i64' },
  [GgmlType.F64]: { blockSize: 1, typeSize: 8, name: 'f64' },
};

export function isKnownType(type: number): type is GgmlType {
  return BLOCKS[type] !== undefined;
}

export function typeName(type: number): string {
  return BLOCKS[type]?.name ?? `type${type}`;
}

export function typeFromName(name: string): GgmlType {
  for (const [id, b] of Object.entries(BLOCKS)) if (b.name === name) return Number(id) as GgmlType;
  throw new Error(`unknown ggml type '${name}'`);
}

/** Bytes of a tensor with shape `ne` (ggml order) and `type`; throws on a partial block. */
export function tensorBytes(type: GgmlType, ne: readonly number[]): number {
  const b = BLOCKS[type];
  if (!b) throw new Error(`unknown ggml type ${type}`);
  if (ne[0] % b.blockSize !== 0) throw new Error(`row length ${ne[0]} is not a multiple of ${b.blockSize} for ${b.name}`);
  let n = (ne[0] / b.blockSize) * b.typeSize;
  for (let i = 1; i < ne.length; i++) n *= ne[i];
  return n;
}
