// HF checkpoint names → llama.cpp GGUF tensors (facts §5.1 for the vision projector, §5.2 for
// the text model; Qwen2 as llama.cpp's conversion/qwen.py writes it). Each output tensor knows its ggml shape and how to produce its f32 values from
// the checkpoint; nothing is read until the writer asks for that tensor.
import { TEXT_ARCHS } from '../family';
import { UnsupportedError } from '../errors';
import { Checkpoint, checkShape } from './checkpoint';
import { HfConfig } from './hf-config';
import { permuteForNormRope, splitInternLM2Wqkv, splitThirds } from './qkv';

export interface OutTensor {
  /** GGUF name. */
  name: string;
  /** ggml shape (ne[0] fastest), i.e. the PyTorch shape reversed. */
  ne: number[];
  /** The f32 values in the GGUF layout. */
  read: () => Promise<Float32Array>;
}

export interface TensorPlan {
  tensors: OutTensor[];
  /** Every checkpoint tensor this plan accounts for (read or deliberately skipped). */
  consumed: Set<string>;
}

const rev = (shape: number[]) => [...shape].reverse();

/**
 * Reads checkpoint tensors with a one-entry cache: a fused tensor that feeds several outputs
 * (q, k, v) is read once, and memory stays near one tensor.
 */
class Source {
  private last: { name: string; value: Promise<Float32Array> } | undefined;
  readonly consumed = new Set<string>();
  constructor(readonly ckpt: Checkpoint) {}

  /**
   * Registers `name` and checks its shape now (before any file is written). A `shared` tensor
   * feeds several outputs and stays cached until another shared one is read; others are not kept.
   */
  use(name: string, shape: number[], shared = false): () => Promise<Float32Array> {
    checkShape(name, this.ckpt.info(name).shape, shape);
    this.consumed.add(name);
    if (!shared) return () => this.ckpt.read(name, shape);
    return () => {
      if (this.last?.name !== name) {
        this.last = { name, value: this.ckpt.read(name, shape) };
      }
      return this.last.value;
    };
  }

  /** The tensor's name if the checkpoint has it (for optional tensors). */
  skip(name: string): void {
    if (this.ckpt.has(name)) this.consumed.add(name);
  }
}

