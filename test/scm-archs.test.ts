// SCM's pre-pass on the qwen2 and llama text paths (InternVL2.5 / InternVL3's Qwen2 LLMs, and
// Llama-named LLMs), as test/scm.test.ts proves it for internlm2: on text GGUFs written by the
// converter in llama.cpp's layout (qwen2: NEOX rope, q/k/v biases, HF row order; llama: NORM rope,
// permuted q/k rows), (a) the layer-0 output, the layer-1 scores on a detail block and the kept
// indices equal the float64 reference, and (b) the layer-0 output equals libllama's own `l_out-0`.
import path from 'node:path';
import { convertCheckpoint } from '../lib/convert/convert';
import { ScmPrepass } from '../lib/llm/scm-prepass';
import { TextModel } from '../lib/llm/text-model';
import { writeHfCheckpoint, TINY } from './helpers/hf-checkpoint';
import { QWEN2_TINY, writeQwen2Checkpoint } from './helpers/hf-qwen2-checkpoint';
import { loadRefWeights, relError, tempDir } from './helpers/models';
import { buildCaptureTool, captureLayer0, rows, toF64Rows } from './helpers/scm-harness';
import { LlmRefConfig, scmReference } from './reference/scm';

beforeAll(() => buildCaptureTool(), 900_000);

/** The text GGUF of each arch, f32 so the reference reads the same numbers, and the reference's own facts of it. */
const ARCHS = {
  qwen2: {
    write: (dir: string) => writeQwen2Checkpoint(dir, { seed: 41 }).dir,
    ref: { rmsEps: QWEN2_TINY.rmsEps, ropeTheta: QWEN2_TINY.ropeTheta, rope: 'neox' as const },
  },
  llama: {
    write: (dir: string) => writeHfCheckpoint(dir, { seed: 42, llm: 'llama' }).dir,
    ref: { rmsEps: TINY.text.rmsEps, ropeTheta: TINY.text.ropeTheta, rope: 'norm' as const },
  },
};

describe.each(Object.keys(ARCHS) as (keyof typeof ARCHS)[])('SCM on the %s path', (arch) => {
  let model: string;
  let text: TextModel;
  let pre: ScmPrepass;
  let parts: (Int32Array | Float32Array)[];
  let blocks: { start: number; length: number }[];
  let cfg: LlmRefConfig;
  let width: number;

  beforeAll(async () => {
    const ckpt = ARCHS[arch].write(path.join(tempDir(), 'scm-archs', arch));
    model = (await convertCheckpoint({ checkpointDir: ckpt, outDir: path.join(tempDir(), 'scm-archs-out', arch), textType: 'f32' })).model;
    text = await TextModel.load(model);
    expect(text.info.arch).toBe(arch);
    pre = await ScmPrepass.create(text, { threads: 2 });
    width = text.info.embeddingWidth;
    cfg = { embd: width, heads: text.info.heads, kvHeads: text.info.kvHeads, ...ARCHS[arch].ref };
    // A turn's shape: text, 360 image rows (the first 240 a detail block), text.
    const prefix = text.tokenize('system\nRead the document.', { addBos: text.info.special.addBos });
    parts = [prefix, rows(360, width, 13), text.tokenize('What is the total on the invoice?')];
    blocks = [{ start: prefix.length, length: 240 }];
  }, 300_000);

  afterAll(() => {
    pre?.dispose();
    text?.dispose();
  });

  it('(a) layer-0 output, layer-1 scores and kept indices equal the float64 reference', async () => {
    const weights = await loadRefWeights(model);
    if (arch === 'qwen2') expect(weights.has('blk.0.attn_q.bias')).toBe(true); // the biases are in play
    const ref = scmReference(weights, cfg, toF64Rows(parts, weights.get('token_embd.weight')!.data, width), blocks, 0.5);
    const r = await pre.run(parts, blocks, { layer0: true, chunk: 64 });
    const flat = new Float64Array(ref.layer0.length * width);
    ref.layer0.forEach((row, i) => flat.set(row, i * width));
    expect(relError(r.layer0!, flat)).toBeLessThan(1e-4);
    expect(relError(r.scores[0], ref.scores[0])).toBeLessThan(1e-4);
    expect(Array.from(r.kept[0])).toEqual(ref.kept[0]);
    expect(r.kept[0].length).toBe(120);
    expect(Math.max(...r.scores[0])).toBeGreaterThan(1.5 * Math.min(...r.scores[0])); // a real selection
    // The other rope pairing gives other scores: the check can tell them apart.
    const other = scmReference(weights, { ...cfg, rope: cfg.rope === 'neox' ? 'norm' : 'neox' }, toF64Rows(parts, weights.get('token_embd.weight')!.data, width), blocks, 0.5);
    expect(relError(r.scores[0], other.scores[0])).toBeGreaterThan(1e-3);
  }, 300_000);

  it("(b) layer 0 equals libllama's own l_out-0", async () => {
    const ours = (await pre.run(parts, blocks, { layer0: true, chunk: 50 })).layer0!;
    const theirs = captureLayer0(model, parts, width);
    expect(theirs.length).toBe(ours.length);
    expect(relError(ours, theirs)).toBeLessThan(1e-4);
  }, 120_000);
});
