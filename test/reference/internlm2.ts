// Float64 reference of the InternLM2 forward pass, computed straight from the Hugging Face
// tensors (facts §1.5): fused `wqkv` grouped by KV head, RoPE with rotate_half (NEOX pairing
// i ↔ i+d/2), GQA (query head h reads KV head h / (heads/kv)), RMSNorm, SiLU-gated FFN, untied
// output. Plain loops on purpose; it is the oracle for the converted GGUF running in libllama.

export interface Internlm2Config {
  embd: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ropeTheta: number;
  rmsEps: number;
}

/** HF name → row-major values and PyTorch shape. */
export type Internlm2Weights = Map<string, { shape: number[]; data: Float64Array }>;

/** A weight by HF name, checked against the shape the forward expects. */
export function get(w: Internlm2Weights, name: string, shape: number[]): Float64Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`reference: ${name} has shape [${t.shape}], expected [${shape}]`);
  return t.data;
}

/** y = W x for W [out, in] row-major. */
function matvec(W: Float64Array, x: Float64Array, out: number, inDim: number): Float64Array {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

export function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

/** rotate_half RoPE on one head vector at position `pos` (HF `apply_rotary_pos_emb`). */
export function ropeNeox(v: Float64Array, pos: number, theta: number): Float64Array {
  const d = v.length;
  const half = d / 2;
  const out = new Float64Array(d);
  for (let i = 0; i < half; i++) {
    const angle = pos * Math.pow(theta, (-2 * i) / d);
    const c = Math.cos(angle), s = Math.sin(angle);
    out[i] = v[i] * c - v[i + half] * s;
    out[i + half] = v[i + half] * c + v[i] * s;
  }
  return out;
}

const silu = (x: number) => x / (1 + Math.exp(-x));

/** Logits at every position for `tokens` ([tokens.length][vocab]). */
export function internlm2Logits(w: Internlm2Weights, cfg: Internlm2Config, tokens: ArrayLike<number>): Float64Array[] {
  const n = cfg.embd, d = n / cfg.heads, r = cfg.heads / cfg.kvHeads;
  const emb = w.get('language_model.model.tok_embeddings.weight');
  if (!emb) throw new Error('reference: missing tok_embeddings');
  const V = emb.shape[0];
  const T = tokens.length;
  // x[t] per position, advanced layer by layer.
  let xs: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const id = tokens[t];
    if (!(id >= 0 && id < V)) throw new Error(`reference: token ${id} out of range`);
    xs.push(emb.data.slice(id * n, (id + 1) * n));
  }
  for (let l = 0; l < cfg.layers; l++) {
    const p = `language_model.model.layers.${l}.`;
    const wqkv = get(w, `${p}attention.wqkv.weight`, [(cfg.heads + 2 * cfg.kvHeads) * d, n]);
    const wo = get(w, `${p}attention.wo.weight`, [n, n]);
    const attnNorm = get(w, `${p}attention_norm.weight`, [n]);
    const ffnNorm = get(w, `${p}ffn_norm.weight`, [n]);
    const w1 = get(w, `${p}feed_forward.w1.weight`, [cfg.ffn, n]);
    const w2 = get(w, `${p}feed_forward.w2.weight`, [n, cfg.ffn]);
    const w3 = get(w, `${p}feed_forward.w3.weight`, [cfg.ffn, n]);
    // q[t][h], k[t][g], v[t][g]: the fused output viewed as (kv, r+2, d), as ILM's forward does.
    const qs: Float64Array[][] = [], ks: Float64Array[][] = [], vs: Float64Array[][] = [];
    for (let t = 0; t < T; t++) {
      const qkv = matvec(wqkv, rmsNorm(xs[t], attnNorm, cfg.rmsEps), (cfg.heads + 2 * cfg.kvHeads) * d, n);
      const q: Float64Array[] = [], k: Float64Array[] = [], v: Float64Array[] = [];
      for (let g = 0; g < cfg.kvHeads; g++) {
        const base = g * (r + 2) * d;
        for (let j = 0; j < r; j++) q.push(ropeNeox(qkv.slice(base + j * d, base + (j + 1) * d), t, cfg.ropeTheta));
        k.push(ropeNeox(qkv.slice(base + r * d, base + (r + 1) * d), t, cfg.ropeTheta));
        v.push(qkv.slice(base + (r + 1) * d, base + (r + 2) * d));
      }
      qs.push(q);
      ks.push(k);
      vs.push(v);
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const attn = causalAttention(qs, ks, vs, t);
      const o = matvec(wo, attn, n, n);
      const hdn = xs[t].map((x, i) => x + o[i]);
      const m = rmsNorm(hdn, ffnNorm, cfg.rmsEps);
      const a = matvec(w1, m, cfg.ffn, n);
      const b = matvec(w3, m, cfg.ffn, n);
      const f = matvec(w2, a.map((x, i) => silu(x) * b[i]), n, cfg.ffn);
      next.push(hdn.map((x, i) => x + f[i]));
    }
    xs = next;
  }
  const norm = get(w, 'language_model.model.norm.weight', [n]);
  const out = get(w, 'language_model.output.weight', [V, n]);
  return xs.map((x) => matvec(out, rmsNorm(x, norm, cfg.rmsEps), V, n));
}

/**
 * Position t's attention output over positions 0..t, all heads side by side: softmax(q·k/√d) per
 * head, query head h reading KV head h / (heads / kvHeads). qs[t][h], ks[u][g], vs[u][g] are roped
 * head vectors.
 */
export function causalAttention(qs: Float64Array[][], ks: Float64Array[][], vs: Float64Array[][], t: number): Float64Array {
  const heads = qs[t].length, d = qs[t][0].length, r = heads / ks[0].length;
  const attn = new Float64Array(heads * d);
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / r);
    const scores = new Float64Array(t + 1);
    let max = -Infinity;
    for (let u = 0; u <= t; u++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += qs[t][h][i] * ks[u][g][i];
      scores[u] = s / Math.sqrt(d);
      max = Math.max(max, scores[u]);
    }
    let sum = 0;
    for (let u = 0; u <= t; u++) sum += scores[u] = Math.exp(scores[u] - max);
    for (let u = 0; u <= t; u++) for (let i = 0; i < d; i++) attn[h * d + i] += (scores[u] / sum) * vs[u][g][i];
  }
  return attn;
}
