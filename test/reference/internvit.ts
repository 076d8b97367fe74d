// Float64 reference for InternViT + pixel shuffle v2 + mlp1, written from the facts sheet (§1.2-1.4, §5.1).
// It is the independent oracle for the ggml implementation: plain loops on purpose, no speed tricks.

export interface RefTensor {
  ne: number[]; // ggml order: ne[0] varies fastest
  data: Float64Array;
}
export type RefWeights = Map<string, RefTensor>;

export interface RefConfig {
  imageSize: number;
  patchSize: number;
  hidden: number;
  heads: number;
  layers: number;
  ffn: number;
  lnEps: number; // ViT LayerNorm, 1e-6
  projLnEps: number; // mlp1.0 LayerNorm, 1e-5 (PyTorch default)
}

// Module-level aliases: looking up Math.* inside Jest's sandbox global is ~20x slower than a local call.
const exp = Math.exp;
const sqrt = Math.sqrt;
const abs = Math.abs;
const SQRT2 = Math.SQRT2;

// ---------------------------------------------------------------------------------------------
// erf / erfc / GELU

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/sqrt(pi)
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1/sqrt(pi)

// erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*...*(2n+1)); all terms share a sign, so no cancellation.
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (abs(term) <= 1e-17 * abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * exp(-x2) * sum;
}

// erfc(x) for x > 0 via the continued fraction exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
// evaluated backwards; only used for x >= 2.5 where it converges well within 300 terms.
function erfcContinuedFraction(x: number): number {
  let t = x;
  for (let k = 300; k >= 1; k--) t = x + k / 2 / t;
  return (ONE_OVER_SQRT_PI * exp(-x * x)) / t;
}

const ERF_SWITCH = 2.5;

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= ERF_SWITCH) return 1 - erfcContinuedFraction(x);
  if (x <= -ERF_SWITCH) return erfcContinuedFraction(-x) - 1;
  return erfSeries(x);
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= ERF_SWITCH) return erfcContinuedFraction(x);
  if (x <= -ERF_SWITCH) return 2 - erfcContinuedFraction(-x);
  return 1 - erfSeries(x);
}

// Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x/sqrt2)) = 0.5 x erfc(-x/sqrt2); erfc keeps accuracy for negative x.
export function geluErf(x: number): number {
  return 0.5 * x * erfc(-x / SQRT2);
}

// ---------------------------------------------------------------------------------------------
// Weight access with shape checks

function trimNe(ne: number[]): number[] {
  const out = ne.slice();
  while (out.length > 1 && out[out.length - 1] === 1) out.pop();
  return out;
}