export function visionPlan(ckpt: Checkpoint, cfg: HfConfig): TensorPlan {
  const v = cfg.vision;
  const H = v.hidden, P = v.patchSize, F = v.ffn, E = cfg.text.embd, G = v.imageSize / P;
  const H4 = H * cfg.scaleFactor * cfg.scaleFactor;
  const src = new Source(ckpt);
  const out: OutTensor[] = [];
  const direct = (hf: string, shape: number[], gguf: string, ne = rev(shape)) => out.push({ name: gguf, ne, read: src.use(hf, shape) });
  const e = 'vision_model.embeddings.';
  direct(`${e}patch_embedding.weight`, [H, 3, P, P], 'v.patch_embd.weight');
  direct(`${e}patch_embedding.bias`, [H], 'v.patch_embd.bias');
  direct(`${e}class_embedding`, [1, 1, H], 'v.class_embd');
  // Row 0 is the CLS position; our runtime puts CLS first, as the reference does, so rows keep HF order.
  direct(`${e}position_embedding`, [1, G * G + 1, H], 'v.position_embd.weight');
  for (let i = 0; i < v.checkpointLayers; i++) {
    const hf = `vision_model.encoder.layers.${i}.`;
    const names = ['attn.qkv.weight', 'attn.qkv.bias', 'attn.proj.weight', 'attn.proj.bias', 'norm1.weight', 'norm1.bias',
      'norm2.weight', 'norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias', 'ls1', 'ls2'];
    if (i >= v.layers) {
      // Layers after select_layer never reach the output.
      for (const n of names) src.skip(hf + n);
      continue;
    }
    const b = `v.blk.${i}.`;
    const qkvW = src.use(`${hf}attn.qkv.weight`, [3 * H, H], true);
    const qkvB = src.use(`${hf}attn.qkv.bias`, [3 * H], true);
    for (const part of ['q', 'k', 'v'] as const) {
      out.push({ name: `${b}attn_${part}.weight`, ne: [H, H], read: async () => splitThirds(await qkvW())[part] });
      out.push({ name: `${b}attn_${part}.bias`, ne: [H], read: async () => splitThirds(await qkvB())[part] });
    }
    direct(`${hf}attn.proj.weight`, [H, H], `${b}attn_out.weight`);
    direct(`${hf}attn.proj.bias`, [H], `${b}attn_out.bias`);
    direct(`${hf}mlp.fc1.weight`, [F, H], `${b}ffn_up.weight`);
    direct(`${hf}mlp.fc1.bias`, [F], `${b}ffn_up.bias`);
    direct(`${hf}mlp.fc2.weight`, [H, F], `${b}ffn_down.weight`);
    direct(`${hf}mlp.fc2.bias`, [H], `${b}ffn_down.bias`);
    direct(`${hf}norm1.weight`, [H], `${b}ln1.weight`);
    direct(`${hf}norm1.bias`, [H], `${b}ln1.bias`);
    direct(`${hf}norm2.weight`, [H], `${b}ln2.weight`);
    direct(`${hf}norm2.bias`, [H], `${b}ln2.bias`);
    direct(`${hf}ls1`, [H], `${b}ls1.weight`);
    direct(`${hf}ls2`, [H], `${b}ls2.weight`);
  }
  direct('mlp1.0.weight', [H4], 'mm.model.mlp.0.weight');
  direct('mlp1.0.bias', [H4], 'mm.model.mlp.0.bias');
  direct('mlp1.1.weight', [E, H4], 'mm.model.mlp.1.weight');
  direct('mlp1.1.bias', [E], 'mm.model.mlp.1.bias');
  direct('mlp1.3.weight', [E, E], 'mm.model.mlp.3.weight');
  direct('mlp1.3.bias', [E], 'mm.model.mlp.3.bias');
  return { tensors: out, consumed: src.consumed };
}

/** HF Llama / Qwen2 names of the language model's tensors. */
const LLAMA_STYLE_NAMES = {
  embed: 'language_model.model.embed_tokens.weight',
  norm: 'language_model.model.norm.weight',
  output: 'language_model.lm_head.weight',
  layer: (i: number) => `language_model.model.layers.${i}.`,
  attnNorm: 'input_layernorm.weight',
  ffnNorm: 'post_attention_layernorm.weight',
  wo: 'self_attn.o_proj.weight',
  gate: 'mlp.gate_proj.weight',
  up: 'mlp.up_proj.weight',
  down: 'mlp.down_proj.weight',
};

/** HF names of the language model's tensors, per architecture. */
const TEXT_NAMES = {
  internlm2: {
    embed: 'language_model.model.tok_embeddings.weight',
    norm: 'language_model.model.norm.weight',
    output: 'language_model.output.weight',
    layer: (i: number) => `language_model.model.layers.${i}.`,
    attnNorm: 'attention_norm.weight',
    ffnNorm: 'ffn_norm.weight',
    wo: 'attention.wo.weight',
    gate: 'feed_forward.w1.weight',
    up: 'feed_forward.w3.weight',
    down: 'feed_forward.w2.weight',
  },
  llama: LLAMA_STYLE_NAMES,
  // Qwen2 has Llama's names, plus q/k/v biases (mapped in textPlan).
  qwen2: LLAMA_STYLE_NAMES,
};

/** Rows of the token embedding (the vocabulary size the text file must have). */
export function embeddingRows(ckpt: Checkpoint, cfg: HfConfig): number {
  return ckpt.info(TEXT_NAMES[cfg.text.arch].embed).shape[0];
}

