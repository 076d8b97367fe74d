// Float64 reference of SCM's pre-pass (facts §4), on the GGUF tensors in llama.cpp's layout:
// layer 0 of the text model in full, layer 1's roped Q and K, the attention probabilities of
// every row after a detail block onto that block (each row's softmax over its whole causal range),
// mean over rows then heads, top floor(H * keep) in original order. Plain loops on purpose.
import { rmsNorm } from './internlm2';
import type { RefWeights } from './internvit';

export interface LlmRefConfig {
  embd: number;
  heads: number;
  kvHeads: number;
  rmsEps: number;
  ropeTheta: number;
  /** 'norm': rotate pairs (2i, 2i+1) (internlm2/llama in GGUF); 'neox': pairs (i, i + d/2) (qwen2). */
  rope: 'norm' | 'neox';
}

function w(weights: RefWeights, name: string): Float64Array {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

function opt(weights: RefWeights, name: string): Float64Array | null {
  return weights.get(name)?.data ?? null;
}

/** y = W x (+ b) for a GGUF matrix with ne = [inDim, out] (row o at o * inDim). */
function linear(W: Float64Array, x: Float64Array, inDim: number, out: number, b: Float64Array | null): Float64Array {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inDim; i++) s += W[o * inDim + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rope(v: Float64Array, pos: number, cfg: LlmRefConfig): Float64Array {
  const d = v.length;
  const out = new Float64Array(d);
  for (let i = 0; i < d / 2; i++) {
    const a = pos * Math.pow(cfg.ropeTheta, (-2 * i) / d);
    const c = Math.cos(a), s = Math.sin(a);
    const [p, q] = cfg.rope === 'norm' ? [2 * i, 2 * i + 1] : [i, i + d / 2];
    out[p] = v[p] * c - v[q] * s;
    out[q] = v[q] * c + v[p] * s;
  }
  return out;
}

/** Per position: roped q heads and k heads (and v heads) of layer `l`. */
function qkv(weights: RefWeights, cfg: LlmRefConfig, l: number, xs: Float64Array[], withV: boolean) {
  const n = cfg.embd, d = n / cfg.heads, g = cfg.kvHeads * d;
  const b = `blk.${l}.`;
  const qs: Float64Array[][] = [], ks: Float64Array[][] = [], vs: Float64Array[][] = [];
  xs.forEach((x, t) => {
    const h = rmsNorm(x, w(weights, `${b}attn_norm.weight`), cfg.rmsEps);
    const q = linear(w(weights, `${b}attn_q.weight`), h, n, n, opt(weights, `${b}attn_q.bias`));
    const k = linear(w(weights, `${b}attn_k.weight`), h, n, g, opt(weights, `${b}attn_k.bias`));
    qs.push(Array.from({ length: cfg.heads }, (_, i) => rope(q.slice(i * d, (i + 1) * d), t, cfg)));
    ks.push(Array.from({ length: cfg.kvHeads }, (_, i) => rope(k.slice(i * d, (i + 1) * d), t, cfg)));
    if (withV) {
      const v = linear(w(weights, `${b}attn_v.weight`), h, n, g, opt(weights, `${b}attn_v.bias`));
      vs.push(Array.from({ length: cfg.kvHeads }, (_, i) => v.slice(i * d, (i + 1) * d)));
    }
  });
  return { qs, ks, vs };
}

/** Softmax of row t over keys 0..t for head h. */
function probsRow(qs: Float64Array[][], ks: Float64Array[][], t: number, h: number, cfg: LlmRefConfig): Float64Array {
  const d = cfg.embd / cfg.heads;
  const kvh = Math.floor(h / (cfg.heads / cfg.kvHeads));
  const p = new Float64Array(t + 1);
  let max = -Infinity;
  for (let u = 0; u <= t; u++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += qs[t][h][i] * ks[u][kvh][i];
    p[u] = s / Math.sqrt(d);
    max = Math.max(max, p[u]);
  }
  let sum = 0;
  for (let u = 0; u <= t; u++) sum += p[u] = Math.exp(p[u] - max);
  return p.map((v) => v / sum);
}

/** Decoder layer 0 over the input rows. */
export function layer0(weights: RefWeights, cfg: LlmRefConfig, xs: Float64Array[]): Float64Array[] {
  const n = cfg.embd, d = n / cfg.heads;
  const ffn = weights.get('blk.0.ffn_gate.weight')!.ne[1];
  const { qs, ks, vs } = qkv(weights, cfg, 0, xs, true);
  return xs.map((x, t) => {
    const attn = new Float64Array(n);
    for (let h = 0; h < cfg.heads; h++) {
      const p = probsRow(qs, ks, t, h, cfg);
      const kvh = Math.floor(h / (cfg.heads / cfg.kvHeads));
      for (let u = 0; u <= t; u++) for (let i = 0; i < d; i++) attn[h * d + i] += p[u] * vs[u][kvh][i];
    }
    const o = linear(w(weights, 'blk.0.attn_output.weight'), attn, n, n, opt(weights, 'blk.0.attn_output.bias'));
    const h1 = x.map((v, i) => v + o[i]);
    const m = rmsNorm(h1, w(weights, 'blk.0.ffn_norm.weight'), cfg.rmsEps);
    const a = linear(w(weights, 'blk.0.ffn_gate.weight'), m, n, ffn, null);
    const b = linear(w(weights, 'blk.0.ffn_up.weight'), m, n, ffn, null);
    const f = linear(w(weights, 'blk.0.ffn_down.weight'), a.map((v, i) => (v / (1 + Math.exp(-v))) * b[i]), ffn, n, null);
    return h1.map((v, i) => v + f[i]);
  });
}

export interface ScmReference {
  layer0: Float64Array[];
  scores: Float64Array[];
  kept: number[][];
}

/** SCM's scores and kept positions for `blocks` of the prompt rows `xs`. */
export function scmReference(
  weights: RefWeights, cfg: LlmRefConfig, xs: Float64Array[], blocks: { start: number; length: number }[], keep: number,
): ScmReference {
  const out0 = layer0(weights, cfg, xs);
  const { qs, ks } = qkv(weights, cfg, 1, out0, false);
  const scores = blocks.map(({ start, length }) => {
    const sum = new Float64Array(length);
    let rows = 0;
    for (let t = start + length; t < xs.length; t++, rows++) {
      for (let h = 0; h < cfg.heads; h++) {
        const p = probsRow(qs, ks, t, h, cfg);
        for (let j = 0; j < length; j++) sum[j] += p[start + j];
      }
    }
    return sum.map((v) => v / (rows * cfg.heads));
  });
  const kept = blocks.map(({ start, length }, i) => {
    const order = Array.from({ length }, (_, j) => j).sort((a, b) => scores[i][b] - scores[i][a] || a - b);
    return order.slice(0, Math.floor(length * keep)).sort((a, b) => a - b).map((j) => j + start);
  });
  return { layer0: out0, scores, kept };
}
