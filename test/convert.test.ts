// `convert` on a synthetic HF checkpoint: the file layout llama.cpp expects (facts §5), the vocab,
// sharded = single-file, the quantization rules, and proof (a): the converted vision tower run by
// our VisionEncoder equals the float64 reference fed straight from the HF tensors.
import fs from 'node:fs';
import path from 'node:path';
import { convertCheckpoint } from '../lib/convert/convert';
import { fallbackType, textTensorType, useMoreBits, visionTensorType } from '../lib/convert/quant-rules';
import { GgmlType } from '../lib/gguf/constants';
import { readGgufHeader, readTensorF32 } from '../lib/gguf/reader';
import { VisionEncoder } from '../lib/vision/encoder';
import { HfCheckpoint, TINY, writeHfCheckpoint } from './helpers/hf-checkpoint';
import { hfToRefWeights } from './helpers/hf-ref-weights';
import { distinctTiles, relError, tempDir } from './helpers/models';
import { referenceEncode, RefConfig } from './reference/internvit';

const refCfg: RefConfig = {
  imageSize: TINY.vision.imageSize,
  patchSize: TINY.vision.patchSize,
  hidden: TINY.vision.hidden,
  heads: TINY.vision.heads,
  layers: TINY.vision.layers,
  ffn: TINY.vision.ffn,
  lnEps: 1e-6,
  projLnEps: 1e-5,
};

