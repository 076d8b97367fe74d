// SCM (facts §4) on the tiny pair: (a) our ggml pre-pass equals a float64 reference of layers
// 0-1 — layer-0 output, layer-1 attention scores on the detail block, kept indices; (b) its layer-0
// output equals libllama's own `l_out-0` captured through the eval callback; then SCM inside a
// chat turn: the compressed prompt, the counts, the reference-exact variant.
import path from 'node:path';
import { MiniMonkey } from '../lib/model';
import { DEFAULT_SYSTEM_MESSAGE, fillImages, layoutPrompt, systemBlock, userTurn } from '../lib/llm/prompt';
import { compressParts, detailBlocks } from '../lib/llm/scm';
import { ScmPrepass } from '../lib/llm/scm-prepass';
import { TextModel } from '../lib/llm/text-model';
import { synthesize } from '../lib/synth/synthesize';
import { loadRefWeights, relError, tempDir, tinyPair } from './helpers/models';
import { LlmRefConfig, scmReference } from './reference/scm';
import { buildCaptureTool, captureLayer0, rng, rows, toF64Rows } from './helpers/scm-harness';

let pair: { model: string; mmproj: string };
let text: TextModel;
let pre: ScmPrepass;
let cfg: LlmRefConfig;
let width: number;
// A prompt shaped like a turn: BOS + text, 600 image rows (the first 400 a detail block), text.
let parts: (Int32Array | Float32Array)[];
const blocks = [{ start: 0, length: 400 }];

beforeAll(async () => {
  buildCaptureTool();
  pair = await tinyPair('f32', 4);
  text = await TextModel.load(pair.model);
  pre = await ScmPrepass.create(text, { threads: 2 });
  width = text.info.embeddingWidth;
  cfg = { embd: width, heads: text.info.heads, kvHeads: text.info.kvHeads, rmsEps: 1e-5, ropeTheta: 1e6, rope: 'norm' };
  const prefix = text.tokenize('system\nRead the document.', { addBos: true });
  parts = [prefix, rows(600, width, 11), text.tokenize('What is the total on the invoice?')];
  blocks[0].start = prefix.length;
}, 900_000);

afterAll(() => {
  pre?.dispose();
  text?.dispose();
});

describe('(a) the pre-pass equals a float64 reference of layers 0-1', () => {
  let ref: ReturnType<typeof scmReference>;
  beforeAll(async () => {
    const weights = await loadRefWeights(pair.model);
    const emb = weights.get('token_embd.weight')!.data;
    const xs = toF64Rows(parts, emb, width);
    ref = scmReference(weights, cfg, xs, blocks, 0.5);
  }, 300_000);

  test('layer-0 output, layer-1 scores and kept indices', async () => {
    const r = await pre.run(parts, blocks, { layer0: true });
    expect(r.tokens).toBe(ref.layer0.length);
    const flat = new Float64Array(ref.layer0.length * width);
    ref.layer0.forEach((row, i) => flat.set(row, i * width));
    expect(relError(r.layer0!, flat)).toBeLessThan(1e-4);
    expect(relError(r.scores[0], ref.scores[0])).toBeLessThan(1e-4);
    expect(Array.from(r.kept[0])).toEqual(ref.kept[0]);
    expect(r.kept[0].length).toBe(200);
    // The scores are mean probabilities: positive, and they do differ (a real selection).
    expect(Math.min(...r.scores[0])).toBeGreaterThan(0);
    expect(Math.max(...r.scores[0])).toBeGreaterThan(1.5 * Math.min(...r.scores[0]));
  });

  test('row chunking changes memory, not the result', async () => {
    const a = await pre.run(parts, blocks, { chunk: 7 });
    const b = await pre.run(parts, blocks, { chunk: 1000 });
    expect(relError(a.scores[0], ref.scores[0])).toBeLessThan(1e-4);
    expect(relError(b.scores[0], ref.scores[0])).toBeLessThan(1e-4);
    expect(Array.from(a.kept[0])).toEqual(ref.kept[0]);
    expect(Array.from(b.kept[0])).toEqual(ref.kept[0]);
    expect(a.peakBytes).toBeLessThan(b.peakBytes);
  });

  test('two blocks are scored independently; keep sets the count', async () => {
    const two = [{ start: blocks[0].start, length: 150 }, { start: blocks[0].start + 300, length: 256 }];
    const weights = await loadRefWeights(pair.model);
    const xs = toF64Rows(parts, weights.get('token_embd.weight')!.data, width);
    const r2 = scmReference(weights, cfg, xs, two, 0.25);
    const r = await pre.run(parts, two, { keep: 0.25, chunk: 33 });
    expect(r.kept.map((k) => Array.from(k))).toEqual(r2.kept);
    expect(r.kept.map((k) => k.length)).toEqual([37, 64]);
    expect(relError(r.scores[1], r2.scores[1])).toBeLessThan(1e-4);
  }, 300_000);
});

