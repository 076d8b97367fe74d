// The ggml InternViT encoder against the float64 reference written from the facts sheet.
import { VisionEncoder } from '../lib/vision/encoder';
import { referenceEncode, RefConfig, RefWeights } from './reference/internvit';
import { distinctTiles, loadRefWeights, refConfig, relError, tinyPair, VisionType } from './helpers/models';

const TILES = 3;

describe('vision encoder vs float64 reference (tiny model, 448² tiles)', () => {
  let enc: VisionEncoder;
  let weights: RefWeights;
  let cfg: RefConfig;
  let tiles: Float32Array;
  let ref: Float64Array;
  let ours: Float32Array;

  beforeAll(async () => {
    const { mmproj } = await tinyPair('f32');
    enc = await VisionEncoder.load(mmproj, { threads: 2 });
    weights = await loadRefWeights(mmproj);
    cfg = await refConfig(mmproj);
    tiles = distinctTiles(TILES, enc.info.imageSize);
    ref = referenceEncode(weights, cfg, tiles, TILES);
    ours = await enc.encode(tiles, TILES);
  });

  afterAll(() => enc.dispose());

  it('reports the geometry of the file', () => {
    expect(enc.info).toMatchObject({ imageSize: 448, patchSize: 14, tokensPerTile: 256, layers: cfg.layers, weightType: 'f32' });
    expect(ours.length).toBe(TILES * 256 * enc.info.embeddingWidth);
  });

  it('f32 weights: max relative error ≤ 1e-4 over tiles of distinct content', () => {
    const err = relError(ours, ref);
    process.stderr.write(`vision f32: relative error ${err.toExponential(2)}\n`);
    expect(err).toBeLessThanOrEqual(1e-4);
  });

  it('would catch a wrong tile order, pixel-shuffle order or CLS position', () => {
    const E = enc.info.embeddingWidth;
    const perTile = 256 * E;
    // tiles 0 and 1 swapped
    const swapped = Float64Array.from(ref);
    swapped.set(ref.subarray(perTile, 2 * perTile), 0);
    swapped.set(ref.subarray(0, perTile), perTile);
    expect(relError(ours, swapped)).toBeGreaterThan(1e-2);
    // the 16x16 token grid transposed (what pixel shuffle v1 does to the order)
    const transposed = Float64Array.from(ref);
    for (let t = 0; t < TILES; t++) {
      for (let r = 0; r < 16; r++) {
        for (let q = 0; q < 16; q++) {
          const src = (t * 256 + r * 16 + q) * E;
          transposed.set(ref.subarray(src, src + E), (t * 256 + q * 16 + r) * E);
        }
      }
    }
    expect(relError(ours, transposed)).toBeGreaterThan(1e-2);
    // llama.cpp's layout: CLS appended, so patch k gets position row k and CLS row P
    const pos = weights.get('v.position_embd.weight')!;
    const H = cfg.hidden;
    const rows = pos.data.length / H;
    const shifted = new Float64Array(pos.data.length);
    shifted.set(pos.data.subarray((rows - 1) * H), 0);
    shifted.set(pos.data.subarray(0, (rows - 1) * H), H);
    const clsLast = new Map(weights);
    clsLast.set('v.position_embd.weight', { ne: pos.ne, data: shifted });
    expect(relError(ours, referenceEncode(clsLast, cfg, tiles, TILES))).toBeGreaterThan(1e-2);
  });

  it('a batch equals the concatenation of single-tile encodes', async () => {
    const S = enc.info.imageSize;
    const per = 3 * S * S;
    for (let t = 0; t < TILES; t++) {
      const one = await enc.encode(tiles.slice(t * per, (t + 1) * per), 1);
      const part = ours.subarray(t * one.length, (t + 1) * one.length);
      expect(relError(one, part)).toBeLessThanOrEqual(1e-5);
    }
  });
});

// Quantized weights are the same random values as the f32 file (same seed), so their outputs
// must stay near the f32 reference; the bounds are the measured error with some headroom.
describe.each<[VisionType, number]>([
  ['f16', 3e-3],
  // bf16 keeps 8 mantissa bits to f16's 11: about 8x f16's error (measured 4.3e-3).
  ['bf16', 1e-2],
  ['q8_0', 4e-2],
  ['q4_1', 2e-1],
  ['q4_0', 2e-1],
])('vision encoder with %s weights', (type, tolerance) => {
  it(`stays within ${tolerance} (relative) of the f32 reference`, async () => {
    const f32 = await tinyPair('f32');
    const q = await tinyPair(type);
    const cfg = await refConfig(f32.mmproj);
    const weights = await loadRefWeights(f32.mmproj);
    const tiles = distinctTiles(2, cfg.imageSize, 11);
    const ref = referenceEncode(weights, cfg, tiles, 2);
    const enc = await VisionEncoder.load(q.mmproj, { threads: 2 });
    try {
      expect(enc.info.weightType).toBe(type);
      const out = await enc.encode(tiles, 2);
      const err = relError(out, ref);
      process.stderr.write(`vision ${type}: relative error ${err.toExponential(2)}\n`);
      expect(err).toBeLessThanOrEqual(tolerance);
      expect(err).toBeGreaterThan(0); // the weights really are quantized
    } finally {
      enc.dispose();
    }
  });
});
