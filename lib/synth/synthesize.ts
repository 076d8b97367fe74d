// Writes a random-weight model pair in llama.cpp's layout: a vision projector (clip / internvl,
// facts §5.1) and an internlm2 text model (facts §5.2). Deterministic per seed; non-f32 types go
// through ggml's own quantizer in the addon. Files are written through safe-write.ts (temp file,
// then rename) and an aborted signal stops between tensors, leaving nothing behind.
import path from 'node:path';
import { GgmlType, GgufValueType, typeFromName } from '../gguf/constants';
import { InvalidArgumentError } from '../errors';
import { GgufWriter } from '../gguf/writer';
import { writeMmprojKeys } from '../gguf/mmproj-keys';
import { quantize } from '../native';
import { throwIfAborted } from '../util/abort';
import { ensureOutputDir } from '../util/file-kind';
import { writeOutput } from '../util/safe-write';
import { Rng } from './rng';
import { ModelShape, SHAPES, ShapeName } from './shapes';
import { buildVocab, INTERNLM2_CHAT_TEMPLATE } from './vocab';

export type VisionWeightType = 'f32' | 'bf16' | 'f16' | 'q8_0' | 'q4_0' | 'q4_1';
export type TextWeightType = 'f32' | 'bf16' | 'f16' | 'q8_0' | 'q4_0';

export interface SynthesizeOptions {
  shape: ShapeName;
  outDir: string;
  seed?: number;
  visionType?: VisionWeightType;
  textType?: TextWeightType;
  /** Which files to write (default both). */
  parts?: ('vision' | 'text')[];
  onProgress?: (p: { file: string; done: number; total: number }) => void;
  /** Stops the writing between tensors (AbortError); the file being written is removed. */
  signal?: AbortSignal;
}

export interface SynthesizedPair {
  /** Path of the vision projector, or '' when not written. */
  mmproj: string;
  /** Path of the text model, or '' when not written. */
  model: string;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

type Init = { std: number; mean?: number };

/** Adds tensors whose values are drawn on demand, one tensor in memory at a time. */
class TensorPlan {
  count = 0;
  constructor(
    private readonly w: GgufWriter,
    private readonly seed: number,
    private readonly onTensor: () => void,
    private readonly signal?: AbortSignal,
  ) {}