export function textPlan(ckpt: Checkpoint, cfg: HfConfig): TensorPlan {
  const t = cfg.text;
  const N = TEXT_NAMES[t.arch];
  const n = t.embd, d = t.headDim, kv = t.kvHeads * d, V = t.vocabSize;
  const src = new Source(ckpt);
  const out: OutTensor[] = [];
  const direct = (hf: string, shape: number[], gguf: string) => out.push({ name: gguf, ne: rev(shape), read: src.use(hf, shape) });
  direct(N.embed, [V, n], 'token_embd.weight');
  for (let i = 0; i < t.layers; i++) {
    const hf = N.layer(i);
    const b = `blk.${i}.`;
    direct(hf + N.attnNorm, [n], `${b}attn_norm.weight`);
    // The family table says how llama.cpp ropes the arch: 'norm' (pairs 2i, 2i+1) needs HF's
    // rotate_half q/k rows permuted, 'neox' keeps HF's order (conversion/qwen.py does not permute).
    const facts = TEXT_ARCHS[t.arch];
    const qk = (rows: Float32Array, heads: number) => (facts.rope === 'norm' ? permuteForNormRope(rows, heads, n) : rows);
    if (t.arch === 'internlm2') {
      const wqkv = src.use(`${hf}attention.wqkv.weight`, [n + 2 * kv, n], true);
      const split = async () => splitInternLM2Wqkv(await wqkv(), t.heads, t.kvHeads, d, n);
      out.push({ name: `${b}attn_q.weight`, ne: [n, n], read: async () => qk((await split()).q, t.heads) });
      out.push({ name: `${b}attn_k.weight`, ne: [n, kv], read: async () => qk((await split()).k, t.kvHeads) });
      out.push({ name: `${b}attn_v.weight`, ne: [n, kv], read: async () => (await split()).v });
    } else {
      // 1-D biases stay f32; a 'norm' arch with biases would need them permuted too (none in the table).
      if (facts.qkvBias && facts.rope !== 'neox') throw new Error(`tensor-map: q/k biases of a ${facts.rope}-rope arch are not laid out`);
      const bias = (p: string, rows: number) => facts.qkvBias && direct(`${hf}self_attn.${p}_proj.bias`, [rows], `${b}attn_${p}.bias`);
      const q = src.use(`${hf}self_attn.q_proj.weight`, [n, n]);
      out.push({ name: `${b}attn_q.weight`, ne: [n, n], read: async () => qk(await q(), t.heads) });
      bias('q', n);
      const k = src.use(`${hf}self_attn.k_proj.weight`, [kv, n]);
      out.push({ name: `${b}attn_k.weight`, ne: [n, kv], read: async () => qk(await k(), t.kvHeads) });
      bias('k', kv);
      direct(`${hf}self_attn.v_proj.weight`, [kv, n], `${b}attn_v.weight`);
      bias('v', kv);
    }
    direct(hf + N.wo, [n, n], `${b}attn_output.weight`);
    direct(hf + N.ffnNorm, [n], `${b}ffn_norm.weight`);
    direct(hf + N.gate, [t.ffn, n], `${b}ffn_gate.weight`);
    direct(hf + N.up, [t.ffn, n], `${b}ffn_up.weight`);
    direct(hf + N.down, [n, t.ffn], `${b}ffn_down.weight`);
    src.skip(`${hf}attention.rotary_emb.inv_freq`);
    src.skip(`${hf}self_attn.rotary_emb.inv_freq`);
  }
  direct(N.norm, [n], 'output_norm.weight');
  if (!t.tiedEmbeddings) direct(N.output, [V, n], 'output.weight');
  else src.skip(N.output);
  return { tensors: out, consumed: src.consumed };
}

/** Fails on checkpoint tensors that no plan accounts for: silently dropping weights hides a wrong mapping. */
export function checkAllConsumed(ckpt: Checkpoint, plans: TensorPlan[]): void {
  const left = ckpt.names().filter((name) => !plans.some((p) => p.consumed.has(name)));
  if (left.length > 0) {
    const shown = left.slice(0, 5).map((s) => `'${s}'`).join(', ');
    throw new UnsupportedError(`${ckpt.dir}: ${left.length} checkpoint tensor(s) have no GGUF mapping: ${shown}${left.length > 5 ? ', …' : ''}`);
  }
}
