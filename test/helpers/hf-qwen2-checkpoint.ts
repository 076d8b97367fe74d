// Writes a small synthetic InternVL2 checkpoint whose LLM is Qwen2 (InternVL2-1B's layout) in the
// Hugging Face format: the tiny InternViT of hf-checkpoint.ts with a projector to the Qwen2 width,
// `language_model.*` under Qwen2ForCausalLM's names (q/k/v biases, lm_head or tied), bf16
// safetensors, config.json with a Qwen2 llm_config, and a byte-level BPE tokenizer learned here
// from a mixed English / Chinese corpus, written as tokenizer.json (merges as "a b" strings or
// [a, b] pairs) and/or vocab.json + merges.txt, plus tokenizer_config.json with the added tokens.
// Written independently of lib/convert, so the converter is checked against what the test meant.
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../../lib/synth/rng';
import { bf16Bits, bf16Value, HfTensors, makeConfig, makeTensors, TINY, writeSafetensors } from './hf-checkpoint';
import { byteAlphabet, byteTokenOrder, qwen2Split } from '../reference/bpe';

/** The Qwen2 text shape: wider than the tiny InternLM2 (so a projector of the wrong width shows), GQA 3:1. */
export const QWEN2_TINY = { embd: 96, ffn: 160, layers: 2, heads: 6, kvHeads: 2, ropeTheta: 1e6, rmsEps: 1e-6, contextLength: 4096 };

/** Qwen2's added tokens, then InternVL2's image and grounding tokens (InternVL2-1B's order). */
const QWEN2_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const INTERNVL_TOKENS = ['<img>', '</img>', '<IMG_CONTEXT>', '<quad>', '</quad>', '<ref>', '</ref>', '<box>', '</box>'];
/** A non-special added token: llama.cpp must keep it USER_DEFINED and still match it whole. */
export const USER_TOKEN = '<note>';
/** Embedding rows past the tokenizer, as real Qwen2 checkpoints have (unused ids). */
const PAD_ROWS = 3;

/** tokenizer.json's Qwen2 split pattern, exactly as Qwen2's file spells it. */
const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const CORPUS = [
  'The total amount on this invoice is 1234.56 dollars, and the date is 2024-08-02.',
  'What is the title of the document? Read the table and answer the question.',
  "I've read the page; it's the chart on the left, they're sure we'll find the price.",
  '你好世界，这是一个中国文档。图片中的表格显示了日期和金额。我们的问题是什么？答案在表格里。',
  '请阅读图片中的文字。这个文档的标题是什么？总计金额是多少？你好，世界！',
  'hello world Hello World HELLO the image shows a picture of a table with numbers 42 and 7.',
  '    indented code:\n\tif (x == 1) { return y; }\n\n// comment --- ===',
  '中文和English混合的句子，包括数字123和标点。图片、表格、文档。',
];

export interface TrainedBpe {
  /** Byte-level token text → id: the 256 byte tokens, then one per new merge product. */
  vocab: Map<string, number>;
  merges: [string, string][];
}

/**
 * Classic BPE training over the corpus's pre-tokenized pieces: count adjacent pairs (weighted by
 * piece frequency), merge the most frequent (ties: the smaller pair text), repeat until
 * `maxMerges` or until every piece is one token.
 */
export function trainBpe(corpus: string[], maxMerges: number): TrainedBpe {
  const alphabet = byteAlphabet();
  const counts = new Map<string, number>();
  for (const text of corpus) for (const p of qwen2Split(text)) counts.set(p, (counts.get(p) ?? 0) + 1);
  const words = [...counts].map(([p, n]) => ({ symbols: Array.from(Buffer.from(p, 'utf8'), (b) => alphabet[b]), n }));
  const vocab = new Map<string, number>(byteTokenOrder().map((c, i) => [c, i]));
  const merges: [string, string][] = [];
  while (merges.length < maxMerges) {
    const pairs = new Map<string, { a: string; b: string; n: number }>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = `${w.symbols[i]} ${w.symbols[i + 1]}`;
        const e = pairs.get(key) ?? { a: w.symbols[i], b: w.symbols[i + 1], n: 0 };
        e.n += w.n;
        pairs.set(key, e);
      }
    }
    let best: { key: string; a: string; b: string; n: number } | undefined;
    for (const [key, e] of pairs) if (!best || e.n > best.n || (e.n === best.n && key < best.key)) best = { key, ...e };
    if (!best) break;
    merges.push([best.a, best.b]);
    if (!vocab.has(best.a + best.b)) vocab.set(best.a + best.b, vocab.size);
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        if (w.symbols[i] === best.a && w.symbols[i + 1] === best.b) w.symbols.splice(i, 2, best.a + best.b);
      }
    }
  }
  return { vocab, merges };
}

