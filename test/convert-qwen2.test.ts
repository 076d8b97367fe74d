// `convert` on a synthetic InternVL2 checkpoint whose LLM is Qwen2 (InternVL2-1B's layout):
// the qwen2 / gpt2 GGUF layout llama.cpp expects, and proofs run in libllama:
// (b) logits equal a float64 Qwen2 forward computed from the HF tensors (biases, rotate_half RoPE
//     with no row permutation, GQA, tied or untied output);
// (c) tokenization equals a plain TypeScript reference of HF's byte-level BPE with Qwen2's split;
// plus the whole pair loading and chatting, and bad tokenizer files giving typed errors.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_SYSTEM_MESSAGE, MiniMonkey } from '../lib';
import { convertCheckpoint } from '../lib/convert/convert';
import { MiniMonkeyError } from '../lib/errors';
import { GgmlType, TokenType } from '../lib/gguf/constants';
import { readGgufHeader } from '../lib/gguf/reader';
import { TextModel } from '../lib/llm/text-model';
import { VisionEncoder } from '../lib/vision/encoder';
import { HfTensors, TINY, writeSafetensors } from './helpers/hf-checkpoint';
import { Qwen2Checkpoint, QWEN2_TINY, USER_TOKEN, writeQwen2Checkpoint } from './helpers/hf-qwen2-checkpoint';
import { editJson, expectConvertError } from './helpers/convert-expect';
import { hfToRefWeights } from './helpers/hf-ref-weights';
import { distinctTiles, relError, tempDir } from './helpers/models';
import { byteAlphabet, hfBpeTokenize, RefBpeTokenizer } from './reference/bpe';
import { referenceEncode } from './reference/internvit';
import { Qwen2Config, qwen2Logits } from './reference/qwen2';

let n = 0;
const fresh = (opts: Parameters<typeof writeQwen2Checkpoint>[1] = {}) => writeQwen2Checkpoint(path.join(tempDir(), 'qwen2', `ckpt-${++n}`), { seed: 21, ...opts });
const convert = (ckpt: Qwen2Checkpoint, textType: 'f32' | 'f16' | 'q8_0' | 'q4_k_m', visionType: 'f32' | 'f16' = 'f16') =>
  convertCheckpoint({ checkpointDir: ckpt.dir, outDir: path.join(tempDir(), 'qwen2-out', `out-${++n}`), textType, visionType });

const cfg = (tied: boolean): Qwen2Config => ({ ...QWEN2_TINY, tiedEmbeddings: tied });

function refTokenizer(ckpt: Qwen2Checkpoint): RefBpeTokenizer {
  return { vocab: ckpt.bpe.vocab, merges: ckpt.bpe.merges, added: ckpt.added, nfc: true };
}

/** Rows of every q and k head reordered as llama.cpp's NORM-rope permutation would (new 2i+p = old p·d/2+i). */
function permuteQk(hf: HfTensors): HfTensors {
  const out: HfTensors = new Map(hf);
  const d = QWEN2_TINY.embd / QWEN2_TINY.heads;
  for (let l = 0; l < QWEN2_TINY.layers; l++) {
    for (const part of ['q_proj.weight', 'q_proj.bias', 'k_proj.weight', 'k_proj.bias']) {
      const name = `language_model.model.layers.${l}.self_attn.${part}`;
      const t = hf.get(name)!;
      const rowLen = t.shape.length === 2 ? t.shape[1] : 1;
      const data = new Float64Array(t.data.length);
      for (let h = 0; h < t.shape[0] / d; h++) {
        for (let i = 0; i < d / 2; i++) {
          for (let p = 0; p < 2; p++) {
            const src = (h * d + p * (d / 2) + i) * rowLen;
            data.set(t.data.subarray(src, src + rowLen), (h * d + 2 * i + p) * rowLen);
          }
        }
      }
      out.set(name, { shape: t.shape, data });
    }
  }
  return out;
}

/** A prompt of byte, merged and added tokens (the chat start token among them). */
const promptTokens = (ckpt: Qwen2Checkpoint) =>
  Int32Array.from([ckpt.added.get('<|im_start|>')!, 300, 17, 401, 288, 266, 9, 77, 350, 299, 260, 123]);

