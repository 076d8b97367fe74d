import {
  RefConfig,
  RefWeights,
  embedTile,
  erf,
  erfc,
  geluErf,
  layerNorm,
  multiHeadAttention,
  pixelShuffleV2,
  projectMlp1,
  randomRefWeights,
  referenceEncode,
  refWeightShapes,
  tokensPerTile,
  vitForward,
} from './internvit';

// The tiny test model of the suite.
const TINY: RefConfig = { imageSize: 448, patchSize: 14, hidden: 32, heads: 2, layers: 2, ffn: 64, lnEps: 1e-6, projLnEps: 1e-5 };
const TINY_E = 64;

function randomTiles(count: number, S: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(count * 3 * S * S);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 4 - 2; // roughly the range of ImageNet-normalized pixels
  }
  return out;
}

function cloneWeights(w: RefWeights): RefWeights {
  const c: RefWeights = new Map();
  for (const [k, v] of w) c.set(k, { ne: v.ne.slice(), data: v.data.slice() });
  return c;
}

function maxAbsDiff(a: Float64Array, b: Float64Array, from = 0, to = a.length): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('erf / GELU', () => {
  // Values from CPython math.erf / math.erfc.
  const erfCases: [number, number][] = [
    [0, 0],
    [1e-3, 0.0011283787909692365],
    [0.1, 0.1124629160182849],
    [0.25, 0.2763263901682369],
    [0.5, 0.5204998778130465],
    [-0.75, -0.7111556336535151],
    [1, 0.8427007929497149],
    [1.5, 0.9661051464753108],
    [-2, -0.9953222650189527],
    [2.2, 0.9981371537020182],
    [2.75, 0.9998993780778803],
    [2.9, 0.9999589021219005],
    [3, 0.9999779095030014],
    [3.1, 0.9999883513426328],
    [4, 0.9999999845827421],
    [5.5, 0.9999999999999927],
  ];
  test.each(erfCases)('erf(%p)', (x, want) => {
    expect(Math.abs(erf(x) - want)).toBeLessThanOrEqual(2e-16 + 2e-15 * Math.abs(want));
  });

  test('erf is odd and saturates', () => {
    for (const x of [0.3, 1.7, 2.49, 2.5, 2.51, 7]) expect(erf(-x)).toBe(-erf(x));
    expect(erf(30)).toBe(1);
    expect(erf(-30)).toBe(-1);
  });

  // The tail matters for GELU of negative inputs: check erfc relative accuracy.
  const erfcCases: [number, number][] = [
    [2.5, 0.0004069520174449589],
    [3, 2.2090496998585438e-5],
    [4, 1.541725790028002e-8],
    [5, 1.5374597944280351e-12],
    [6, 2.1519736712498916e-17],
    [10, 2.088487583762545e-45],
  ];
  test.each(erfcCases)('erfc(%p) relative accuracy', (x, want) => {
    expect(Math.abs(erfc(x) - want) / want).toBeLessThan(1e-13);
  });

  test('series and continued fraction agree around the switch point', () => {
    // erfc(2.5 - tiny) comes from the series, erfc(2.5) from the continued fraction.
    const a = erfc(2.5 - 1e-12);
    const b = erfc(2.5);
    expect(Math.abs(a - b) / b).toBeLessThan(1e-10);
  });

  test('GELU is the exact erf form, not the tanh approximation', () => {
    const cases: [number, number][] = [
      [1, 0.8413447460685429],
      [-1, -0.15865525393145707],
      [-3, -0.004049694094890287],
      [2.5, 2.4844758366855597],
      [0.3, 0.18537342665668577],
      [-6, -5.919525870226207e-9],
    ];
    for (const [x, want] of cases) expect(Math.abs(geluErf(x) - want)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(want)));
    const tanhGelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    expect(Math.abs(geluErf(-3) - tanhGelu(-3))).toBeGreaterThan(1e-5);
  });
});

