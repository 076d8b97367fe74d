// Which ggml type each output tensor gets, following llama.cpp's rules (src/llama-quant.cpp
// `llama_tensor_get_type_impl` and `tensor_type_fallback`, and the mmproj converter's forced types):
// 1-D tensors (norms, biases such as Qwen2's q/k/v ones, layer scales), class and position
// embeddings stay f32; the patch embedding is f16; q4_k_m gives attn_v / ffn_down of some layers
// q6_k and output.weight (or a tied token_embd) q6_k.
import { GgmlType } from '../gguf/constants';

// bf16: the checkpoint's own dtype, so converting to it is lossless.
export const TEXT_TYPES = ['f32', 'bf16', 'f16', 'q8_0', 'q4_0', 'q4_k_m'] as const;
export type TextQuant = (typeof TEXT_TYPES)[number];
export const VISION_TYPES = ['f32', 'bf16', 'f16', 'q8_0'] as const;
export type VisionQuant = (typeof VISION_TYPES)[number];

/** llama_ftype values for general.file_type. */
export const FILE_TYPE: Record<TextQuant, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, q4_k_m: 15, bf16: 32 };

const BASE: Record<TextQuant, GgmlType> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  bf16: GgmlType.BF16,
  q8_0: GgmlType.Q8_0,
  q4_0: GgmlType.Q4_0,
  q4_k_m: GgmlType.Q4_K,
};

const BLOCK: Partial<Record<GgmlType, number>> = {
  [GgmlType.Q4_0]: 32, [GgmlType.Q4_1]: 32, [GgmlType.Q5_0]: 32, [GgmlType.Q5_1]: 32, [GgmlType.Q8_0]: 32,
  [GgmlType.Q4_K]: 256, [GgmlType.Q5_K]: 256, [GgmlType.Q6_K]: 256,
};
const blockOf = (t: GgmlType) => BLOCK[t] ?? 1;

/** tensor_type_fallback: a row length the block size does not divide gets the next smaller block, else f16. */
export function fallbackType(type: GgmlType, rowLength: number): GgmlType {
  if (rowLength % blockOf(type) === 0) return type;
  const next = ({ [GgmlType.Q4_K]: GgmlType.Q5_0, [GgmlType.Q5_K]: GgmlType.Q5_1, [GgmlType.Q6_K]: GgmlType.Q8_0 } as Partial<Record<GgmlType, GgmlType>>)[type];
  if (next !== undefined && rowLength % blockOf(next) === 0) return next;
  return GgmlType.F16;
}

/** llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between. */
export function useMoreBits(layer: number, layers: number): boolean {
  const e = Math.trunc(layers / 8);
  return layer < e || layer >= Math.trunc((7 * layers) / 8) || (layer - e) % 3 === 2;
}

/**
 * Type of a text-model tensor (GGUF name, ggml shape) for a quantization preset. With tied
 * embeddings (no output.weight) token_embd is also the output matrix, and llama.cpp gives it the
 * output's type.
 */
export function textTensorType(quant: TextQuant, name: string, ne: readonly number[], layers: number, tiedEmbeddings = false): GgmlType {
  if (ne.length === 1 || ne.slice(1).every((d) => d === 1)) return GgmlType.F32;
  let type = BASE[quant];
  const quantized = quant !== 'f32' && quant !== 'f16' && quant !== 'bf16';
  if (!quantized) return type;
  const layer = /^blk\.(\d+)\./.exec(name);
  const i = layer ? Number(layer[1]) : -1;
  if (name === 'output.weight' || (tiedEmbeddings && name === 'token_embd.weight')) {
    if (ne[0] % blockOf(type) !== 0) type = GgmlType.Q8_0;
    else if (type !== GgmlType.Q8_0) type = GgmlType.Q6_K;
  } else if (quant === 'q4_k_m' && name.endsWith('.attn_v.weight') && useMoreBits(i, layers)) {
    type = GgmlType.Q6_K;
  } else if (quant === 'q4_k_m' && name.endsWith('.ffn_down.weight') && useMoreBits(i, layers)) {
    type = GgmlType.Q6_K;
  }
  return fallbackType(type, ne[0]);
}

/** Type of a vision-projector tensor, as llama.cpp's mmproj converter writes them. */
export function visionTensorType(quant: VisionQuant, name: string, ne: readonly number[]): GgmlType {
  if (name === 'v.patch_embd.weight') return quant === 'f32' ? GgmlType.F32 : GgmlType.F16;
  if (name === 'v.position_embd.weight' || name === 'v.class_embd') return GgmlType.F32;
  if (ne.length === 1 || ne.slice(1).every((d) => d === 1)) return GgmlType.F32;
  const type = BASE[quant];
  return quant === 'q8_0' ? fallbackType(type, ne[0]) : type;
}