describe('convert: synthetic HF checkpoint → GGUF pair', () => {
  let ckpt: HfCheckpoint;
  let out: { mmproj: string; model: string; warnings: string[] };

  beforeAll(async () => {
    ckpt = writeHfCheckpoint(path.join(tempDir(), 'hf-single', 'Mini-Monkey'));
    out = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), 'conv-f32'), textType: 'f32', visionType: 'f32' });
  });

  it('names the pair after the checkpoint and leaves no temp files', () => {
    expect(path.basename(out.mmproj)).toBe('mmproj-mini-monkey-f32.gguf');
    expect(path.basename(out.model)).toBe('mini-monkey-f32.gguf');
    expect(fs.readdirSync(path.dirname(out.model)).sort()).toEqual(['mini-monkey-f32.gguf', 'mmproj-mini-monkey-f32.gguf']);
  });

  it('writes the mmproj keys and tensors of facts §5.1', async () => {
    const h = await readGgufHeader(out.mmproj);
    const kv = (k: string) => h.kv.get(k)?.value;
    expect(kv('general.architecture')).toBe('clip');
    expect(kv('clip.projector_type')).toBe('internvl');
    expect(kv('clip.vision.block_count')).toBe(TINY.vision.layers);
    expect(kv('clip.vision.projection_dim')).toBe(TINY.text.embd);
    expect(kv('clip.vision.preproc_max_tiles')).toBe(12);
    const H = TINY.vision.hidden;
    const byName = new Map(h.tensors.map((t) => [t.name, t]));
    expect(byName.get('v.patch_embd.weight')!.ne).toEqual([14, 14, 3, H]);
    expect(byName.get('v.class_embd')!.ne).toEqual([H, 1, 1]);
    expect(byName.get('v.position_embd.weight')!.ne).toEqual([H, 1025, 1]);
    expect(byName.get('v.blk.1.attn_k.bias')!.ne).toEqual([H]);
    expect(byName.get('v.blk.0.ffn_up.weight')!.ne).toEqual([H, TINY.vision.ffn]);
    expect(byName.get('mm.model.mlp.1.weight')!.ne).toEqual([4 * H, TINY.text.embd]);
    expect(h.tensors.length).toBe(10 + 18 * TINY.vision.layers);
  });

  it('writes the internlm2 keys, tensors and vocabulary of facts §5.2', async () => {
    const h = await readGgufHeader(out.model);
    const kv = (k: string) => h.kv.get(k)?.value;
    expect(kv('general.architecture')).toBe('internlm2');
    expect(kv('internlm2.attention.head_count_kv')).toBe(TINY.text.kvHeads);
    expect(kv('internlm2.attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5, 10);
    const tokens = kv('tokenizer.ggml.tokens') as string[];
    const types = kv('tokenizer.ggml.token_type') as number[];
    const vocab = ckpt.config.llm_config.vocab_size;
    expect(tokens.length).toBe(vocab);
    // SP pieces first, in order, then the added tokens at their ids
    ckpt.pieces.forEach((p, i) => expect(tokens[i]).toBe(p.piece));
    for (const [content, id] of ckpt.added) {
      expect(tokens[id]).toBe(content);
      expect(types[id]).toBe(3); // CONTROL: special in tokenizer_config
    }
    expect(kv('tokenizer.ggml.eos_token_id')).toBe(ckpt.added.get('<|im_end|>'));
    expect(kv('tokenizer.ggml.bos_token_id')).toBe(1);
    expect(kv('tokenizer.ggml.padding_token_id')).toBe(2);
    expect(kv('tokenizer.ggml.add_space_prefix')).toBe(true);
    expect(types[3]).toBe(6); // byte pieces
    const byName = new Map(h.tensors.map((t) => [t.name, t]));
    const n = TINY.text.embd, kvDim = (n / TINY.text.heads) * TINY.text.kvHeads;
    expect(byName.get('token_embd.weight')!.ne).toEqual([n, vocab]);
    expect(byName.get('blk.0.attn_q.weight')!.ne).toEqual([n, n]);
    expect(byName.get('blk.0.attn_k.weight')!.ne).toEqual([n, kvDim]);
    expect(byName.get('blk.1.ffn_down.weight')!.ne).toEqual([TINY.text.ffn, n]);
    expect(byName.get('output.weight')!.ne).toEqual([n, vocab]);
    expect(h.tensors.length).toBe(3 + 9 * TINY.text.layers);
  });

  it('a sharded checkpoint converts to byte-identical files', async () => {
    const sharded = writeHfCheckpoint(path.join(tempDir(), 'hf-sharded', 'Mini-Monkey'), { sharded: true });
    expect(fs.existsSync(path.join(sharded.dir, 'model.safetensors.index.json'))).toBe(true);
    const o = await convertCheckpoint({ checkpointDir: sharded.dir, outDir: path.join(tempDir(), 'conv-sharded'), textType: 'f32', visionType: 'f32' });
    expect(fs.readFileSync(o.mmproj).equals(fs.readFileSync(out.mmproj))).toBe(true);
    expect(fs.readFileSync(o.model).equals(fs.readFileSync(out.model))).toBe(true);
  });

  describe('(a) the converted vision tower equals the float64 reference on the HF tensors', () => {
    const TILES = 2;
    let tiles: Float32Array;
    let ref: Float64Array;
    beforeAll(() => {
      tiles = distinctTiles(TILES, refCfg.imageSize, 5);
      ref = referenceEncode(hfToRefWeights(ckpt.tensors), refCfg, tiles, TILES);
    });

    it.each<['f32' | 'f16' | 'q8_0', number]>([
      ['f32', 1e-4],
      ['f16', 3e-3],
      ['q8_0', 4e-2],
    ])('vision type %s: relative error ≤ %s', async (visionType, tol) => {
      const o = visionType === 'f32' ? out : await convertCheckpoint({
        checkpointDir: ckpt.dir, outDir: path.join(tempDir(), `conv-v-${visionType}`), textType: 'f16', visionType,
      });
      const enc = await VisionEncoder.load(o.mmproj, { threads: 2 });
      try {
        expect(enc.info.weightType).toBe(visionType);
        const ours = await enc.encode(tiles, TILES);
        const err = relError(ours, ref);
        process.stderr.write(`convert vision ${visionType}: relative error ${err.toExponential(2)}\n`);
        expect(err).toBeLessThanOrEqual(tol);
        if (visionType === 'f32') {
          // The same check is sharp enough to see a wrong mapping: q and k swapped in layer 0.
          const wrong = hfToRefWeights(ckpt.tensors);
          const q = wrong.get('v.blk.0.attn_q.weight')!;
          wrong.set('v.blk.0.attn_q.weight', wrong.get('v.blk.0.attn_k.weight')!);
          wrong.set('v.blk.0.attn_k.weight', q);
          expect(relError(ours, referenceEncode(wrong, refCfg, tiles, TILES))).toBeGreaterThan(1e-2);
        }
      } finally {
        enc.dispose();
      }
    });
  });
});