describe('convert Qwen2: GGUF layout (llama.cpp conversion/qwen.py + SpecialVocab)', () => {
  let ckpt: Qwen2Checkpoint;
  let out: { mmproj: string; model: string; warnings: string[] };
  beforeAll(async () => {
    ckpt = fresh();
    out = await convert(ckpt, 'q8_0');
  });

  it('writes the qwen2 keys and tensors, biases f32, no rope permutation needed', async () => {
    const h = await readGgufHeader(out.model);
    const kv = (k: string) => h.kv.get(k)?.value;
    const t = QWEN2_TINY;
    expect(kv('general.architecture')).toBe('qwen2');
    expect(kv('qwen2.embedding_length')).toBe(t.embd);
    expect(kv('qwen2.feed_forward_length')).toBe(t.ffn);
    expect(kv('qwen2.block_count')).toBe(t.layers);
    expect(kv('qwen2.attention.head_count')).toBe(t.heads);
    expect(kv('qwen2.attention.head_count_kv')).toBe(t.kvHeads);
    expect(kv('qwen2.context_length')).toBe(t.contextLength);
    expect(kv('qwen2.rope.freq_base')).toBe(t.ropeTheta);
    expect(kv('qwen2.attention.layer_norm_rms_epsilon')).toBeCloseTo(t.rmsEps, 12);
    const byName = new Map(h.tensors.map((x) => [x.name, x]));
    const kvDim = (t.embd / t.heads) * t.kvHeads;
    expect(byName.get('blk.0.attn_q.bias')!.ne).toEqual([t.embd]);
    expect(byName.get('blk.1.attn_k.bias')!.ne).toEqual([kvDim]);
    expect(byName.get('blk.1.attn_v.bias')!.ne).toEqual([kvDim]);
    expect(byName.get('blk.1.attn_k.weight')!.ne).toEqual([t.embd, kvDim]);
    expect(byName.get('output.weight')!.ne).toEqual([t.embd, ckpt.vocabSize]);
    for (const b of ['attn_q.bias', 'attn_k.bias', 'attn_v.bias']) expect(byName.get(`blk.0.${b}`)!.type).toBe(GgmlType.F32);
    expect(byName.get('blk.0.attn_q.weight')!.type).toBe(GgmlType.Q8_0);
    expect(h.tensors.length).toBe(3 + 12 * t.layers);
  });

  it('writes the gpt2 / qwen2 vocabulary: byte-level tokens, types, merges, bos/eos/pad', async () => {
    const h = await readGgufHeader(out.model);
    const kv = (k: string) => h.kv.get(k)?.value;
    expect(kv('tokenizer.ggml.model')).toBe('gpt2');
    expect(kv('tokenizer.ggml.pre')).toBe('qwen2');
    const tokens = kv('tokenizer.ggml.tokens') as string[];
    const types = kv('tokenizer.ggml.token_type') as number[];
    expect(tokens.length).toBe(ckpt.vocabSize);
    expect(ckpt.bpe.merges.length).toBeGreaterThan(300);
    for (const [text, id] of ckpt.bpe.vocab) {
      expect(tokens[id]).toBe(text);
      expect(types[id]).toBe(TokenType.NORMAL);
    }
    for (const [text, id] of ckpt.added) {
      expect(tokens[id]).toBe(text);
      expect(types[id]).toBe(text === USER_TOKEN ? TokenType.USER_DEFINED : TokenType.CONTROL);
    }
    const last = ckpt.vocabSize - 1;
    expect(tokens[last]).toBe(`[PAD${last}]`);
    expect(types[last]).toBe(TokenType.UNUSED);
    expect(kv('tokenizer.ggml.merges')).toEqual(ckpt.bpe.merges.map(([a, b]) => `${a} ${b}`));
    expect(kv('tokenizer.ggml.bos_token_id')).toBe(ckpt.added.get('<|endoftext|>'));
    expect(kv('tokenizer.ggml.eos_token_id')).toBe(ckpt.added.get('<|im_end|>'));
    expect(kv('tokenizer.ggml.padding_token_id')).toBe(ckpt.added.get('<|endoftext|>'));
    expect(kv('tokenizer.ggml.add_bos_token')).toBe(false);
    expect(h.kv.has('tokenizer.ggml.scores')).toBe(false);
    expect(h.kv.has('tokenizer.ggml.unknown_token_id')).toBe(false);
    expect(out.warnings.some((w) => /NFC/.test(w))).toBe(true);
  });

  it("the mmproj projects to the Qwen2 width, and libllama finds the prompt's special tokens and no bos", async () => {
    const h = await readGgufHeader(out.mmproj);
    expect(h.kv.get('clip.vision.projection_dim')!.value).toBe(QWEN2_TINY.embd);
    expect(h.tensors.find((x) => x.name === 'mm.model.mlp.3.weight')!.ne).toEqual([QWEN2_TINY.embd, QWEN2_TINY.embd]);
    const model = await TextModel.load(out.model);
    try {
      expect(model.info.arch).toBe('qwen2');
      expect(model.info.embeddingWidth).toBe(QWEN2_TINY.embd);
      const a = ckpt.added;
      expect(model.info.special).toEqual({
        bos: a.get('<|endoftext|>'), eos: a.get('<|im_end|>'), imStart: a.get('<|im_start|>'), imEnd: a.get('<|im_end|>'),
        imgStart: a.get('<img>'), imgEnd: a.get('</img>'), imgContext: a.get('<IMG_CONTEXT>'),
        addBos: false, // HF's Qwen2 tokenizer adds no bos, so the chat prompt starts at <|im_start|>
      });
    } finally {
      model.dispose();
    }
  });
});

