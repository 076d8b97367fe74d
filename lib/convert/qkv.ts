// Row surgery on attention weights (row-major [out, in], as PyTorch stores them):
// - InternLM2's fused `wqkv` is grouped by KV head (facts §1.5): for g in 0..kv-1 the rows are
//   [q head g·r … q head g·r+r−1, k head g, v head g], r = heads/kv. llama.cpp wants separate q/k/v.
// - HF applies RoPE with rotate_half (NEOX pairing i ↔ i+d/2); llama.cpp's internlm2/llama graphs
//   use adjacent pairs (2i, 2i+1), so q and k rows are permuted within each head, exactly as
//   llama.cpp's `LlamaModel.permute` does. v is not rotated and keeps its order.

/** Row permutation per head: new row 2i+h = old row h·d/2+i (d = rows per head). */
export function permuteForNormRope(w: Float32Array, nHead: number, rowLen: number): Float32Array {
  const rows = w.length / rowLen;
  if (!Number.isInteger(rows) || rows % nHead !== 0) throw new Error(`permute: ${rows} rows are not ${nHead} heads`);
  const d = rows / nHead;
  if (d % 2 !== 0) throw new Error(`permute: head size ${d} is odd`);
  const half = d / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      for (let part = 0; part < 2; part++) {
        const src = (h * d + part * half + i) * rowLen;
        const dst = (h * d + 2 * i + part) * rowLen;
        out.set(w.subarray(src, src + rowLen), dst);
      }
    }
  }
  return out;
}

export interface SplitQkv {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

/** Splits InternLM2's fused wqkv [(heads+2·kv)·d, embd] into q [heads·d, embd], k and v [kv·d, embd] (HF row order). */
export function splitInternLM2Wqkv(w: Float32Array, heads: number, kvHeads: number, headDim: number, embd: number): SplitQkv {
  const r = heads / kvHeads;
  const groupRows = (r + 2) * headDim;
  if (w.length !== kvHeads * groupRows * embd) throw new Error(`wqkv has ${w.length} values, expected ${kvHeads * groupRows * embd}`);
  const block = headDim * embd;
  const q = new Float32Array(heads * block);
  const k = new Float32Array(kvHeads * block);
  const v = new Float32Array(kvHeads * block);
  for (let g = 0; g < kvHeads; g++) {
    const base = g * groupRows * embd;
    for (let j = 0; j < r; j++) q.set(w.subarray(base + j * block, base + (j + 1) * block), (g * r + j) * block);
    k.set(w.subarray(base + r * block, base + (r + 1) * block), g * block);
    v.set(w.subarray(base + (r + 1) * block, base + (r + 2) * block), g * block);
  }
  return { q, k, v };
}

/** Equal thirds of a fused [3·n, …] qkv weight or bias (InternViT's `attn.qkv`). */
export function splitThirds(w: Float32Array): SplitQkv {
  const n = w.length / 3;
  return { q: w.slice(0, n), k: w.slice(n, 2 * n), v: w.slice(2 * n) };
}