export interface Qwen2Checkpoint {
  dir: string;
  tensors: HfTensors;
  config: Record<string, any>;
  bpe: TrainedBpe;
  /** Added tokens: content → id. */
  added: Map<string, number>;
  /** Embedding rows (llm_config.vocab_size). */
  vocabSize: number;
}

export interface Qwen2WriteOptions {
  seed?: number;
  tied?: boolean;
  /** How the tokenizer is stored: tokenizer.json with "a b" merges (default), with [a, b] pairs, or only vocab.json + merges.txt. */
  tokenizer?: 'json-strings' | 'json-pairs' | 'vocab-merges';
}

function qwen2Tensors(vocabSize: number, seed: number, tied: boolean): HfTensors {
  const t = QWEN2_TINY, H = TINY.vision.hidden;
  const n = t.embd, d = n / t.heads, kv = t.kvHeads * d;
  const m: HfTensors = new Map();
  // The vision tower from the InternLM2 helper; its projector is remade for the Qwen2 width.
  for (const [name, v] of makeTensors(vocabSize, seed)) if (name.startsWith('vision_model.') || name.startsWith('mlp1.0.')) m.set(name, v);
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const r = new Rng(seed, `qwen2:${name}`).normals(count, std, mean);
    m.set(name, { shape, data: Float64Array.from(r, (x) => bf16Value(bf16Bits(x))) });
  };
  add('mlp1.1.weight', [n, 4 * H], 1 / Math.sqrt(4 * H));
  add('mlp1.1.bias', [n], 0.02);
  add('mlp1.3.weight', [n, n], 1 / Math.sqrt(n));
  add('mlp1.3.bias', [n], 0.02);
  const l = 'language_model.';
  add(`${l}model.embed_tokens.weight`, [vocabSize, n], 1);
  for (let i = 0; i < t.layers; i++) {
    const b = `${l}model.layers.${i}.`;
    add(`${b}input_layernorm.weight`, [n], 0.05, 1);
    add(`${b}self_attn.q_proj.weight`, [n, n], 1 / Math.sqrt(n));
    add(`${b}self_attn.q_proj.bias`, [n], 0.5);
    add(`${b}self_attn.k_proj.weight`, [kv, n], 1 / Math.sqrt(n));
    add(`${b}self_attn.k_proj.bias`, [kv], 0.5);
    add(`${b}self_attn.v_proj.weight`, [kv, n], 1 / Math.sqrt(n));
    add(`${b}self_attn.v_proj.bias`, [kv], 0.5);
    add(`${b}self_attn.o_proj.weight`, [n, n], 1 / Math.sqrt(n));
    add(`${b}post_attention_layernorm.weight`, [n], 0.05, 1);
    add(`${b}mlp.gate_proj.weight`, [t.ffn, n], 1 / Math.sqrt(n));
    add(`${b}mlp.up_proj.weight`, [t.ffn, n], 1 / Math.sqrt(n));
    add(`${b}mlp.down_proj.weight`, [n, t.ffn], 1 / Math.sqrt(t.ffn));
  }
  add(`${l}model.norm.weight`, [n], 0.05, 1);
  if (!tied) add(`${l}lm_head.weight`, [vocabSize, n], 3 / Math.sqrt(n));
  return m;
}