describe('(b) converted Qwen2 in libllama vs the float64 HF forward', () => {
  let ckpt: Qwen2Checkpoint;
  let TOKENS: Int32Array;
  let ref: Float64Array;
  beforeAll(() => {
    ckpt = fresh({ seed: 22 });
    TOKENS = promptTokens(ckpt);
    const all = qwen2Logits(ckpt.tensors, cfg(false), TOKENS);
    ref = all[all.length - 1];
  });

  it.each<['f32' | 'f16' | 'q8_0', number]>([
    ['f32', 5e-3],
    ['f16', 1e-2],
    ['q8_0', 5e-2],
  ])('text type %s: last-position logits within %s (relative)', async (textType, tol) => {
    const o = await convert(ckpt, textType);
    const model = await TextModel.load(o.model);
    try {
      const logits = await model.logits([TOKENS], { threads: 2 });
      const err = relError(logits, ref);
      process.stderr.write(`convert qwen2 ${textType}: relative logit error ${err.toExponential(2)}\n`);
      expect(err).toBeLessThanOrEqual(tol);
      if (textType === 'f32') {
        // The comparison sees the mistakes the converter must avoid: dropping the biases, and
        // permuting q/k rows for NORM rope as the internlm2 / llama paths do.
        const noBias: HfTensors = new Map(ckpt.tensors);
        for (const [name, t] of ckpt.tensors) if (name.endsWith('_proj.bias')) noBias.set(name, { shape: t.shape, data: new Float64Array(t.data.length) });
        const a = qwen2Logits(noBias, cfg(false), TOKENS);
        const b = qwen2Logits(permuteQk(ckpt.tensors), cfg(false), TOKENS);
        process.stderr.write(`  without biases: ${relError(logits, a[a.length - 1]).toExponential(2)}, permuted q/k: ${relError(logits, b[b.length - 1]).toExponential(2)}\n`);
        expect(relError(logits, a[a.length - 1])).toBeGreaterThan(20 * tol);
        expect(relError(logits, b[b.length - 1])).toBeGreaterThan(20 * tol);
      }
    } finally {
      model.dispose();
    }
  });

  it('tied embeddings: no output tensor, token_embd gets the output type, logits still match', async () => {
    const tied = fresh({ seed: 23, tied: true });
    const TOKENS = promptTokens(tied);
    expect(tied.tensors.has('language_model.lm_head.weight')).toBe(false);
    const all = qwen2Logits(tied.tensors, cfg(true), TOKENS);
    const o = await convert(tied, 'f32');
    const h = await readGgufHeader(o.model);
    expect(h.tensors.some((t) => t.name === 'output.weight')).toBe(false);
    const model = await TextModel.load(o.model);
    try {
      const err = relError(await model.logits([TOKENS], { threads: 2 }), all[all.length - 1]);
      process.stderr.write(`convert qwen2 tied f32: relative logit error ${err.toExponential(2)}\n`);
      expect(err).toBeLessThanOrEqual(5e-3);
    } finally {
      model.dispose();
    }
    // llama.cpp quantizes a tied token_embd as the output: q8_0 here (row 96 is not a q6_k block).
    const q = await convert(tied, 'q4_k_m');
    const types = new Map((await readGgufHeader(q.model)).tensors.map((t) => [t.name, t.type]));
    expect(types.get('token_embd.weight')).toBe(GgmlType.Q8_0);
    expect(types.get('blk.0.attn_q.weight')).toBe(GgmlType.Q5_0);
  });
});

