// `convert`: a Hugging Face Mini-Monkey / InternVL2 checkpoint folder → a GGUF pair in llama.cpp's
// layout (mmproj + text model). Everything is checked before the first byte is written; tensors
// are then read, transformed and quantized one at a time; both files appear only when both are
// complete (safe-write.ts temp files, renamed at the end, removed on any failure or abort).
import fs from 'node:fs';
import path from 'node:path';
import { IoError, MiniMonkeyError, ModelLoadError } from '../errors';
import { TEXT_ARCHS } from '../family';
import { GgmlType, tensorBytes, typeName } from '../gguf/constants';
import { GgufWriter } from '../gguf/writer';
import { writeMmprojKeys } from '../gguf/mmproj-keys';
import { quantize } from '../native';
import { throwIfAborted } from '../util/abort';
import { ensureOutputDir, isInputFile, readInputFileSync } from '../util/file-kind';
import { ioError } from '../util/io-error';
import { beginOutput, PendingOutput } from '../util/safe-write';
import { Checkpoint } from './checkpoint';
import { HfConfig, readHfConfig } from './hf-config';
import { FILE_TYPE, TextQuant, textTensorType, VisionQuant, visionTensorType } from './quant-rules';
import { buildBpeVocab } from './bpe-vocab';
import { HfBpeTokenizer, readHfBpeTokenizer } from './hf-tokenizer';
import { readSentencePiece, SpModel } from './sentencepiece';
import { checkAllConsumed, embeddingRows, OutTensor, textPlan, visionPlan } from './tensor-map';
import { buildVocab } from './vocab';
import { ConvertedVocab, writeTokenizerKeys } from './vocab-keys';

export interface ConvertOptions {
  /**
   * The checkpoint folder: config.json, *.safetensors, tokenizer_config.json, and tokenizer.model
   * (InternLM2 / Llama LLMs) or tokenizer.json / vocab.json + merges.txt (Qwen2).
   */
  checkpointDir: string;
  outDir: string;
  textType?: TextQuant;
  visionType?: VisionQuant;
  /** Base of the output names (default: the checkpoint folder's name, lower-cased). */
  name?: string;
  onProgress?: (p: ConvertProgress) => void;
  signal?: AbortSignal;
}

export interface ConvertProgress {
  file: string;
  tensor: string;
  done: number;
  total: number;
}