describe('(b) layer 0 equals libllama\'s own l_out-0', () => {
  test.each(['f32', 'f16', 'q8_0', 'q4_0'] as const)('%s text weights', async (type) => {
    const file = type === 'f32' ? pair.model : (await synthesize({ shape: 'tiny', outDir: path.join(tempDir(), `scm-${type}`), seed: 4, textType: type, parts: ['text'] })).model;
    const t = type === 'f32' ? text : await TextModel.load(file);
    const p = type === 'f32' ? pre : await ScmPrepass.create(t, { threads: 2 });
    try {
      const ours = (await p.run(parts, blocks, { layer0: true, chunk: 50 })).layer0!;
      const theirs = captureLayer0(file, parts, width);
      expect(relError(ours, theirs)).toBeLessThan(type === 'f32' ? 1e-4 : 2e-3);
    } finally {
      if (type !== 'f32') {
        p.dispose();
        t.dispose();
      }
    }
  }, 120_000);
});

describe('bad input is a typed error', () => {
  test.each([
    ['a block without a token after it', [{ start: 10, length: 10_000 }], {}],
    ['overlapping blocks', [{ start: 10, length: 50 }, { start: 40, length: 10 }], {}],
    ['no blocks', [], {}],
    ['keep 0', [{ start: 10, length: 50 }], { keep: 0 }],
    ['chunk 0', [{ start: 10, length: 50 }], { chunk: 0 }],
  ])('%s', async (_, bl, o) => {
    await expect(pre.run(parts, bl, o)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  test('token ids out of range and ragged rows', async () => {
    await expect(pre.run([Int32Array.of(1, 1 << 30), rows(4, width, 1), Int32Array.of(2)], [{ start: 2, length: 4 }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(pre.run([Int32Array.of(1), new Float32Array(width + 1), Int32Array.of(2)], [{ start: 1, length: 1 }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  test('abort stops it; disposal twice is safe; use after dispose throws', async () => {
    const ac = new AbortController();
    const run = pre.run(parts, blocks, { chunk: 1, signal: ac.signal, onProgress: () => ac.abort() });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    const p = await ScmPrepass.create(text, { threads: 1 });
    p.dispose();
    p.dispose();
    await expect(p.run(parts, blocks)).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});

describe('SCM in a chat turn', () => {
  let mm: MiniMonkey;
  beforeAll(async () => {
    mm = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 2, contextSize: 8192 });
  }, 120_000);
  afterAll(() => mm?.dispose());

  // A wide page with a two-tile detail layer and three adaptive tiles (+ the global one).
  const crop = { detail: { min: 2, max: 2 }, adaptive: { min: 1, max: 3 } };
  const page = () => {
    const w = 900, h = 500;
    const data = new Uint8Array(w * h * 3);
    const r = rng(3);
    for (let i = 0; i < data.length; i++) data[i] = (i % 97 < 40 ? 30 : 230) + Math.floor(r() * 20);
    return { data, width: w, height: h, channels: 3 as const };
  };

  test('the turn prefills the compressed prompt: kept detail tokens, everything else', async () => {
    const img = page();
    const question = 'What is the total?';
    const chat = await mm.chat();
    const res = await chat.ask([{ type: 'image', image: img }, question], { crop, scm: true, maxTokens: 4 });
    const plan = res.images[0];
    const H = plan.layers.detail.tokenCount;
    expect(H).toBeGreaterThanOrEqual(512);
    expect(res.scm).toMatchObject({ detailTokens: H, detailKept: H / 2, tokensAfter: res.scm!.tokensBefore - H / 2 });
    expect(res.tokens.prompt).toBe(res.scm!.tokensAfter);
    expect(res.tokens.image).toBe(plan.imageTokens - H / 2);
    expect(chat.contextUsed).toBe(res.tokens.prompt + res.tokenIds.length);

    // Independently: the same prompt, scored by the pre-pass directly and compressed, then one
    // forward pass in libllama — its argmax is the turn's first token.
    const { embeddings } = await mm.encodeImage(img, { crop });
    const tok = { tokenize: (s: string) => text.tokenize(s), special: text.info.special };
    const layout = layoutPrompt([...systemBlock(DEFAULT_SYSTEM_MESSAGE), ...userTurn([{ imageTokens: plan.imageTokens }, { text: question }], false)], tok, true);
    const full = fillImages(layout, [embeddings], width);
    const bl = detailBlocks(layout, [plan], 0, { keep: 0.5, referenceExact: false });
    const scored = await pre.run(full, bl);
    const logits = await text.logits(compressParts(full, 0, bl, scored.kept, width));
    expect(logits.indexOf(Math.max(...logits))).toBe(res.tokenIds[0]);
  }, 120_000);

  test('referenceExact also drops the token after the block; keep is honoured; off by default', async () => {
    const img = page();
    const chat = await mm.chat();
    const exact = await chat.ask([{ type: 'image', image: img }, 'Total?'], { crop, scm: { referenceExact: true, keep: 0.25 }, maxTokens: 1 });
    const plan = exact.images[0];
    const H = plan.detail.cols * plan.detail.rows * plan.tokensPerTile;
    expect(exact.scm!.tokensBefore - exact.scm!.tokensAfter).toBe(H - H / 4 + 1);
    await chat.reset();
    const off = await chat.ask([{ type: 'image', image: img }, 'Total?'], { crop, maxTokens: 1 });
    expect(off.scm).toBeUndefined();
    expect(off.tokens.prompt).toBe(exact.scm!.tokensBefore);
  }, 120_000);

  test('a follow-up turn with a new image is scored against the whole conversation', async () => {
    const chat = await mm.chat();
    const first = await chat.ask([{ type: 'image', image: page() }, 'Total?'], { crop, scm: true, maxTokens: 3 });
    const second = await chat.ask([{ type: 'image', image: page() }, 'And now?'], { crop, scm: true, maxTokens: 3 });
    expect(second.scm!.detailKept).toBe(second.scm!.detailTokens / 2);
    expect(chat.contextUsed).toBe(first.tokens.prompt + first.tokenIds.length + second.tokens.prompt + second.tokenIds.length);
  }, 120_000);

  test('bad scm options are typed errors before any work', async () => {
    const chat = await mm.chat();
    await expect(chat.ask('hi', { scm: { keep: 2 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(chat.ask('hi', { scm: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // A text-only turn has nothing to compress: it runs, and says so.
    const res = await chat.ask('hi', { scm: true, maxTokens: 2 });
    expect(res.scm).toMatchObject({ detailTokens: 0, tokensBefore: res.tokens.prompt, tokensAfter: res.tokens.prompt });
  }, 60_000);
});
