// Writes a small synthetic Mini-Monkey / InternVL2 checkpoint in the Hugging Face layout, the way
// the real one is laid out: bf16 safetensors (single file, or shards + model.safetensors.index.json)
// under the real HF names and shapes, config.json, a SentencePiece tokenizer.model written as
// protobuf by hand here, tokenizer_config.json and added_tokens.json. Written independently of
// lib/convert, so the converter is checked against what the test meant, not against itself.
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../../lib/synth/rng';
import { SHAPES } from '../../lib/synth/shapes';

export interface HfTensor {
  /** PyTorch shape, outermost first. */
  shape: number[];
  /** The bf16 values, widened exactly to float64. */
  data: Float64Array;
}
export type HfTensors = Map<string, HfTensor>;

export interface SpPieceDef {
  piece: string;
  score: number;
  /** SentencePiece type: 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte. */
  type: number;
}

export interface HfCheckpoint {
  dir: string;
  tensors: HfTensors;
  config: ReturnType<typeof makeConfig>;
  pieces: SpPieceDef[];
  /** Added tokens: content → id (the 6 InternLM2 chat tokens inside the SP vocabulary, then the 9 InternVL ones after it). */
  added: Map<string, number>;
  /** Ids that tokenizer_config marks special. */
  specialIds: Set<number>;
  /** The language model under InternLM2's names (fused wqkv), whatever `llm` wrote: what the float64 reference reads. */
  internlm2Tensors: HfTensors;
}

export const TINY = {
  vision: SHAPES.tiny.vision,
  text: SHAPES.tiny.text,
};

const CHAT_TOKENS = ['<|plugin|>', '<|interpreter|>', '<|action_end|>', '<|action_start|>', '<|im_end|>', '<|im_start|>'];
const INTERNVL_TOKENS = ['<img>', '</img>', '<IMG_CONTEXT>', '<quad>', '</quad>', '<ref>', '</ref>', '<box>', '</box>'];

const WORDS = 'the of and to in is it you that was for on are with as this from by image picture text document page table chart ' +
  'answer question what where total date name value figure read title line number invoice amount price left right top bottom hello world';
const CJK_CHARS = '你好世界中国文档图片表格问题答案是的一个这在有我们日期金额总计';
const CJK_WORDS = ['你好', '世界', '中国', '文档', '图片', '表格', '问题', '答案', '我们', '日期', '金额', '总计'];

/** The SentencePiece pieces of the tiny tokenizer: specials, 256 byte pieces, then BPE pieces best-first. */
export function tinyPieces(): SpPieceDef[] {
  const pieces: SpPieceDef[] = [
    { piece: '<unk>', score: 0, type: 2 },
    { piece: '<s>', score: 0, type: 3 },
    { piece: '</s>', score: 0, type: 3 },
  ];
  for (let b = 0; b < 256; b++) pieces.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, score: 0, type: 6 });
  const normal: string[] = [];
  const seen = new Set<string>();
  const add = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p);
      normal.push(p);
    }
  };
  // Single characters first (they are the BPE alphabet), then merges from short to long, so every
  // word can be built by successive merges; a deterministic shuffle within a length varies the order.
  add('▁');
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;?!()-\'"') add(c);
  for (const c of CJK_CHARS) add(c);
  const merges: string[] = [];
  for (const w of WORDS.split(' ')) {
    for (let i = 2; i <= w.length + 1; i++) merges.push(`▁${w}`.slice(0, i));
    for (let i = 2; i <= w.length; i++) merges.push(w.slice(0, i));
  }
  for (const w of CJK_WORDS) merges.push(w, `▁${w}`);
  const rng = new Rng(5, 'pieces');
  const keyed = merges.map((m) => ({ m, k: m.length + rng.uniform() }));
  keyed.sort((a, b) => a.k - b.k);
  for (const { m } of keyed) add(m);
  normal.forEach((p, i) => pieces.push({ piece: p, score: -i, type: 1 }));
  for (const t of CHAT_TOKENS) pieces.push({ piece: t, score: 0, type: 4 });
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// protobuf (sentencepiece_model.proto ModelProto), written by hand

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
function lenField(field: number, payload: number[] | Uint8Array): number[] {
  return [...key(field, 2), ...varint(payload.length), ...payload];
}
function f32Field(field: number, v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v, 0);
  return [...key(field, 5), ...b];
}
const varintField = (field: number, v: number) => [...key(field, 0), ...varint(v)];

