// Float64 reference of the Qwen2 forward pass (HF `Qwen2ForCausalLM`), computed straight from
// the Hugging Face tensors: separate q/k/v projections with biases (o_proj without), RoPE with
// rotate_half (NEOX pairing i ↔ i+d/2) over the whole head, GQA (query head h reads KV head
// h / (heads/kv)), RMSNorm, SiLU-gated FFN, and lm_head or, when tied, the token embedding as
// the output matrix. Plain loops on purpose; it is the oracle for the converted GGUF in libllama.
import { causalAttention, get, rmsNorm, ropeNeox } from './internlm2';

export interface Qwen2Config {
  embd: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ropeTheta: number;
  rmsEps: number;
  tiedEmbeddings: boolean;
}

export type Qwen2Weights = Map<string, { shape: number[]; data: Float64Array }>;

/** y = W x + b for W [out, in] row-major. */
function affine(W: Float64Array, b: Float64Array | null, x: Float64Array, out: number, inDim: number): Float64Array {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

const silu = (x: number) => x / (1 + Math.exp(-x));

/** Logits at every position for `tokens` ([tokens.length][vocab]). */
export function qwen2Logits(w: Qwen2Weights, cfg: Qwen2Config, tokens: ArrayLike<number>): Float64Array[] {
  const n = cfg.embd, d = n / cfg.heads, kv = cfg.kvHeads * d;
  const emb = w.get('language_model.model.embed_tokens.weight');
  if (!emb) throw new Error('reference: missing embed_tokens');
  const V = emb.shape[0];
  const T = tokens.length;
  let xs: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const id = tokens[t];
    if (!(id >= 0 && id < V)) throw new Error(`reference: token ${id} out of range`);
    xs.push(emb.data.slice(id * n, (id + 1) * n));
  }
  for (let l = 0; l < cfg.layers; l++) {
    const p = `language_model.model.layers.${l}.`;
    const attnNorm = get(w, `${p}input_layernorm.weight`, [n]);
    const wq = get(w, `${p}self_attn.q_proj.weight`, [n, n]), bq = get(w, `${p}self_attn.q_proj.bias`, [n]);
    const wk = get(w, `${p}self_attn.k_proj.weight`, [kv, n]), bk = get(w, `${p}self_attn.k_proj.bias`, [kv]);
    const wv = get(w, `${p}self_attn.v_proj.weight`, [kv, n]), bv = get(w, `${p}self_attn.v_proj.bias`, [kv]);
    const wo = get(w, `${p}self_attn.o_proj.weight`, [n, n]);
    const ffnNorm = get(w, `${p}post_attention_layernorm.weight`, [n]);
    const gate = get(w, `${p}mlp.gate_proj.weight`, [cfg.ffn, n]);
    const up = get(w, `${p}mlp.up_proj.weight`, [cfg.ffn, n]);
    const down = get(w, `${p}mlp.down_proj.weight`, [n, cfg.ffn]);
    // q[t][h], k[t][g], v[t][g], heads as contiguous row blocks of d.
    const qs: Float64Array[][] = [], ks: Float64Array[][] = [], vs: Float64Array[][] = [];
    for (let t = 0; t < T; t++) {
      const h = rmsNorm(xs[t], attnNorm, cfg.rmsEps);
      const q = affine(wq, bq, h, n, n), k = affine(wk, bk, h, kv, n), v = affine(wv, bv, h, kv, n);
      qs.push(Array.from({ length: cfg.heads }, (_, i) => ropeNeox(q.slice(i * d, (i + 1) * d), t, cfg.ropeTheta)));
      ks.push(Array.from({ length: cfg.kvHeads }, (_, g) => ropeNeox(k.slice(g * d, (g + 1) * d), t, cfg.ropeTheta)));
      vs.push(Array.from({ length: cfg.kvHeads }, (_, g) => v.slice(g * d, (g + 1) * d)));
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const attn = causalAttention(qs, ks, vs, t);
      const o = affine(wo, null, attn, n, n);
      const hdn = xs[t].map((x, i) => x + o[i]);
      const m = rmsNorm(hdn, ffnNorm, cfg.rmsEps);
      const a = affine(gate, null, m, cfg.ffn, n);
      const b = affine(up, null, m, cfg.ffn, n);
      const f = affine(down, null, a.map((x, i) => silu(x) * b[i]), n, cfg.ffn);
      next.push(hdn.map((x, i) => x + f[i]));
    }
    xs = next;
  }
  const norm = get(w, 'language_model.model.norm.weight', [n]);
  const out = cfg.tiedEmbeddings ? emb.data : get(w, 'language_model.lm_head.weight', [V, n]);
  return xs.map((x) => affine(out, null, rmsNorm(x, norm, cfg.rmsEps), V, n));
}