describe('(c) converted tokenizer vs HF byte-level BPE semantics', () => {
  const TEXTS = [
    '<|im_start|>system\n你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型。<|im_end|><|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>\nWhat is the total amount on this invoice?<|im_end|><|im_start|>assistant\n',
    'hello world  Hello, WORLD! 你好世界 中国文档的日期 and the 金额总计 is 1234.56.',
    "I've read it; they're sure we'll find IT'S price. DON'T 'Re 'M 'LL",
    '   leading spaces, trailing spaces   ',
    'multiple   spaces\tand\ttabs\n\nnew lines\r\n  \n indented\n\n\n',
    'emoji 🐒🚀 and ünïcödé and 漢字 and Ελληνικά and русский',
    'digits 0123456789 ١٢٣ ½ ² and 2024-08-02',
    '<ref>table</ref><box>(10,20),(30,40)</box><quad>x</quad>',
    `${USER_TOKEN} is a user token; <note>again</note>`,
    '<|endoftext|>after the end<|im_end|>',
    '--- === !!! ??? ... ```code```',
    '，。！？、：；（）图片、表格、文档。',
    '',
  ];

  it.each(['json-strings', 'json-pairs', 'vocab-merges'] as const)('tokenizer stored as %s: every text tokenizes as the reference does', async (tokenizer) => {
    const ckpt = fresh({ tokenizer });
    const o = await convert(ckpt, 'f16');
    const model = await TextModel.load(o.model);
    const ref = refTokenizer(ckpt);
    const byId = new Map([...ckpt.bpe.vocab].map(([t, id]) => [id, t]));
    const byteOf = new Map(byteAlphabet().map((c, b) => [c, b]));
    try {
      let merged = 0, multiByte = 0;
      for (const text of TEXTS) {
        expect(text.normalize('NFC')).toBe(text); // llama.cpp does not normalize; these texts need none
        const want = hfBpeTokenize(ref, text);
        const got = Array.from(model.tokenize(text, { addBos: true, special: true }));
        expect({ text, ids: got }).toEqual({ text, ids: want });
        for (const id of want) {
          const t = byId.get(id);
          if (t === undefined || t.length < 2) continue;
          merged++;
          // a merge across the bytes of a multi-byte character (a CJK one has 3)
          if ([...t].filter((c) => byteOf.get(c)! >= 0x80).length >= 2) multiByte++;
        }
      }
      // The texts exercise real merges, including ones across the bytes of Chinese characters.
      expect(merged).toBeGreaterThan(40);
      expect(multiByte).toBeGreaterThan(10);
    } finally {
      model.dispose();
    }
  });
});

describe('the converted Qwen2 pair', () => {
  it('the vision tower equals the float64 reference, and the pair loads and answers about an image', async () => {
    const ckpt = fresh({ seed: 24 });
    const o = await convert(ckpt, 'f16', 'f32');
    const refCfg = { ...TINY.vision, lnEps: 1e-6, projLnEps: 1e-5 };
    const tiles = distinctTiles(1, refCfg.imageSize, 3);
    const enc = await VisionEncoder.load(o.mmproj, { threads: 2 });
    try {
      const ours = await enc.encode(tiles, 1);
      expect(ours.length).toBe(256 * QWEN2_TINY.embd);
      expect(relError(ours, referenceEncode(hfToRefWeights(ckpt.tensors), refCfg, tiles, 1))).toBeLessThanOrEqual(1e-4);
    } finally {
      enc.dispose();
    }
    const mm = await MiniMonkey.load({ model: o.model, mmproj: o.mmproj, threads: 2, contextSize: 4096 });
    try {
      const img = { data: new Uint8Array(96 * 64 * 3).map((_, i) => (i * 37) & 255), width: 96, height: 64, channels: 3 as const };
      const chat = await mm.chat();
      const res = await chat.ask([{ type: 'image', image: img }, 'What is the total?'], { crop: 'fast', maxTokens: 6 });
      expect(res.tokens.image).toBe(res.images[0].imageTokens);
      expect(res.tokens.image).toBeGreaterThan(0);
      expect(res.tokens.generated).toBe(res.tokenIds.length);
      chat.dispose();
      // Qwen2's prompt has no bos: a first turn is exactly the ChatML text, nothing before <|im_start|>.
      const plain = await mm.chat();
      const q = 'What is the total?';
      const textOnly = await plain.ask(q, { maxTokens: 1 });
      const chatml = `<|im_start|>system\n${DEFAULT_SYSTEM_MESSAGE}<|im_end|><|im_start|>user\n${q}<|im_end|><|im_start|>assistant\n`;
      expect(textOnly.tokens.prompt).toBe(mm.text.tokenize(chatml, { special: true }).length);
      plain.dispose();
    } finally {
      mm.dispose();
    }
  });
});