  add(name: string, ne: number[], type: GgmlType, init: Init): void {
    const n = ne.reduce((a, b) => a * b, 1);
    this.count++;
    this.w.addTensor(name, ne, type, async () => {
      // f32 tensors involve no real I/O, so without this turn of the event loop a Ctrl-C would
      // not be seen until the whole file is written.
      await new Promise((resolve) => setImmediate(resolve));
      throwIfAborted(this.signal);
      const values = new Rng(this.seed, name).normals(n, init.std, init.mean ?? 0);
      this.onTensor();
      if (type === GgmlType.F32) return new Uint8Array(values.buffer);
      return quantize(typeName(type), values, ne[0]);
    });
  }
}

function typeName(t: GgmlType): string {
  return ({ [GgmlType.F16]: 'f16', [GgmlType.Q8_0]: 'q8_0', [GgmlType.Q4_0]: 'q4_0', [GgmlType.Q4_1]: 'q4_1', [GgmlType.BF16]: 'bf16' } as Record<number, string>)[t];
}

function fanIn(n: number): Init {
  return { std: 1 / Math.sqrt(n) };
}

async function writeVision(shape: ModelShape, file: string, seed: number, type: VisionWeightType, progress: (d: number, t: number) => void, signal?: AbortSignal) {
  const v = shape.vision;
  const E = shape.text.embd;
  const w = new GgufWriter();
  writeMmprojKeys(w, {
    name: `minimonkey synthetic ${shape.name}`, imageSize: v.imageSize, patchSize: v.patchSize, hidden: v.hidden, ffn: v.ffn,
    layers: v.layers, heads: v.heads, lnEps: 1e-6, projectionDim: E, mean: IMAGENET_MEAN, std: IMAGENET_STD, scaleFactor: 2,
  });

  const mat = typeFromName(type);
  const H = v.hidden, P = v.patchSize, G = v.imageSize / P;
  let done = 0;
  const plan = new TensorPlan(w, seed, () => progress(++done, plan.count), signal);
  const F32 = GgmlType.F32;
  plan.add('v.patch_embd.weight', [P, P, 3, H], type === 'f32' ? F32 : GgmlType.F16, fanIn(3 * P * P));
  plan.add('v.patch_embd.bias', [H], F32, { std: 0.02 });
  plan.add('v.class_embd', [H, 1, 1], F32, { std: 0.5 });
  plan.add('v.position_embd.weight', [H, G * G + 1, 1], F32, { std: 0.5 });
  for (let i = 0; i < v.layers; i++) {
    const b = `v.blk.${i}.`;
    for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_out']) {
      plan.add(`${b}${n}.weight`, [H, H], mat, fanIn(H));
      plan.add(`${b}${n}.bias`, [H], F32, { std: 0.02 });
    }
    plan.add(`${b}ffn_up.weight`, [H, v.ffn], mat, fanIn(H));
    plan.add(`${b}ffn_up.bias`, [v.ffn], F32, { std: 0.02 });
    plan.add(`${b}ffn_down.weight`, [v.ffn, H], mat, fanIn(v.ffn));
    plan.add(`${b}ffn_down.bias`, [H], F32, { std: 0.02 });
    for (const n of ['ln1', 'ln2']) {
      plan.add(`${b}${n}.weight`, [H], F32, { std: 0.05, mean: 1 });
      plan.add(`${b}${n}.bias`, [H], F32, { std: 0.05 });
    }
    plan.add(`${b}ls1.weight`, [H], F32, { std: 0.1, mean: 0.5 });
    plan.add(`${b}ls2.weight`, [H], F32, { std: 0.1, mean: 0.5 });
  }
  plan.add('mm.model.mlp.0.weight', [4 * H], F32, { std: 0.05, mean: 1 });
  plan.add('mm.model.mlp.0.bias', [4 * H], F32, { std: 0.05 });
  plan.add('mm.model.mlp.1.weight', [4 * H, E], mat, fanIn(4 * H));
  plan.add('mm.model.mlp.1.bias', [E], F32, { std: 0.02 });
  plan.add('mm.model.mlp.3.weight', [E, E], mat, fanIn(E));
  plan.add('mm.model.mlp.3.bias', [E], F32, { std: 0.02 });
  await writeOutput(file, (tmp) => w.write(tmp), signal);
}