export function sentencePieceProto(pieces: SpPieceDef[], opts: { addDummyPrefix: boolean }): Buffer {
  const out: number[] = [];
  for (const p of pieces) {
    const msg = [...lenField(1, Buffer.from(p.piece, 'utf8')), ...f32Field(2, p.score)];
    if (p.type !== 1) msg.push(...varintField(3, p.type));
    out.push(...lenField(1, msg));
  }
  // trainer_spec: model_type BPE (3), vocab_size (4), byte_fallback (35)
  out.push(...lenField(2, [...varintField(3, 2), ...varintField(4, pieces.length), ...varintField(35, 1)]));
  // normalizer_spec: name (1), add_dummy_prefix (3), remove_extra_whitespaces (4), escape_whitespaces (5)
  out.push(...lenField(3, [...lenField(1, Buffer.from('identity')), ...varintField(3, opts.addDummyPrefix ? 1 : 0), ...varintField(4, 0), ...varintField(5, 1)]));
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------------------------
// safetensors

/** f32 → bf16 bits, round to nearest even (as torch does). */
const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);
export function bf16Bits(v: number): number {
  scratchF[0] = v;
  const u = scratchU[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
export function bf16Value(bits: number): number {
  scratchU[0] = bits << 16;
  return scratchF[0];
}

export function writeSafetensors(file: string, names: string[], tensors: HfTensors): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  const chunks: Buffer[] = [];
  for (const name of names) {
    const t = tensors.get(name)!;
    const buf = Buffer.alloc(t.data.length * 2);
    for (let i = 0; i < t.data.length; i++) buf.writeUInt16LE(bf16Bits(t.data[i]), i * 2);
    header[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + buf.length] };
    offset += buf.length;
    chunks.push(buf);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the format pads the header to 8 bytes
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...chunks]));
}

// ---------------------------------------------------------------------------------------------
// the checkpoint

export function makeConfig(vocabSize: number) {
  const v = TINY.vision, t = TINY.text;
  return {
    architectures: ['InternVLChatModel'],
    model_type: 'internvl_chat',
    downsample_ratio: 0.5,
    ps_version: 'v2',
    select_layer: -1,
    template: 'internlm2-chat',
    force_image_size: v.imageSize,
    min_dynamic_patch: 1,
    max_dynamic_patch: 12,
    use_thumbnail: true,
    vision_config: {
      architectures: ['InternVisionModel'],
      model_type: 'intern_vit_6b',
      hidden_size: v.hidden,
      image_size: v.imageSize,
      patch_size: v.patchSize,
      intermediate_size: v.ffn,
      num_attention_heads: v.heads,
      num_hidden_layers: v.layers,
      layer_norm_eps: 1e-6,
      qkv_bias: true,
      qk_normalization: false,
      norm_type: 'layer_norm',
      hidden_act: 'gelu',
      num_channels: 3,
    },
    llm_config: {
      architectures: ['InternLM2ForCausalLM'],
      model_type: 'internlm2',
      hidden_size: t.embd,
      intermediate_size: t.ffn,
      num_attention_heads: t.heads,
      num_key_value_heads: t.kvHeads,
      num_hidden_layers: t.layers,
      rms_norm_eps: t.rmsEps,
      rope_theta: t.ropeTheta,
      max_position_embeddings: t.contextLength,
      vocab_size: vocabSize,
      bias: false,
      rope_scaling: { type: 'dynamic', factor: 2.0 },
      tie_word_embeddings: false,
    },
  };
}

