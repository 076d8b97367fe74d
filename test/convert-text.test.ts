// Proofs (b) and (c) for the converted text model, run in libllama through TextModel:
// (b) its logits equal a float64 InternLM2 forward computed from the HF fused `wqkv` with HF's
//     rotate_half RoPE, which proves the q/k/v split and the rope permutation;
// (c) its tokenizer equals HF's slow SentencePiece tokenizer semantics on the source model.
import path from 'node:path';
import { convertCheckpoint } from '../lib/convert/convert';
import { TextModel } from '../lib/llm/text-model';
import { HfCheckpoint, HfTensors, TINY, writeHfCheckpoint } from './helpers/hf-checkpoint';
import { relError, tempDir } from './helpers/models';
import { internlm2Logits, Internlm2Config } from './reference/internlm2';
import { hfTokenize, RefTokenizer } from './reference/sentencepiece';

const cfg: Internlm2Config = {
  embd: TINY.text.embd,
  ffn: TINY.text.ffn,
  layers: TINY.text.layers,
  heads: TINY.text.heads,
  kvHeads: TINY.text.kvHeads,
  ropeTheta: TINY.text.ropeTheta,
  rmsEps: TINY.text.rmsEps,
};

function refTokenizer(ckpt: HfCheckpoint, addDummyPrefix: boolean): RefTokenizer {
  // tokenizer_config's added_tokens_decoder holds <unk>, <s>, </s> too, so HF splits them out as well.
  const added = new Map<string, number>([['<unk>', 0], ['<s>', 1], ['</s>', 2], ...ckpt.added]);
  return { pieces: ckpt.pieces, addDummyPrefix, added, bosId: 1 };
}

/** wqkv rows rearranged per head block of d rows, new[dst(r)] = old[r], in every q and k head. */
function rearrangeQk(hf: HfTensors, move: (row: number, d: number) => number): HfTensors {
  const out: HfTensors = new Map(hf);
  const n = cfg.embd, d = n / cfg.heads, r = cfg.heads / cfg.kvHeads;
  for (let l = 0; l < cfg.layers; l++) {
    const name = `language_model.model.layers.${l}.attention.wqkv.weight`;
    const t = hf.get(name)!;
    const data = Float64Array.from(t.data);
    for (let g = 0; g < cfg.kvHeads; g++) {
      for (let h = 0; h < r + 1; h++) { // r query heads and the key head of this group; v is never rotated
        const base = (g * (r + 2) + h) * d;
        for (let row = 0; row < d; row++) data.set(t.data.subarray((base + row) * n, (base + row + 1) * n), (base + move(row, d)) * n);
      }
    }
    out.set(name, { shape: t.shape, data });
  }
  return out;
}

const TOKENS = Int32Array.from([1, 300, 17, 401, 288, 512, 9, 77, 350, 299, 460, 123]);

describe('(b) converted InternLM2 in libllama vs the float64 HF forward', () => {
  let ckpt: HfCheckpoint;
  let ref: Float64Array;

  beforeAll(() => {
    ckpt = writeHfCheckpoint(path.join(tempDir(), 'hf-text', 'mm'), { seed: 11 });
    const all = internlm2Logits(ckpt.tensors, cfg, TOKENS);
    ref = all[all.length - 1];
  });

  it.each<['f32' | 'f16' | 'q8_0', number]>([
    ['f32', 5e-3],
    ['f16', 1e-2],
    ['q8_0', 5e-2],
  ])('text type %s: last-position logits within %s (relative)', async (textType, tol) => {
    const o = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), `conv-t-${textType}`), textType, visionType: 'f16' });
    const model = await TextModel.load(o.model);
    try {
      expect(model.info.arch).toBe('internlm2');
      expect(model.info.vocabSize).toBe(ckpt.config.llm_config.vocab_size);
      const logits = await model.logits([TOKENS], { threads: 2 });
      const err = relError(logits, ref);
      process.stderr.write(`convert text ${textType}: relative logit error ${err.toExponential(2)}\n`);
      expect(err).toBeLessThanOrEqual(tol);
      if (textType === 'f32') {
        // The comparison sees both mistakes the converter must avoid:
        // 1. no rope permutation: llama.cpp would rotate pairs (2i, 2i+1) of HF's rows, i.e. the HF
        //    model whose row i·2+p sits at p·d/2+i;
        const unpermuted = rearrangeQk(ckpt.tensors, (row, d) => (row % 2) * (d / 2) + Math.floor(row / 2));
        const a = internlm2Logits(unpermuted, cfg, TOKENS);
        process.stderr.write(`  unpermuted rope: ${relError(logits, a[a.length - 1]).toExponential(2)}\n`);
        expect(relError(logits, a[a.length - 1])).toBeGreaterThan(20 * tol);
        // 2. a contiguous [Q|K|V] split instead of the per-KV-group one (facts §1.5).
        const contiguous: HfTensors = new Map(ckpt.tensors);
        const n = cfg.embd, d = n / cfg.heads, r = cfg.heads / cfg.kvHeads;
        for (let l = 0; l < cfg.layers; l++) {
          const name = `language_model.model.layers.${l}.attention.wqkv.weight`;
          const src = ckpt.tensors.get(name)!;
          const data = new Float64Array(src.data.length);
          // head rows as a contiguous split reads them: q heads, then k heads, then v heads
          const headRows = (i: number) => src.data.subarray(i * d * n, (i + 1) * d * n);
          for (let g = 0; g < cfg.kvHeads; g++) {
            for (let j = 0; j < r; j++) data.set(headRows(g * r + j), (g * (r + 2) + j) * d * n);
            data.set(headRows(cfg.heads + g), (g * (r + 2) + r) * d * n);
            data.set(headRows(cfg.heads + cfg.kvHeads + g), (g * (r + 2) + r + 1) * d * n);
          }
          contiguous.set(name, { shape: src.shape, data });
        }
        const b = internlm2Logits(contiguous, cfg, TOKENS);
        process.stderr.write(`  contiguous qkv split: ${relError(logits, b[b.length - 1]).toExponential(2)}\n`);
        expect(relError(logits, b[b.length - 1])).toBeGreaterThan(20 * tol);
      }
    } finally {
      model.dispose();
    }
  });
});