function writeTokenizerFiles(dir: string, bpe: TrainedBpe, added: Map<string, number>, mode: Qwen2WriteOptions['tokenizer']): void {
  const specials = new Set([...QWEN2_SPECIALS, ...INTERNVL_TOKENS]);
  const entry = (content: string, id: number) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: !specials.has(content), special: specials.has(content),
  });
  if (mode === 'vocab-merges') {
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(bpe.vocab)));
    fs.writeFileSync(path.join(dir, 'merges.txt'), ['#version: 0.2', ...bpe.merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
  } else {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [...added].map(([c, id]) => entry(c, id)),
      normalizer: { type: 'NFC' },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: QWEN2_PATTERN }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        ],
      },
      post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
        byte_fallback: false, ignore_merges: false,
        vocab: Object.fromEntries(bpe.vocab),
        merges: mode === 'json-pairs' ? bpe.merges : bpe.merges.map(([a, b]) => `${a} ${b}`),
      },
    }));
  }
  const decoder = Object.fromEntries([...added].map(([c, id]) => {
    const { id: _id, ...rest } = entry(c, id);
    return [String(id), rest];
  }));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: null,
    chat_template: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: 8192,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  }, null, 2));
}

/**
 * Merges Qwen2's split never lets apply (it cuts every digit apart, and "'S" off the word before
 * it), appended last: a converter or tokenizer that split differently (digit runs, contractions
 * kept on the word, as the gpt2 / llama3 / gpt-4o pre-tokenizers do) would apply them and differ.
 */
function withTrapMerges(bpe: TrainedBpe): TrainedBpe {
  const vocab = new Map(bpe.vocab);
  const merges = [...bpe.merges];
  for (const [a, b] of [['1', '2'], ['12', '3'], ['0', '1'], ['4', '5'], ['T', "'"], ['t', "'"]] as [string, string][]) {
    for (const t of [a, b]) if (!vocab.has(t)) throw new Error(`trap merge: ${t} is not a token`);
    merges.push([a, b]);
    if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  }
  return { vocab, merges };
}

/** The corpus's tokenizer, learned once per test file (training is deterministic). */
let trained: TrainedBpe | undefined;

/** Tensors by seed and tying, made once per test file (callers copy before changing them). */
const madeTensors = new Map<string, HfTensors>();

/** Writes the tiny InternVL2-Qwen2 checkpoint into `dir` (created). */
export function writeQwen2Checkpoint(dir: string, opts: Qwen2WriteOptions = {}): Qwen2Checkpoint {
  fs.mkdirSync(dir, { recursive: true });
  trained ??= withTrapMerges(trainBpe(CORPUS, 400));
  const bpe = trained;
  const added = new Map<string, number>();
  for (const t of [...QWEN2_SPECIALS, ...INTERNVL_TOKENS, USER_TOKEN]) added.set(t, bpe.vocab.size + added.size);
  const vocabSize = bpe.vocab.size + added.size + PAD_ROWS;
  const tied = opts.tied ?? false;
  const key = `${opts.seed ?? 1}:${tied}`;
  const tensors = madeTensors.get(key) ?? qwen2Tensors(vocabSize, opts.seed ?? 1, tied);
  madeTensors.set(key, tensors);
  const t = QWEN2_TINY;
  const config: Record<string, any> = {
    ...makeConfig(vocabSize),
    template: 'Hermes-2',
    llm_config: {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      attention_dropout: 0.0,
      bos_token_id: added.get('<|endoftext|>'),
      eos_token_id: added.get('<|im_end|>'),
      hidden_act: 'silu',
      hidden_size: t.embd,
      intermediate_size: t.ffn,
      num_attention_heads: t.heads,
      num_key_value_heads: t.kvHeads,
      num_hidden_layers: t.layers,
      rms_norm_eps: t.rmsEps,
      rope_theta: t.ropeTheta,
      rope_scaling: null,
      max_position_embeddings: t.contextLength,
      max_window_layers: t.layers,
      sliding_window: t.contextLength,
      use_sliding_window: false,
      tie_word_embeddings: tied,
      torch_dtype: 'bfloat16',
      vocab_size: vocabSize,
    },
  };
  writeSafetensors(path.join(dir, 'model.safetensors'), [...tensors.keys()], tensors);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeTokenizerFiles(dir, bpe, added, opts.tokenizer ?? 'json-strings');
  return { dir, tensors, config, bpe, added, vocabSize };
}