/** Random tensors under the real HF names and shapes (values already rounded to bf16). */
export function makeTensors(vocabSize: number, seed: number): HfTensors {
  const v = TINY.vision, t = TINY.text;
  const H = v.hidden, P = v.patchSize, G = v.imageSize / P, E = t.embd, F = v.ffn;
  const n = t.embd, d = n / t.heads, kv = t.kvHeads * d;
  const m: HfTensors = new Map();
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const r = new Rng(seed, name).normals(count, std, mean);
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) data[i] = bf16Value(bf16Bits(r[i]));
    m.set(name, { shape, data });
  };
  const e = 'vision_model.embeddings.';
  add(`${e}class_embedding`, [1, 1, H], 0.5);
  add(`${e}patch_embedding.weight`, [H, 3, P, P], 1 / Math.sqrt(3 * P * P));
  add(`${e}patch_embedding.bias`, [H], 0.02);
  add(`${e}position_embedding`, [1, G * G + 1, H], 0.5);
  for (let i = 0; i < v.layers; i++) {
    const b = `vision_model.encoder.layers.${i}.`;
    add(`${b}attn.qkv.weight`, [3 * H, H], 1 / Math.sqrt(H));
    add(`${b}attn.qkv.bias`, [3 * H], 0.02);
    add(`${b}attn.proj.weight`, [H, H], 1 / Math.sqrt(H));
    add(`${b}attn.proj.bias`, [H], 0.02);
    add(`${b}mlp.fc1.weight`, [F, H], 1 / Math.sqrt(H));
    add(`${b}mlp.fc1.bias`, [F], 0.02);
    add(`${b}mlp.fc2.weight`, [H, F], 1 / Math.sqrt(F));
    add(`${b}mlp.fc2.bias`, [H], 0.02);
    add(`${b}norm1.weight`, [H], 0.05, 1);
    add(`${b}norm1.bias`, [H], 0.05);
    add(`${b}norm2.weight`, [H], 0.05, 1);
    add(`${b}norm2.bias`, [H], 0.05);
    add(`${b}ls1`, [H], 0.1, 0.5);
    add(`${b}ls2`, [H], 0.1, 0.5);
  }
  add('mlp1.0.weight', [4 * H], 0.05, 1);
  add('mlp1.0.bias', [4 * H], 0.05);
  add('mlp1.1.weight', [E, 4 * H], 1 / Math.sqrt(4 * H));
  add('mlp1.1.bias', [E], 0.02);
  add('mlp1.3.weight', [E, E], 1 / Math.sqrt(E));
  add('mlp1.3.bias', [E], 0.02);
  const l = 'language_model.';
  add(`${l}model.tok_embeddings.weight`, [vocabSize, n], 1);
  for (let i = 0; i < t.layers; i++) {
    const b = `${l}model.layers.${i}.`;
    add(`${b}attention_norm.weight`, [n], 0.05, 1);
    add(`${b}attention.wqkv.weight`, [n + 2 * kv, n], 1 / Math.sqrt(n));
    add(`${b}attention.wo.weight`, [n, n], 1 / Math.sqrt(n));
    add(`${b}ffn_norm.weight`, [n], 0.05, 1);
    add(`${b}feed_forward.w1.weight`, [t.ffn, n], 1 / Math.sqrt(n));
    add(`${b}feed_forward.w3.weight`, [t.ffn, n], 1 / Math.sqrt(n));
    add(`${b}feed_forward.w2.weight`, [n, t.ffn], 1 / Math.sqrt(t.ffn));
  }
  add(`${l}model.norm.weight`, [n], 0.05, 1);
  add(`${l}output.weight`, [vocabSize, n], 3 / Math.sqrt(n));
  return m;
}

export interface WriteOptions {
  seed?: number;
  /** Split the weights over shards with model.safetensors.index.json. */
  sharded?: boolean;
  addDummyPrefix?: boolean;
  /** The LLM's architecture: InternLM2 (Mini-Monkey, InternVL2-2B) or Llama (same weights, Llama's names and split q/k/v). */
  llm?: 'internlm2' | 'llama';
}

/**
 * The same language model under Llama's HF names: q/k/v cut out of the fused wqkv (per KV group,
 * facts §1.5) in head order. HF Llama also uses rotate_half RoPE, so it computes the same logits.
 */