// Trailing 1s are ignored so [H] and [H,1,1] compare equal.
export function getWeight(weights: RefWeights, name: string, ne: number[]): Float64Array {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing tensor ${name}`);
  const want = trimNe(ne);
  const got = trimNe(t.ne);
  if (want.length !== got.length || want.some((v, i) => v !== got[i])) {
    throw new Error(`reference: ${name} has ne [${t.ne}], expected [${ne}]`);
  }
  const count = ne.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) throw new Error(`reference: ${name} has ${t.data.length} values, expected ${count}`);
  return t.data;
}

export function gridSize(cfg: RefConfig): number {
  const g = cfg.imageSize / cfg.patchSize;
  if (!Number.isInteger(g) || g % 2 !== 0) throw new Error(`reference: image ${cfg.imageSize} / patch ${cfg.patchSize} must be an even integer`);
  return g;
}

export function tokensPerTile(cfg: RefConfig): number {
  const g = gridSize(cfg);
  return (g * g) / 4;
}

export function textEmbdSize(weights: RefWeights): number {
  const t = weights.get('mm.model.mlp.1.weight');
  if (!t || t.ne.length < 2) throw new Error('reference: missing mm.model.mlp.1.weight');
  return t.ne[1];
}

/** Expected GGUF name -> ne for a config (facts §5.1). */
export function refWeightShapes(cfg: RefConfig, nEmbdText: number): Map<string, number[]> {
  const H = cfg.hidden;
  const P = gridSize(cfg) ** 2;
  const p = cfg.patchSize;
  const m = new Map<string, number[]>();
  m.set('v.patch_embd.weight', [p, p, 3, H]);
  m.set('v.patch_embd.bias', [H]);
  m.set('v.class_embd', [H, 1, 1]);
  m.set('v.position_embd.weight', [H, P + 1, 1]);
  for (let l = 0; l < cfg.layers; l++) {
    const b = `v.blk.${l}.`;
    for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_out']) {
      m.set(`${b}${n}.weight`, [H, H]);
      m.set(`${b}${n}.bias`, [H]);
    }
    m.set(`${b}ffn_up.weight`, [H, cfg.ffn]);
    m.set(`${b}ffn_up.bias`, [cfg.ffn]);
    m.set(`${b}ffn_down.weight`, [cfg.ffn, H]);
    m.set(`${b}ffn_down.bias`, [H]);
    for (const n of ['ln1', 'ln2']) {
      m.set(`${b}${n}.weight`, [H]);
      m.set(`${b}${n}.bias`, [H]);
    }
    m.set(`${b}ls1.weight`, [H]);
    m.set(`${b}ls2.weight`, [H]);
  }
  m.set('mm.model.mlp.0.weight', [4 * H]);
  m.set('mm.model.mlp.0.bias', [4 * H]);
  m.set('mm.model.mlp.1.weight', [4 * H, nEmbdText]);
  m.set('mm.model.mlp.1.bias', [nEmbdText]);
  m.set('mm.model.mlp.3.weight', [nEmbdText, nEmbdText]);
  m.set('mm.model.mlp.3.bias', [nEmbdText]);
  return m;
}

/** Deterministic random weights (mulberry32) with scales that keep activations O(1). */
export function randomRefWeights(cfg: RefConfig, nEmbdText: number, seed = 1): RefWeights {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296; // [0,1)
  };
  const w: RefWeights = new Map();
  for (const [name, ne] of refWeightShapes(cfg, nEmbdText)) {
    const n = ne.reduce((a, b) => a * b, 1);
    const data = new Float64Array(n);
    let lo = -1;
    let hi = 1;
    if (name.endsWith('.weight') && ne.length >= 2 && !name.includes('position_embd')) {
      const fanIn = name === 'v.patch_embd.weight' ? ne[0] * ne[1] * ne[2] : ne[0];
      hi = sqrt(3 / fanIn); // unit-variance outputs for unit-variance inputs
      lo = -hi;
    } else if (/\.(ln1|ln2|mlp\.0)\.weight$/.test(name)) {
      lo = 0.5;
      hi = 1.5;
    } else if (/\.ls[12]\.weight$/.test(name)) {
      lo = 0.1;
      hi = 1.0;
    } else if (name.endsWith('.bias')) {
      lo = -0.2;
      hi = 0.2;
    } else {
      lo = -0.5; // class / position embeddings
      hi = 0.5;
    }
    for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * rand();
    w.set(name, { ne: ne.slice(), data });
  }
  return w;
}

// ---------------------------------------------------------------------------------------------
// Building blocks. Activations are row-major [n tokens, C channels]: x[t*C + c].

/** y = x W^T + b with W of ne [inDim, outDim] (element (o,i) at o*inDim + i). */
export function linear(x: Float64Array, n: number, inDim: number, outDim: number, w: Float64Array, b: Float64Array | null): Float64Array {
  if (x.length !== n * inDim) throw new Error('reference: linear input size mismatch');
  const y = new Float64Array(n * outDim);
  for (let t = 0; t < n; t++) {
    for (let o = 0; o < outDim; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) acc += w[o * inDim + i] * x[t * inDim + i];
      y[t * outDim + o] = acc;
    }
  }
  return y;
}

/** Per-token LayerNorm with biased variance (PyTorch semantics). */
export function layerNorm(x: Float64Array, n: number, C: number, w: Float64Array, b: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(n * C);
  for (let t = 0; t < n; t++) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[t * C + c];
    mean /= C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const d = x[t * C + c] - mean;
      v += d * d;
    }
    v /= C;
    const inv = 1 / sqrt(v + eps);
    for (let c = 0; c < C; c++) y[t * C + c] = (x[t * C + c] - mean) * inv * w[c] + b[c];
  }
  return y;
}

/** Unmasked multi-head softmax attention on already-projected q, k, v [n, H]; head h owns channels h*d .. h*d+d-1. */
export function multiHeadAttention(q: Float64Array, k: Float64Array, v: Float64Array, n: number, H: number, heads: number): Float64Array {
  if (H % heads !== 0) throw new Error('reference: hidden not divisible by heads');
  const d = H / heads;
  const scale = 1 / sqrt(d);
  const out = new Float64Array(n * H);
  const scores = new Float64Array(n);
  for (let h = 0; h < heads; h++) {
    const c0 = h * d;
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let e = 0; e < d; e++) s += q[i * H + c0 + e] * k[j * H + c0 + e];
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        scores[j] = exp(scores[j] - max);
        sum += scores[j];
      }
      for (let e = 0; e < d; e++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += scores[j] * v[j * H + c0 + e];
        out[i * H + c0 + e] = acc / sum;
      }
    }
  }
  return out;
}

/**
 * Patch embedding + CLS + position embedding for tile `t` of planar [count,3,S,S] input.
 * Returns [G*G + 1, H]: row 0 = CLS + pos[0], row k+1 = patch k (k = y*G + x) + pos[k+1].
 */
export function embedTile(weights: RefWeights, cfg: RefConfig, tiles: Float32Array | Float64Array, t: number): Float64Array {
  const S = cfg.imageSize;
  const p = cfg.patchSize;
  const H = cfg.hidden;
  const G = gridSize(cfg);
  const P = G * G;
  const pos = weights.get('v.position_embd.weight');
  if (pos && pos.ne.length >= 2 && pos.ne[1] !== P + 1) {
    throw new Error(`reference: position table has ${pos.ne[1]} rows, grid needs ${P + 1} (interpolation not supported)`);
  }
  const convW = getWeight(weights, 'v.patch_embd.weight', [p, p, 3, H]);
  const convB = getWeight(weights, 'v.patch_embd.bias', [H]);
  const cls = getWeight(weights, 'v.class_embd', [H, 1, 1]);
  const posW = getWeight(weights, 'v.position_embd.weight', [H, P + 1, 1]);

  const x = new Float64Array((P + 1) * H);
  for (let o = 0; o < H; o++) x[o] = cls[o] + posW[o];
  for (let py = 0; py < G; py++) {
    for (let px = 0; px < G; px++) {
      const k = py * G + px;
      for (let o = 0; o < H; o++) {
        let acc = convB[o];
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              const pix = tiles[((t * 3 + c) * S + py * p + ky) * S + px * p + kx];
              acc += convW[((o * 3 + c) * p + ky) * p + kx] * pix;
            }
          }
        }
        x[(k + 1) * H + o] = acc + posW[(k + 1) * H + o];
      }
    }
  }
  return x;
}

/** One pre-LN InternViT block, returns the new residual stream [n, H]. */
export function vitBlock(weights: RefWeights, cfg: RefConfig, layer: number, x: Float64Array, n: number): Float64Array {
  const H = cfg.hidden;
  const F = cfg.ffn;
  const b = `v.blk.${layer}.`;
  const g = (name: string, ne: number[]) => getWeight(weights, b + name, ne);

  // x = x + ls1 * proj(Attn(LN1(x)))
  const h1 = layerNorm(x, n, H, g('ln1.weight', [H]), g('ln1.bias', [H]), cfg.lnEps);
  const q = linear(h1, n, H, H, g('attn_q.weight', [H, H]), g('attn_q.bias', [H]));
  const k = linear(h1, n, H, H, g('attn_k.weight', [H, H]), g('attn_k.bias', [H]));
  const v = linear(h1, n, H, H, g('attn_v.weight', [H, H]), g('attn_v.bias', [H]));
  const att = multiHeadAttention(q, k, v, n, H, cfg.heads);
  const proj = linear(att, n, H, H, g('attn_out.weight', [H, H]), g('attn_out.bias', [H]));
  const ls1 = g('ls1.weight', [H]);
  const x1 = new Float64Array(n * H);
  for (let t = 0; t < n; t++) for (let c = 0; c < H; c++) x1[t * H + c] = x[t * H + c] + ls1[c] * proj[t * H + c];

  // x = x + ls2 * fc2(GELU(fc1(LN2(x))))
  const h2 = layerNorm(x1, n, H, g('ln2.weight', [H]), g('ln2.bias', [H]), cfg.lnEps);
  const up = linear(h2, n, H, F, g('ffn_up.weight', [H, F]), g('ffn_up.bias', [F]));
  for (let i = 0; i < up.length; i++) up[i] = geluErf(up[i]);
  const down = linear(up, n, F, H, g('ffn_down.weight', [F, H]), g('ffn_down.bias', [H]));
  const ls2 = g('ls2.weight', [H]);
  const x2 = new Float64Array(n * H);
  for (let t = 0; t < n; t++) for (let c = 0; c < H; c++) x2[t * H + c] = x1[t * H + c] + ls2[c] * down[t * H + c];
  return x2;
}

/** Full ViT for one tile: [G*G + 1, H] including CLS at row 0 (no final norm). */
export function vitForward(weights: RefWeights, cfg: RefConfig, tiles: Float32Array | Float64Array, t: number): Float64Array {
  const G = gridSize(cfg);
  const n = G * G + 1;
  let x = embedTile(weights, cfg, tiles, t);
  for (let l = 0; l < cfg.layers; l++) x = vitBlock(weights, cfg, l, x, n);
  return x;
}

/**
 * Pixel shuffle v2 (scale 0.5) of a patch grid [G*G, C] (patch (a,b) at row a*G + b).
 * Output [(G/2)^2, 4C]; token r*(G/2) + q = X[2r,2q] | X[2r,2q+1] | X[2r+1,2q] | X[2r+1,2q+1].
 */
export function pixelShuffleV2(grid: Float64Array, G: number, C: number): Float64Array {
  if (G % 2 !== 0) throw new Error('reference: grid side must be even');
  if (grid.length !== G * G * C) throw new Error('reference: pixelShuffleV2 input size mismatch');
  const half = G / 2;
  const out = new Float64Array(half * half * 4 * C);
  for (let r = 0; r < half; r++) {
    for (let q = 0; q < half; q++) {
      const tok = r * half + q;
      const sources = [
        [2 * r, 2 * q],
        [2 * r, 2 * q + 1],
        [2 * r + 1, 2 * q],
        [2 * r + 1, 2 * q + 1],
      ];
      for (let s = 0; s < 4; s++) {
        const [a, b] = sources[s];
        for (let c = 0; c < C; c++) out[tok * 4 * C + s * C + c] = grid[(a * G + b) * C + c];
      }
    }
  }
  return out;
}

/** mlp1: LayerNorm(4H) -> Linear(4H->E) -> GELU(erf) -> Linear(E->E). Input [n, 4H], output [n, E]. */
export function projectMlp1(weights: RefWeights, cfg: RefConfig, x: Float64Array, n: number): Float64Array {
  const C = 4 * cfg.hidden;
  const E = textEmbdSize(weights);
  const h = layerNorm(x, n, C, getWeight(weights, 'mm.model.mlp.0.weight', [C]), getWeight(weights, 'mm.model.mlp.0.bias', [C]), cfg.projLnEps);
  const a = linear(h, n, C, E, getWeight(weights, 'mm.model.mlp.1.weight', [C, E]), getWeight(weights, 'mm.model.mlp.1.bias', [E]));
  for (let i = 0; i < a.length; i++) a[i] = geluErf(a[i]);
  return linear(a, n, E, E, getWeight(weights, 'mm.model.mlp.3.weight', [E, E]), getWeight(weights, 'mm.model.mlp.3.bias', [E]));
}

/** Encode one tile: ViT -> drop CLS -> pixel shuffle v2 -> mlp1. Returns [tokensPerTile, E]. */
export function encodeTile(weights: RefWeights, cfg: RefConfig, tiles: Float32Array | Float64Array, t: number): Float64Array {
  const G = gridSize(cfg);
  const H = cfg.hidden;
  const vit = vitForward(weights, cfg, tiles, t);
  const patches = vit.slice(H); // drop CLS (row 0)
  const shuffled = pixelShuffleV2(patches, G, H);
  return projectMlp1(weights, cfg, shuffled, (G * G) / 4);
}

/**
 * tiles: planar [count, 3, S, S], already normalized. Returns [count * tokensPerTile, E] row-major, tile-major.
 */
export function referenceEncode(weights: RefWeights, cfg: RefConfig, tiles: Float32Array | Float64Array, count: number): Float64Array {
  const S = cfg.imageSize;
  if (tiles.length !== count * 3 * S * S) throw new Error(`reference: expected ${count * 3 * S * S} pixel values, got ${tiles.length}`);
  const n = tokensPerTile(cfg);
  const E = textEmbdSize(weights);
  const out = new Float64Array(count * n * E);
  for (let t = 0; t < count; t++) out.set(encodeTile(weights, cfg, tiles, t), t * n * E);
  return out;
}