describe('select_layer deeper than -1', () => {
  it('keeps only the layers up to the selected one, and the output is that layer\'s', async () => {
    const ckpt = writeHfCheckpoint(path.join(tempDir(), 'hf-select', 'sel'), { seed: 6 });
    const cfgFile = path.join(ckpt.dir, 'config.json');
    const json = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    json.select_layer = -2; // hidden_states[-2]: the output of the next-to-last block
    fs.writeFileSync(cfgFile, JSON.stringify(json));
    const o = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), 'conv-select'), textType: 'f16', visionType: 'f32' });
    const h = await readGgufHeader(o.mmproj);
    expect(h.kv.get('clip.vision.block_count')!.value).toBe(TINY.vision.layers - 1);
    expect(h.tensors.some((t) => t.name.startsWith(`v.blk.${TINY.vision.layers - 1}.`))).toBe(false);
    const tiles = distinctTiles(1, refCfg.imageSize, 8);
    const ref = referenceEncode(hfToRefWeights(ckpt.tensors), { ...refCfg, layers: TINY.vision.layers - 1 }, tiles, 1);
    const enc = await VisionEncoder.load(o.mmproj, { threads: 2 });
    try {
      expect(relError(await enc.encode(tiles, 1), ref)).toBeLessThanOrEqual(1e-4);
    } finally {
      enc.dispose();
    }
  });
});