function asLlama(m: HfTensors): HfTensors {
  const t = TINY.text;
  const n = t.embd, d = n / t.heads, r = t.heads / t.kvHeads;
  const out: HfTensors = new Map();
  const l = 'language_model.';
  for (const [name, v] of m) if (!name.startsWith(l)) out.set(name, v);
  out.set(`${l}model.embed_tokens.weight`, m.get(`${l}model.tok_embeddings.weight`)!);
  for (let i = 0; i < t.layers; i++) {
    const src = `${l}model.layers.${i}.`;
    const get = (s: string) => m.get(src + s)!;
    const wqkv = get('attention.wqkv.weight').data;
    const head = (row0: number) => wqkv.subarray(row0 * n, (row0 + d) * n);
    const q = new Float64Array(t.heads * d * n), k = new Float64Array(t.kvHeads * d * n), v = new Float64Array(t.kvHeads * d * n);
    for (let g = 0; g < t.kvHeads; g++) {
      for (let j = 0; j < r; j++) q.set(head((g * (r + 2) + j) * d), (g * r + j) * d * n);
      k.set(head((g * (r + 2) + r) * d), g * d * n);
      v.set(head((g * (r + 2) + r + 1) * d), g * d * n);
    }
    out.set(`${src}self_attn.q_proj.weight`, { shape: [t.heads * d, n], data: q });
    out.set(`${src}self_attn.k_proj.weight`, { shape: [t.kvHeads * d, n], data: k });
    out.set(`${src}self_attn.v_proj.weight`, { shape: [t.kvHeads * d, n], data: v });
    out.set(`${src}self_attn.o_proj.weight`, get('attention.wo.weight'));
    out.set(`${src}input_layernorm.weight`, get('attention_norm.weight'));
    out.set(`${src}post_attention_layernorm.weight`, get('ffn_norm.weight'));
    out.set(`${src}mlp.gate_proj.weight`, get('feed_forward.w1.weight'));
    out.set(`${src}mlp.up_proj.weight`, get('feed_forward.w3.weight'));
    out.set(`${src}mlp.down_proj.weight`, get('feed_forward.w2.weight'));
  }
  out.set(`${l}model.norm.weight`, m.get(`${l}model.norm.weight`)!);
  out.set(`${l}lm_head.weight`, m.get(`${l}output.weight`)!);
  return out;
}

/** Writes the tiny checkpoint into `dir` (created). */
export function writeHfCheckpoint(dir: string, opts: WriteOptions = {}): HfCheckpoint {
  fs.mkdirSync(dir, { recursive: true });
  const pieces = tinyPieces();
  const added = new Map<string, number>();
  const nSp = pieces.length;
  CHAT_TOKENS.forEach((t) => added.set(t, pieces.findIndex((p) => p.piece === t)));
  INTERNVL_TOKENS.forEach((t, i) => added.set(t, nSp + i));
  const vocabSize = nSp + INTERNVL_TOKENS.length;
  const internlm2Tensors = makeTensors(vocabSize, opts.seed ?? 1);
  const llama = opts.llm === 'llama';
  const tensors = llama ? asLlama(internlm2Tensors) : internlm2Tensors;
  const config = makeConfig(vocabSize);
  if (llama) {
    config.llm_config.architectures = ['LlamaForCausalLM'];
    config.llm_config.model_type = 'llama';
  }

  const names = [...tensors.keys()];
  if (opts.sharded) {
    // Vision + first half of the LLM in shard 1, the rest in shard 2 (a layer's tensors may straddle, as in real shards).
    const cut = Math.floor(names.length * 0.6);
    const shards = [names.slice(0, cut), names.slice(cut)];
    const weightMap: Record<string, string> = {};
    shards.forEach((list, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(path.join(dir, file), list, tensors);
      for (const n of list) weightMap[n] = file;
    });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
  } else {
    writeSafetensors(path.join(dir, 'model.safetensors'), names, tensors);
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  fs.writeFileSync(path.join(dir, 'tokenizer.model'), sentencePieceProto(pieces, { addDummyPrefix: opts.addDummyPrefix ?? true }));

  const specialIds = new Set<number>([0, 1, 2, ...added.values()]);
  const decoder: Record<string, unknown> = {};
  for (const id of [...specialIds].sort((a, b) => a - b)) {
    const content = id < nSp ? pieces[id].piece : INTERNVL_TOKENS[id - nSp];
    decoder[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: decoder,
    bos_token: '<s>',
    eos_token: '</s>',
    pad_token: '</s>',
    unk_token: '<unk>',
    clean_up_tokenization_spaces: false,
    model_max_length: 4096,
    tokenizer_class: 'InternLM2Tokenizer',
    chat_template: "{{ bos_token }}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
  }, null, 2));
  fs.writeFileSync(path.join(dir, 'added_tokens.json'), JSON.stringify(Object.fromEntries(INTERNVL_TOKENS.map((t) => [t, added.get(t)])), null, 2));
  return { dir, tensors, config, pieces, added, specialIds, internlm2Tensors };
}