describe('an InternVL2 checkpoint whose LLM is Llama', () => {
  it('converts to a llama GGUF whose libllama logits equal the float64 reference', async () => {
    const ckpt = writeHfCheckpoint(path.join(tempDir(), 'hf-llama', 'mm'), { seed: 12, llm: 'llama' });
    expect(ckpt.tensors.has('language_model.model.layers.0.self_attn.q_proj.weight')).toBe(true);
    const all = internlm2Logits(ckpt.internlm2Tensors, cfg, TOKENS);
    const o = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), 'conv-llama'), textType: 'f32', visionType: 'f16' });
    const model = await TextModel.load(o.model);
    try {
      expect(model.info.arch).toBe('llama');
      const err = relError(await model.logits([TOKENS], { threads: 2 }), all[all.length - 1]);
      process.stderr.write(`convert text llama f32: relative logit error ${err.toExponential(2)}\n`);
      expect(err).toBeLessThanOrEqual(5e-3);
    } finally {
      model.dispose();
    }
  });
});

describe('(c) converted tokenizer vs SentencePiece semantics of the source model', () => {
  const TEXTS = [
    '<|im_start|>system\n你是由上海人工智能实验室联合商汤科技开发的多模态大模型。<|im_end|><|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>\nWhat is the total amount on this invoice?<|im_end|><|im_start|>assistant\n',
    'hello world  Hello, WORLD! 你好世界 中国文档的日期 and the 金额总计 is 42.',
    ' leading space, trailing space ',
    'multiple   spaces\tand\ttabs\n\nnew lines',
    'emoji 🐒 and ünïcödé and 漢字',
    '<ref>table</ref><box>(10,20),(30,40)</box><quad>x</quad>',
    '<s>the</s> <unk> text',
    '<|im_end|> after a special token',
    '',
  ];

  it.each([true, false])('add_dummy_prefix = %s: every text tokenizes as the reference does', async (addDummyPrefix) => {
    const ckpt = writeHfCheckpoint(path.join(tempDir(), `hf-tok-${addDummyPrefix}`, 'mm'), { seed: 2, addDummyPrefix });
    const o = await convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), `conv-tok-${addDummyPrefix}`), textType: 'f16', visionType: 'f16' });
    const model = await TextModel.load(o.model);
    const tok = refTokenizer(ckpt, addDummyPrefix);
    try {
      let merged = 0;
      for (const text of TEXTS) {
        const want = hfTokenize(tok, text, true);
        const got = Array.from(model.tokenize(text, { addBos: true, special: true }));
        expect({ text, ids: got }).toEqual({ text, ids: want });
        merged += want.filter((id) => ckpt.pieces[id]?.type === 1 && [...ckpt.pieces[id].piece].length > 1).length;
      }
      // The texts exercise real BPE merges, not only single characters and bytes.
      expect(merged).toBeGreaterThan(20);
    } finally {
      model.dispose();
    }
  });
});