describe('convert Qwen2: bad input gives typed errors and writes nothing', () => {
  const expectCode = (ckpt: Qwen2Checkpoint, code: string, message: RegExp) => expectConvertError(ckpt.dir, code, message);

  it('malformed or missing tokenizer files', async () => {
    let c = fresh();
    fs.writeFileSync(path.join(c.dir, 'tokenizer.json'), '{"model": {"type": "BPE", ');
    await expectCode(c, 'MODEL_LOAD', /tokenizer\.json/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => (j.model.merges[3] = 'abc'));
    await expectCode(c, 'MODEL_LOAD', /merge 3 "abc" is not/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => j.model.merges.push(['zz', 'q']));
    await expectCode(c, 'MODEL_LOAD', /uses "zz", which is not in the vocabulary/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => (j.model.vocab.x = -1));
    await expectCode(c, 'MODEL_LOAD', /bad id/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => (j.added_tokens[0] = { id: 3 }));
    await expectCode(c, 'MODEL_LOAD', /added_tokens\[0\]/);
    c = fresh();
    fs.rmSync(path.join(c.dir, 'tokenizer.json'));
    await expectCode(c, 'MODEL_LOAD', /no tokenizer\.json \(or vocab\.json \+ merges\.txt\)/);
    c = fresh({ tokenizer: 'vocab-merges' });
    fs.appendFileSync(path.join(c.dir, 'merges.txt'), 'a b c\n');
    await expectCode(c, 'MODEL_LOAD', /merges\.txt: line \d+ "a b c" is not/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer_config.json'), (j) => (j.eos_token = '<nope>'));
    await expectCode(c, 'MODEL_LOAD', /eos_token '<nope>' is not in the vocabulary/);
  });

  it('tokenizers llama.cpp would not reproduce are refused', async () => {
    let c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => (j.model.type = 'Unigram'));
    await expectCode(c, 'UNSUPPORTED', /tokenizer model 'Unigram'/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => (j.pre_tokenizer.pretokenizers[0].pattern.Regex = "'s|'t|\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+|\\s+"));
    await expectCode(c, 'UNSUPPORTED', /pre-tokenizer is not Qwen2's/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => (j.normalizer = { type: 'Lowercase' }));
    await expectCode(c, 'UNSUPPORTED', /normalizer "Lowercase"/);
    c = fresh();
    editJson(path.join(c.dir, 'tokenizer.json'), (j) => {
      // a byte token dropped (and the merges that use it): no longer byte-level
      const gone = byteAlphabet()[0xe4];
      delete j.model.vocab[gone];
      j.model.merges = j.model.merges.filter((m: string) => !m.includes(gone));
    });
    await expectCode(c, 'UNSUPPORTED', /not a byte-level BPE vocabulary/);
  });

  it('config and tensor problems', async () => {
    let c = fresh();
    editJson(path.join(c.dir, 'config.json'), (j) => (j.llm_config.use_sliding_window = true));
    await expectCode(c, 'UNSUPPORTED', /use_sliding_window/);
    c = fresh();
    const noBias = new Map(c.tensors);
    noBias.delete('language_model.model.layers.1.self_attn.k_proj.bias');
    writeSafetensors(path.join(c.dir, 'model.safetensors'), [...noBias.keys()], noBias);
    await expectCode(c, 'MODEL_LOAD', /no tensor 'language_model\.model\.layers\.1\.self_attn\.k_proj\.bias'/);
    c = fresh({ tied: true });
    editJson(path.join(c.dir, 'config.json'), (j) => (j.llm_config.tie_word_embeddings = false));
    await expectCode(c, 'MODEL_LOAD', /no tensor 'language_model\.lm_head\.weight'/);
  });
});