async function writeText(shape: ModelShape, file: string, seed: number, type: TextWeightType, progress: (d: number, t: number) => void, signal?: AbortSignal) {
  const t = shape.text;
  const vocab = buildVocab({ size: t.vocabSize });
  const arch = 'internlm2';
  const w = new GgufWriter();
  w.addString('general.architecture', arch);
  w.addString('general.name', `minimonkey synthetic ${shape.name}`);
  w.addU32(`${arch}.context_length`, t.contextLength);
  w.addU32(`${arch}.embedding_length`, t.embd);
  w.addU32(`${arch}.feed_forward_length`, t.ffn);
  w.addU32(`${arch}.block_count`, t.layers);
  w.addU32(`${arch}.attention.head_count`, t.heads);
  w.addU32(`${arch}.attention.head_count_kv`, t.kvHeads);
  w.addF32(`${arch}.rope.freq_base`, t.ropeTheta);
  w.addF32(`${arch}.attention.layer_norm_rms_epsilon`, t.rmsEps);
  w.addString('tokenizer.ggml.model', 'llama');
  w.addString('tokenizer.ggml.pre', 'default');
  w.addArray('tokenizer.ggml.tokens', GgufValueType.STRING, vocab.tokens);
  w.addArray('tokenizer.ggml.scores', GgufValueType.FLOAT32, vocab.scores);
  w.addArray('tokenizer.ggml.token_type', GgufValueType.INT32, vocab.types);
  w.addU32('tokenizer.ggml.bos_token_id', vocab.id('<s>'));
  w.addU32('tokenizer.ggml.eos_token_id', vocab.id('<|im_end|>'));
  w.addU32('tokenizer.ggml.unknown_token_id', vocab.id('<unk>'));
  w.addU32('tokenizer.ggml.padding_token_id', vocab.id('</s>'));
  w.addBool('tokenizer.ggml.add_bos_token', true);
  w.addBool('tokenizer.ggml.add_eos_token', false);
  w.addBool('tokenizer.ggml.add_space_prefix', true);
  w.addString('tokenizer.chat_template', INTERNLM2_CHAT_TEMPLATE);

  const mat = typeFromName(type);
  const F32 = GgmlType.F32;
  const n = t.embd, kv = (t.embd / t.heads) * t.kvHeads, V = vocab.tokens.length;
  let done = 0;
  const plan = new TensorPlan(w, seed, () => progress(++done, plan.count), signal);
  plan.add('token_embd.weight', [n, V], mat, { std: 1 });
  for (let i = 0; i < t.layers; i++) {
    const b = `blk.${i}.`;
    plan.add(`${b}attn_norm.weight`, [n], F32, { std: 0.05, mean: 1 });
    plan.add(`${b}attn_q.weight`, [n, n], mat, fanIn(n));
    plan.add(`${b}attn_k.weight`, [n, kv], mat, fanIn(n));
    plan.add(`${b}attn_v.weight`, [n, kv], mat, fanIn(n));
    plan.add(`${b}attn_output.weight`, [n, n], mat, fanIn(n));
    plan.add(`${b}ffn_norm.weight`, [n], F32, { std: 0.05, mean: 1 });
    plan.add(`${b}ffn_gate.weight`, [n, t.ffn], mat, fanIn(n));
    plan.add(`${b}ffn_up.weight`, [n, t.ffn], mat, fanIn(n));
    plan.add(`${b}ffn_down.weight`, [t.ffn, n], mat, fanIn(t.ffn));
  }
  plan.add('output_norm.weight', [n], F32, { std: 0.05, mean: 1 });
  // Wide logits, so greedy choices are clear-cut rather than near-ties.
  plan.add('output.weight', [n, V], mat, { std: 3 / Math.sqrt(n) });
  await writeOutput(file, (tmp) => w.write(tmp), signal);
}

export async function synthesize(opts: SynthesizeOptions): Promise<SynthesizedPair> {
  const shape = SHAPES[opts.shape];
  if (!shape) throw new InvalidArgumentError(`unknown shape '${opts.shape}' (tiny or internvl2-2b)`);
  const seed = opts.seed ?? 0;
  const visionType = opts.visionType ?? 'f32';
  const textType = opts.textType ?? 'f32';
  const parts = opts.parts ?? ['vision', 'text'];
  throwIfAborted(opts.signal);
  ensureOutputDir(opts.outDir);
  const out: SynthesizedPair = { mmproj: '', model: '' };
  if (parts.includes('vision')) {
    out.mmproj = path.join(opts.outDir, `mmproj-${shape.name}-${visionType}.gguf`);
    await writeVision(shape, out.mmproj, seed, visionType, (done, total) => opts.onProgress?.({ file: out.mmproj, done, total }), opts.signal);
  }
  if (parts.includes('text')) {
    out.model = path.join(opts.outDir, `model-${shape.name}-${textType}.gguf`);
    await writeText(shape, out.model, seed, textType, (done, total) => opts.onProgress?.({ file: out.model, done, total }), opts.signal);
  }
  return out;
}