export interface ConvertResult {
  mmproj: string;
  model: string;
  warnings: string[];
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

function imageNorm(dir: string, warnings: string[]): { mean: number[]; std: number[] } {
  const file = path.join(dir, 'preprocessor_config.json');
  if (!isInputFile(file, 'preprocessor config')) {
    warnings.push('no preprocessor_config.json: image mean/std set to ImageNet, which InternVL2 uses (facts §2.7)');
    return { mean: IMAGENET_MEAN, std: IMAGENET_STD };
  }
  let json: { image_mean?: unknown; image_std?: unknown };
  try {
    json = JSON.parse(readInputFileSync(file, 'preprocessor config').toString('utf8'));
  } catch (e) {
    if (e instanceof MiniMonkeyError) throw e;
    throw new ModelLoadError(`${file}: ${(e as Error).message}`, { cause: e });
  }
  const ok = (v: unknown, positive: boolean): v is number[] =>
    Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  if (!ok(json.image_mean, false) || !ok(json.image_std, true)) throw new ModelLoadError(`${file}: image_mean / image_std must be 3 numbers (std positive)`);
  return { mean: json.image_mean, std: json.image_std };
}

/** Values per quantize call: the addon copies its input, so whole 190M-value tensors would double the peak. */
const QUANTIZE_CHUNK_VALUES = 8 * 1024 * 1024;

/** ggml quantization of whole rows, a chunk of rows per call (rows are independent, so the bytes are the same). */
async function quantizeRows(type: GgmlType, values: Float32Array, rowLength: number, signal?: AbortSignal): Promise<Uint8Array> {
  const rows = values.length / rowLength;
  const rowBytes = tensorBytes(type, [rowLength]);
  const out = new Uint8Array(rows * rowBytes);
  const perCall = Math.max(1, Math.floor(QUANTIZE_CHUNK_VALUES / rowLength));
  for (let r = 0; r < rows; r += perCall) {
    throwIfAborted(signal);
    const n = Math.min(perCall, rows - r);
    out.set(await quantize(typeName(type), values.subarray(r * rowLength, (r + n) * rowLength), rowLength), r * rowBytes);
  }
  return out;
}

function addTensors(w: GgufWriter, tensors: OutTensor[], typeOf: (t: OutTensor) => GgmlType, file: string, opts: ConvertOptions): void {
  let done = 0;
  for (const t of tensors) {
    const type = typeOf(t);
    w.addTensor(t.name, t.ne, type, async () => {
      await new Promise((resolve) => setImmediate(resolve)); // lets a Ctrl-C through between tensors
      throwIfAborted(opts.signal);
      const values = await t.read();
      const bytes = type === GgmlType.F32 ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : await quantizeRows(type, values, t.ne[0], opts.signal);
      opts.onProgress?.({ file, tensor: t.name, done: ++done, total: tensors.length });
      return bytes;
    });
  }
}

function visionWriter(cfg: HfConfig, quant: VisionQuant, norm: { mean: number[]; std: number[] }, name: string): GgufWriter {
  const v = cfg.vision;
  const w = new GgufWriter();
  writeMmprojKeys(w, {
    name, imageSize: v.imageSize, patchSize: v.patchSize, hidden: v.hidden, ffn: v.ffn, layers: v.layers, heads: v.heads,
    lnEps: v.lnEps, projectionDim: cfg.text.embd, mean: norm.mean, std: norm.std, scaleFactor: cfg.scaleFactor,
  });
  w.addU32('general.file_type', FILE_TYPE[quant]);
  if (v.minTiles > 0) w.addU32('clip.vision.preproc_min_tiles', v.minTiles);
  if (v.maxTiles > 0) w.addU32('clip.vision.preproc_max_tiles', v.maxTiles);
  return w;
}

function textWriter(cfg: HfConfig, quant: TextQuant, vocab: ConvertedVocab, name: string): GgufWriter {
  const t = cfg.text;
  const a = t.arch;
  const w = new GgufWriter();
  w.addString('general.architecture', a);
  w.addString('general.name', name);
  w.addU32('general.file_type', FILE_TYPE[quant]);
  w.addU32(`${a}.context_length`, t.contextLength);
  w.addU32(`${a}.embedding_length`, t.embd);
  w.addU32(`${a}.feed_forward_length`, t.ffn);
  w.addU32(`${a}.block_count`, t.layers);
  w.addU32(`${a}.attention.head_count`, t.heads);
  w.addU32(`${a}.attention.head_count_kv`, t.kvHeads);
  w.addF32(`${a}.rope.freq_base`, t.ropeTheta);
  w.addF32(`${a}.attention.layer_norm_rms_epsilon`, t.rmsEps);
  if (a === 'llama') {
    w.addU32('llama.rope.dimension_count', t.headDim);
    w.addU32('llama.vocab_size', vocab.tokens.length);
  }
  writeTokenizerKeys(w, vocab);
  return w;
}

type SourceTokenizer = { kind: 'spm'; sp: SpModel } | { kind: 'bpe'; bpe: HfBpeTokenizer };

/** Qwen2 LLMs come with a byte-level BPE tokenizer; InternLM2 and Llama ones with SentencePiece (the family table). */
function readTokenizer(dir: string, cfg: HfConfig): SourceTokenizer {
  if (TEXT_ARCHS[cfg.text.arch].tokenizer === 'bpe') return { kind: 'bpe', bpe: readHfBpeTokenizer(dir) };
  const file = path.join(dir, 'tokenizer.model');
  if (!isInputFile(file, 'tokenizer')) throw new ModelLoadError(`${dir}: no tokenizer.model (the SentencePiece model)`);
  return { kind: 'spm', sp: readSentencePiece(file) };
}

export async function convertCheckpoint(opts: ConvertOptions): Promise<ConvertResult> {
  const dir = opts.checkpointDir;
  const textType = opts.textType ?? 'q4_k_m';
  const visionType = opts.visionType ?? 'f16';
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ModelLoadError(`${dir}: no such checkpoint folder`);
  throwIfAborted(opts.signal);
  const cfg = readHfConfig(path.join(dir, 'config.json'));
  const tokenizer = readTokenizer(dir, cfg);
  const ckpt = Checkpoint.open(dir);

  // Every check happens here, before anything is written.
  const vPlan = visionPlan(ckpt, cfg);
  const tPlan = textPlan(ckpt, cfg);
  checkAllConsumed(ckpt, [vPlan, tPlan]);
  const warnings: string[] = [];
  const rows = embeddingRows(ckpt, cfg);
  const vocab: ConvertedVocab = tokenizer.kind === 'bpe' ? buildBpeVocab(dir, tokenizer.bpe, cfg.text, rows) : buildVocab(dir, tokenizer.sp, rows);
  warnings.push(...vocab.warnings);
  const norm = imageNorm(dir, warnings);

  const base = (opts.name ?? path.basename(path.resolve(dir))).toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
  const mmproj = path.join(opts.outDir, `mmproj-${base}-${visionType}.gguf`);
  const model = path.join(opts.outDir, `${base}-${textType}.gguf`);

  const vw = visionWriter(cfg, visionType, norm, base);
  addTensors(vw, vPlan.tensors, (t) => visionTensorType(visionType, t.name, t.ne), mmproj, opts);
  const tw = textWriter(cfg, textType, vocab, base);
  addTensors(tw, tPlan.tensors, (t) => textTensorType(textType, t.name, t.ne, cfg.text.layers, cfg.text.tiedEmbeddings), model, opts);

  throwIfAborted(opts.signal);
  ensureOutputDir(opts.outDir);
  const pending: PendingOutput[] = [];
  try {
    for (const [w, file] of [[vw, mmproj], [tw, model]] as const) {
      const out = beginOutput(file);
      pending.push(out);
      await w.write(out.tmp);
    }
    throwIfAborted(opts.signal);
    for (const out of pending) out.commit();
  } catch (e) {
    for (const out of pending) out.discard();
    throw ioError(e, 'write the converted model to', opts.outDir);
  }
  return { mmproj, model, warnings };
}