describe('building blocks', () => {
  test('LayerNorm uses the biased variance', () => {
    const y = layerNorm(new Float64Array([1, 2, 3, 4]), 1, 4, new Float64Array([1, 1, 1, 1]), new Float64Array([0, 0, 0, 0]), 0);
    const s = Math.sqrt(1.25); // var = mean((x-2.5)^2) = 1.25
    expect(Array.from(y)).toEqual([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
  });

  test('attention splits heads head-major, scale d^-0.5, no mask', () => {
    // n=3 tokens, H=4, 2 heads of d=2. Head 0 = channels 0..1, head 1 = channels 2..3.
    const n = 3;
    const H = 4;
    const q = new Float64Array([1, 2, 0, 0, 0, 0, 0, 0, -1, 0.5, 0, 0]); // head 1 queries are zero -> uniform
    const k = new Float64Array([0.3, -0.2, 5, 5, 1, 1, -5, 5, -0.4, 0.9, 5, -5]);
    const v = new Float64Array([1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000]);
    const out = multiHeadAttention(q, k, v, n, H, 2);
    for (let i = 0; i < n; i++) {
      // Head 0 explicitly.
      const s = [0, 1, 2].map((j) => (q[i * H] * k[j * H] + q[i * H + 1] * k[j * H + 1]) / Math.SQRT2);
      const m = Math.max(...s);
      const p = s.map((z) => Math.exp(z - m));
      const z = p[0] + p[1] + p[2];
      expect(out[i * H + 0]).toBeCloseTo((p[0] * 1 + p[1] * 2 + p[2] * 3) / z, 12);
      expect(out[i * H + 1]).toBeCloseTo((p[0] * 10 + p[1] * 20 + p[2] * 30) / z, 11);
      // Head 1: zero queries -> plain mean of its own value channels (token 2 is not masked).
      expect(out[i * H + 2]).toBeCloseTo(200, 10);
      expect(out[i * H + 3]).toBeCloseTo(2000, 9);
    }
  });

  test('mlp1: LayerNorm(eps = projLnEps) -> fc1 -> GELU -> fc2, weights indexed (row o, col i) = o*in + i', () => {
    const cfg: RefConfig = { imageSize: 28, patchSize: 14, hidden: 2, heads: 1, layers: 0, ffn: 2, lnEps: 1e-6, projLnEps: 1e-5 };
    const w: RefWeights = new Map();
    w.set('mm.model.mlp.0.weight', { ne: [8], data: new Float64Array(8).fill(1) });
    w.set('mm.model.mlp.0.bias', { ne: [8], data: new Float64Array(8) });
    // fc1 rows: out0 = 2*in0, out1 = 2*in1 + 0.5*in2
    const fc1 = new Float64Array(16);
    fc1[0 * 8 + 0] = 2;
    fc1[1 * 8 + 1] = 2;
    fc1[1 * 8 + 2] = 0.5;
    w.set('mm.model.mlp.1.weight', { ne: [8, 2], data: fc1 });
    w.set('mm.model.mlp.1.bias', { ne: [2], data: new Float64Array([0.1, 0]) });
    w.set('mm.model.mlp.3.weight', { ne: [2, 2], data: new Float64Array([1, 1, 0, 1]) }); // out0 = g0 + g1, out1 = g1
    w.set('mm.model.mlp.3.bias', { ne: [2], data: new Float64Array([0, -0.25]) });
    // Variance 1e-6 is comparable to eps, so 1e-5 vs 1e-6 matters.
    const x = new Float64Array([1e-3, -1e-3, 1e-3, -1e-3, 1e-3, -1e-3, 1e-3, -1e-3]);
    const out = projectMlp1(w, cfg, x, 1);
    const s = 1e-3 / Math.sqrt(1e-6 + 1e-5);
    const g0 = geluErf(2 * s + 0.1);
    const g1 = geluErf(-2 * s + 0.5 * s);
    expect(out[0]).toBeCloseTo(g0 + g1, 14);
    expect(out[1]).toBeCloseTo(g1 - 0.25, 14);
  });

  test('patch embedding: Conv2d weight index ((oc*3+c)*p+ky)*p+kx, patches row-major, CLS first', () => {
    const cfg: RefConfig = { imageSize: 28, patchSize: 14, hidden: 4, heads: 1, layers: 0, ffn: 4, lnEps: 1e-6, projLnEps: 1e-5 };
    const p = 14;
    const S = 28;
    const G = 2;
    const H = 4;
    const w = randomRefWeights(cfg, 8, 3);
    // Each output channel picks one (c, ky, kx) tap.
    const taps: [number, number, number][] = [
      [0, 0, 0],
      [1, 3, 7],
      [2, 13, 1],
      [0, 5, 13],
    ];
    const conv = new Float64Array(p * p * 3 * H);
    taps.forEach(([c, ky, kx], oc) => (conv[((oc * 3 + c) * p + ky) * p + kx] = 1));
    w.set('v.patch_embd.weight', { ne: [p, p, 3, H], data: conv });
    const tiles = new Float64Array(2 * 3 * S * S);
    // Tile 1 carries the pattern; tile 0 is different so we also check the tile offset.
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          tiles[((1 * 3 + c) * S + y) * S + x] = c * 10000 + y * 100 + x;
          tiles[((0 * 3 + c) * S + y) * S + x] = -1;
        }
    const emb = embedTile(w, cfg, tiles, 1);
    const bias = w.get('v.patch_embd.bias')!.data;
    const cls = w.get('v.class_embd')!.data;
    const pos = w.get('v.position_embd.weight')!.data;
    for (let o = 0; o < H; o++) expect(emb[o]).toBeCloseTo(cls[o] + pos[o], 12);
    for (let py = 0; py < G; py++)
      for (let px = 0; px < G; px++) {
        const k = py * G + px;
        taps.forEach(([c, ky, kx], o) => {
          const pix = c * 10000 + (py * p + ky) * 100 + (px * p + kx);
          expect(emb[(k + 1) * H + o]).toBeCloseTo(pix + bias[o] + pos[(k + 1) * H + o], 9);
        });
      }
  });

  test('blocks with ls1 = ls2 = 0 are the identity (layer scale multiplies the branch output)', () => {
    const cfg: RefConfig = { imageSize: 56, patchSize: 14, hidden: 8, heads: 2, layers: 2, ffn: 16, lnEps: 1e-6, projLnEps: 1e-5 };
    const w = randomRefWeights(cfg, 8, 5);
    const tiles = randomTiles(1, 56, 9);
    const full = vitForward(w, cfg, tiles, 0);
    for (let l = 0; l < 2; l++) {
      w.get(`v.blk.${l}.ls1.weight`)!.data.fill(0);
      w.get(`v.blk.${l}.ls2.weight`)!.data.fill(0);
    }
    const ident = vitForward(w, cfg, tiles, 0);
    expect(Array.from(ident)).toEqual(Array.from(embedTile(w, cfg, tiles, 0)));
    expect(maxAbsDiff(full, ident)).toBeGreaterThan(1e-3);
  });

  test('shape checks: wrong position row count and wrong weight ne throw', () => {
    const cfg: RefConfig = { imageSize: 56, patchSize: 14, hidden: 8, heads: 2, layers: 1, ffn: 16, lnEps: 1e-6, projLnEps: 1e-5 };
    const tiles = randomTiles(1, 56, 1);
    const w = randomRefWeights(cfg, 8, 1);
    const w2 = cloneWeights(w);
    w2.set('v.position_embd.weight', { ne: [8, 16, 1], data: new Float64Array(8 * 16) }); // G^2 rows, no CLS row
    expect(() => referenceEncode(w2, cfg, tiles, 1)).toThrow(/position table/);
    const w3 = cloneWeights(w);
    w3.set('v.blk.0.ffn_up.weight', { ne: [16, 8], data: new Float64Array(128) }); // transposed
    expect(() => referenceEncode(w3, cfg, tiles, 1)).toThrow(/ffn_up/);
    expect(() => referenceEncode(w, cfg, tiles, 2)).toThrow(/pixel values/);
  });
});

describe('pixel shuffle v2', () => {
  // Patch (a, b) channel c holds a*10000 + b*100 + c.
  function codedGrid(G: number, C: number): Float64Array {
    const g = new Float64Array(G * G * C);
    for (let a = 0; a < G; a++) for (let b = 0; b < G; b++) for (let c = 0; c < C; c++) g[(a * G + b) * C + c] = a * 10000 + b * 100 + c;
    return g;
  }

  test('explicit channel layout for several tokens (G=32, C=3)', () => {
    const G = 32;
    const C = 3;
    const out = pixelShuffleV2(codedGrid(G, C), G, C);
    expect(out.length).toBe(256 * 12);
    const tok = (t: number) => Array.from(out.subarray(t * 12, t * 12 + 12));
    const code = (a: number, b: number) => [0, 1, 2].map((c) => a * 10000 + b * 100 + c);
    // token t = r*16 + q: X[2r,2q] | X[2r,2q+1] | X[2r+1,2q] | X[2r+1,2q+1]
    expect(tok(0)).toEqual([...code(0, 0), ...code(0, 1), ...code(1, 0), ...code(1, 1)]);
    expect(tok(1)).toEqual([...code(0, 2), ...code(0, 3), ...code(1, 2), ...code(1, 3)]);
    expect(tok(16)).toEqual([...code(2, 0), ...code(2, 1), ...code(3, 0), ...code(3, 1)]);
    expect(tok(3 * 16 + 5)).toEqual([...code(6, 10), ...code(6, 11), ...code(7, 10), ...code(7, 11)]);
    expect(tok(255)).toEqual([...code(30, 30), ...code(30, 31), ...code(31, 30), ...code(31, 31)]);
  });

  // Independent derivation: replay InternVL's pixel_shuffle view/permute chain on a row-major tensor.
  function permute(data: Float64Array, shape: number[], perm: number[]): { data: Float64Array; shape: number[] } {
    const outShape = perm.map((p) => shape[p]);
    const inStride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const out = new Float64Array(data.length);
    const idx = new Array(outShape.length).fill(0);
    for (let o = 0; o < data.length; o++) {
      let src = 0;
      for (let d = 0; d < outShape.length; d++) src += idx[d] * inStride[perm[d]];
      out[o] = data[src];
      for (let d = outShape.length - 1; d >= 0; d--) {
        if (++idx[d] < outShape[d]) break;
        idx[d] = 0;
      }
    }
    return { data: out, shape: outShape };
  }

  test.each([
    [4, 2],
    [8, 3],
    [32, 5],
  ])('matches the PyTorch view/permute chain (G=%p, C=%p)', (G, C) => {
    const grid = codedGrid(G, C);
    // vit_embeds.reshape(n, h, w, C) with h = rows; pixel_shuffle names the dims (n, w, h, c).
    // view(n, w, h/2, 2c) -> permute(0,2,1,3) -> view(n, h/2, w/2, 4c) -> permute(0,2,1,3) [v2] -> reshape(n, -1, 4c)
    let x = { data: grid, shape: [G, G / 2, 2 * C] };
    x = permute(x.data, x.shape, [1, 0, 2]);
    x = { data: x.data, shape: [G / 2, G / 2, 4 * C] };
    x = permute(x.data, x.shape, [1, 0, 2]);
    expect(Array.from(pixelShuffleV2(grid, G, C))).toEqual(Array.from(x.data));
  });
});

describe('CLS handling', () => {
  const cfg0: RefConfig = { ...TINY, imageSize: 112, layers: 0 }; // G = 8, 16 output tokens
  const G = 8;
  const H = cfg0.hidden;

  function bumpPosRow(w: RefWeights, row: number): RefWeights {
    const c = cloneWeights(w);
    const pos = c.get('v.position_embd.weight')!.data;
    for (let ch = 0; ch < H; ch++) pos[row * H + ch] += 0.7 + 0.01 * ch;
    return c;
  }

  const w = randomRefWeights(cfg0, TINY_E, 11);
  const tiles = randomTiles(1, cfg0.imageSize, 4);
  const base = referenceEncode(w, cfg0, tiles, 1);
  const tokChanged = (out: Float64Array) => {
    const changed: number[] = [];
    for (let t = 0; t < 16; t++) if (maxAbsDiff(out, base, t * TINY_E, (t + 1) * TINY_E) > 0) changed.push(t);
    return changed;
  };

  test('with 0 layers, position row 0 (CLS) does not reach the output', () => {
    expect(tokChanged(referenceEncode(bumpPosRow(w, 0), cfg0, tiles, 1))).toEqual([]);
  });

  test('with 0 layers, position row k+1 reaches exactly the token holding patch k', () => {
    // patch k = y*G + x lives in output token (y>>1)*(G/2) + (x>>1)
    expect(tokChanged(referenceEncode(bumpPosRow(w, 1), cfg0, tiles, 1))).toEqual([0]); // patch (0,0)
    expect(tokChanged(referenceEncode(bumpPosRow(w, 2), cfg0, tiles, 1))).toEqual([0]); // patch (0,1)
    expect(tokChanged(referenceEncode(bumpPosRow(w, 3), cfg0, tiles, 1))).toEqual([1]); // patch (0,2)
    expect(tokChanged(referenceEncode(bumpPosRow(w, 1 + G), cfg0, tiles, 1))).toEqual([0]); // patch (1,0)
    expect(tokChanged(referenceEncode(bumpPosRow(w, 1 + 2 * G), cfg0, tiles, 1))).toEqual([4]); // patch (2,0)
    expect(tokChanged(referenceEncode(bumpPosRow(w, G * G), cfg0, tiles, 1))).toEqual([15]); // last patch
  });

  test('with 0 layers, the class embedding does not reach the output', () => {
    const c = cloneWeights(w);
    c.get('v.class_embd')!.data.fill(3);
    expect(tokChanged(referenceEncode(c, cfg0, tiles, 1))).toEqual([]);
  });

  test('with 1 layer, CLS takes part in attention (row 0 changes every token)', () => {
    const cfg1: RefConfig = { ...cfg0, layers: 1 };
    const w1 = randomRefWeights(cfg1, TINY_E, 12);
    const a = referenceEncode(w1, cfg1, tiles, 1);
    const b = referenceEncode(bumpPosRow(w1, 0), cfg1, tiles, 1);
    for (let t = 0; t < 16; t++) expect(maxAbsDiff(a, b, t * TINY_E, (t + 1) * TINY_E)).toBeGreaterThan(1e-9);
  });
});

describe('end to end on the tiny model', () => {
  const w = randomRefWeights(TINY, TINY_E, 2024);
  const S = TINY.imageSize;
  const per = 3 * S * S;
  const n = tokensPerTile(TINY);

  test('weight shapes follow facts §5.1 naming', () => {
    const shapes = refWeightShapes(TINY, TINY_E);
    expect(shapes.get('v.patch_embd.weight')).toEqual([14, 14, 3, 32]);
    expect(shapes.get('v.position_embd.weight')).toEqual([32, 1025, 1]);
    expect(shapes.get('v.blk.1.ffn_up.weight')).toEqual([32, 64]);
    expect(shapes.get('v.blk.1.ffn_down.weight')).toEqual([64, 32]);
    expect(shapes.get('mm.model.mlp.1.weight')).toEqual([128, 64]);
    expect(shapes.get('mm.model.mlp.3.weight')).toEqual([64, 64]);
    expect(shapes.size).toBe(4 + 2 * 18 + 6);
    expect(n).toBe(256);
  });

  test('finite, right shape, content-dependent, tile order respected', () => {
    const A = randomTiles(1, S, 1);
    const B = randomTiles(1, S, 2);
    const AB = new Float32Array(2 * per);
    AB.set(A, 0);
    AB.set(B, per);
    const t0 = Date.now();
    const outAB = referenceEncode(w, TINY, AB, 2);
    const ms = Date.now() - t0;
    const outA = referenceEncode(w, TINY, A, 1);
    const outB = referenceEncode(w, TINY, B, 1);

    expect(outAB.length).toBe(2 * n * TINY_E);
    expect(outAB.every(Number.isFinite)).toBe(true);
    let sq = 0;
    for (const v of outAB) sq += v * v;
    expect(Math.sqrt(sq / outAB.length)).toBeGreaterThan(0.05); // not collapsed to ~0

    expect(Array.from(outAB.subarray(0, n * TINY_E))).toEqual(Array.from(outA));
    expect(Array.from(outAB.subarray(n * TINY_E))).toEqual(Array.from(outB));
    expect(maxAbsDiff(outA, outB)).toBeGreaterThan(1e-3);
    // Tokens within one tile differ too (position embeddings + content).
    expect(maxAbsDiff(outA.subarray(0, TINY_E), outA.subarray(TINY_E, 2 * TINY_E))).toBeGreaterThan(1e-3);
    // Float32 and Float64 tiles holding the same values give the same result.
    expect(Array.from(referenceEncode(w, TINY, Float64Array.from(A), 1))).toEqual(Array.from(outA));
    console.log(`reference encode, 2 tiles of the tiny model: ${ms} ms`);
  });
});