describe('quantization rules (llama.cpp llama_tensor_get_type)', () => {
  it('keeps 1-D tensors and embeddings f32, the patch embedding f16', () => {
    expect(visionTensorType('q8_0', 'v.blk.0.ln1.weight', [1024])).toBe(GgmlType.F32);
    expect(visionTensorType('q8_0', 'v.position_embd.weight', [1024, 1025, 1])).toBe(GgmlType.F32);
    expect(visionTensorType('q8_0', 'v.class_embd', [1024, 1, 1])).toBe(GgmlType.F32);
    expect(visionTensorType('q8_0', 'v.patch_embd.weight', [14, 14, 3, 1024])).toBe(GgmlType.F16);
    expect(visionTensorType('q8_0', 'v.blk.0.attn_q.weight', [1024, 1024])).toBe(GgmlType.Q8_0);
    expect(textTensorType('q4_k_m', 'blk.3.attn_norm.weight', [2048], 24)).toBe(GgmlType.F32);
  });

  it('q4_k_m at the real dimensions: q6_k output, attn_v and ffn_down of use_more_bits layers, q4_k elsewhere', () => {
    const L = 24;
    const more = Array.from({ length: L }, (_, i) => i).filter((i) => useMoreBits(i, L));
    // first and last eighth, then every third layer from n/8 + 2
    expect(more).toEqual([0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23]);
    expect(textTensorType('q4_k_m', 'output.weight', [2048, 92553], L)).toBe(GgmlType.Q6_K);
    expect(textTensorType('q4_k_m', 'token_embd.weight', [2048, 92553], L)).toBe(GgmlType.Q4_K);
    expect(textTensorType('q4_k_m', 'blk.5.attn_v.weight', [2048, 1024], L)).toBe(GgmlType.Q6_K);
    expect(textTensorType('q4_k_m', 'blk.6.attn_v.weight', [2048, 1024], L)).toBe(GgmlType.Q4_K);
    expect(textTensorType('q4_k_m', 'blk.23.ffn_down.weight', [8192, 2048], L)).toBe(GgmlType.Q6_K);
    expect(textTensorType('q4_k_m', 'blk.7.ffn_down.weight', [8192, 2048], L)).toBe(GgmlType.Q4_K);
    expect(textTensorType('q4_k_m', 'blk.7.attn_q.weight', [2048, 2048], L)).toBe(GgmlType.Q4_K);
    expect(textTensorType('q4_0', 'output.weight', [2048, 92553], L)).toBe(GgmlType.Q6_K);
    expect(textTensorType('q4_0', 'blk.0.attn_v.weight', [2048, 1024], L)).toBe(GgmlType.Q4_0);
    expect(textTensorType('q8_0', 'output.weight', [2048, 92553], L)).toBe(GgmlType.Q8_0);
  });

  it('falls back where the row length does not fit the block, as llama.cpp does', () => {
    expect(fallbackType(GgmlType.Q4_K, 64)).toBe(GgmlType.Q5_0);
    expect(fallbackType(GgmlType.Q6_K, 64)).toBe(GgmlType.Q8_0);
    expect(fallbackType(GgmlType.Q4_0, 48)).toBe(GgmlType.F16);
    expect(textTensorType('q4_k_m', 'output.weight', [64, 600], 2)).toBe(GgmlType.Q8_0);
  });

  it('a q4_k_m conversion of the tiny checkpoint uses the fallbacks and loads in the vision encoder', async () => {
    const ckpt = writeHfCheckpoint(path.join(tempDir(), 'hf-q', 'tiny'), { seed: 3 });
    const o = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), 'conv-q4km'), textType: 'q4_k_m', visionType: 'q8_0' });
    const h = await readGgufHeader(o.model);
    const types = new Map(h.tensors.map((t) => [t.name, t.type]));
    expect(types.get('blk.0.attn_q.weight')).toBe(GgmlType.Q5_0); // q4_k → q5_0 (row 64)
    // with 2 layers use_more_bits picks layer 1 only (i >= 7·2/8): its attn_v wants q6_k → q8_0
    expect(types.get('blk.0.attn_v.weight')).toBe(GgmlType.Q5_0);
    expect(types.get('blk.1.attn_v.weight')).toBe(GgmlType.Q8_0);
    expect(types.get('output.weight')).toBe(GgmlType.Q8_0);
    expect(types.get('blk.0.ffn_norm.weight')).toBe(GgmlType.F32);
    expect(h.kv.get('general.file_type')!.value).toBe(15);
    const enc = await VisionEncoder.load(o.mmproj, { threads: 1 });
    expect(enc.info.weightType).toBe('q8_0');
    enc.dispose();
  });
});

describe('convert to bf16: the checkpoint\'s own dtype, so the pair is lossless', () => {
  it('every bf16 tensor of both files holds exactly the values of the f32 conversion', async () => {
    const ckpt = writeHfCheckpoint(path.join(tempDir(), 'hf-bf16', 'Mini-Monkey'), { seed: 9 });
    const f32 = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), 'conv-bf16-ref'), textType: 'f32', visionType: 'f32' });
    const bf16 = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), 'conv-bf16'), textType: 'bf16', visionType: 'bf16' });
    for (const part of ['mmproj', 'model'] as const) {
      const [a, b] = await Promise.all([readGgufHeader(f32[part]), readGgufHeader(bf16[part])]);
      const halves = b.tensors.filter((t) => t.type === GgmlType.BF16);
      expect(halves.length).toBeGreaterThan(part === 'mmproj' ? 10 : 5); // the weight matrices
      for (const t of halves) {
        const ref = a.tensors.find((x) => x.name === t.name)!;
        const [x, y] = await Promise.all([readTensorF32(f32[part], ref), readTensorF32(bf16[part], t)]);
        expect([t.name, Buffer.from(y.buffer).equals(Buffer.from(x.buffer))]).toEqual([t.name, true]);
      }
    }
  });
});
