// The language model on its own (libllama): load, tokenize, and a one-shot forward pass for tests
// and tools. Chat goes through MiniMonkey / ChatSession, which add the prompt format and images.
import fs from 'node:fs';
import { checkDevice, DeviceOption } from '../devices';
import { DisposedError, fromNative, InvalidArgumentError, ModelLoadError } from '../errors';
import { native, NativeTextModel, NativeTextModelInfo } from '../native';
import { checkInt, checkKvCacheType, DEFAULTS, KvCacheType, LIMITS } from '../limits';
import { cancelTokenFor, checkCallback, checkSignal, throwIfAborted } from '../util/abort';
import { safeCall } from '../util/safe-call';
import { partsLength } from './prompt';
import { LlmSequence, Sequence } from './sequence';
import { SequenceBatcher } from './sequence-batcher';
import { checkThreads } from '../threads';

export type TextModelInfo = NativeTextModelInfo;

export interface TextModelLoadOptions {
  /**
   * Where libllama puts the layers (default 'auto': the first GPU ggml finds, else the CPU). A GPU
   * that fails to initialise leaves the model on the CPU, with the reason in `info.deviceNote`.
   */
  device?: DeviceOption;
  /** Layers on that device when it is a GPU (-1, the default: all; the rest stay on the CPU). */
  gpuLayers?: number;
  /** Memory-map the weights (default true): fast loads, pages shared between processes. */
  useMmap?: boolean;
  signal?: AbortSignal;
  /** Called with the fraction loaded, 0..1. */
  onProgress?: (fraction: number) => void;
}

/** @internal TextModelLoadOptions checked once, defaults filled in: what the addon is handed. */
export interface SettledTextModelLoad {
  device: DeviceOption;
  gpuLayers: number;
  useMmap: boolean;
  signal: AbortSignal | undefined;
  onProgress: ((fraction: number) => void) | undefined;
}

export interface ContextOptions {
  /** Tokens the context holds (text + image tokens of the whole conversation). */
  contextSize: number;
  /** Tokens per llama_decode call during prefill (default DEFAULTS.batchSize, 512). */
  batchSize?: number;
  threads?: number;
  /** The KV cells' type (default DEFAULTS.kvCacheType, 'f16'; 'q8_0' about halves their memory). */
  kvCacheType?: KvCacheType;
}

/** @internal ContextOptions checked once, defaults filled in. */
export interface SettledContext {
  contextSize: number;
  batchSize: number;
  threads: number;
  kvCacheType: KvCacheType;
}

export interface TokenizeOptions {
  /** Prepend <s> (default false). */
  addBos?: boolean;
  /** Turn written special tokens such as `<|im_end|>` into their ids (default false: plain text). */
  special?: boolean;
}

export class TextModel {
  readonly info: TextModelInfo;
  private handle: NativeTextModel | undefined;

  private constructor(handle: NativeTextModel) {
    this.handle = handle;
    this.info = handle.info();
  }

  /** Loads a text GGUF (internlm2, qwen2 or llama) through libllama, off the JS thread. */
  static async load(path: string, options: TextModelLoadOptions = {}): Promise<TextModel> {
    return TextModel.open(path, settleTextModelLoad(path, options));
  }

  /** @internal load() with options already settled (MiniMonkey.load checked them): nothing is checked again. */
  static async open(path: string, s: SettledTextModelLoad): Promise<TextModel> {
    throwIfAborted(s.signal);
    if (!fs.existsSync(path)) throw new ModelLoadError(`${path}: file not found`);
    const cancel = cancelTokenFor(s.signal);
    const onProgress = s.onProgress;
    try {
      const handle = await native().loadTextModel(
        path, s.gpuLayers, s.useMmap, cancel.token, onProgress ? (d, t) => safeCall(onProgress, d / t) : undefined, s.device,
      );
      return new TextModel(handle);
    } catch (e) {
      throw fromNative(e);
    } finally {
      cancel.release();
    }
  }

  /** Token ids of `text` (SentencePiece, as the model's tokenizer does it). */
  tokenize(text: string, options: TokenizeOptions = {}): Int32Array {
    if (typeof text !== 'string') throw new InvalidArgumentError('text must be a string');
    try {
      return this.live().tokenize(text, options.addBos ?? false, options.special ?? false);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** tokenize() off the JS thread: for long texts, which take seconds (about 6 MB/s). */
  async tokenizeAsync(text: string, options: TokenizeOptions = {}): Promise<Int32Array> {
    if (typeof text !== 'string') throw new InvalidArgumentError('text must be a string');
    try {
      return await this.live().tokenizeAsync(text, options.addBos ?? false, options.special ?? false);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** The raw bytes of one token (control tokens: empty unless `special`). */
  tokenBytes(token: number, special = false): Uint8Array {
    try {
      return this.live().piece(token, special);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Text of a token sequence (special tokens left out unless `special`). */
  detokenize(tokens: ArrayLike<number>, special = false): string {
    const decoder = new TextDecoder();
    let out = '';
    for (let i = 0; i < tokens.length; i++) out += decoder.decode(this.tokenBytes(tokens[i], special), { stream: true });
    return out + decoder.decode();
  }

  /** A fresh context (KV cache) on this model: a context of one sequence, which the caller owns. */
  async createContext(options: ContextOptions): Promise<LlmSequence> {
    if (!options || typeof options !== 'object') throw new InvalidArgumentError('createContext({contextSize, batchSize?, threads?})');
    const contextSize = checkInt('contextSize', options.contextSize) ?? NaN;
    if (Number.isNaN(contextSize)) throw new InvalidArgumentError('contextSize is required');
    const batchSize = checkInt('batchSize', options.batchSize) ?? DEFAULTS.batchSize;
    return this.openContext({ contextSize, batchSize, threads: checkThreads(options.threads), kvCacheType: checkKvCacheType(options.kvCacheType) });
  }

  /** @internal createContext() with settled options (MiniMonkey's, checked at load): nothing is checked again. */
  async openContext(s: SettledContext): Promise<Sequence> {
    const batcher = await SequenceBatcher.create(this, { contextSize: s.contextSize, parallel: 1, batchSize: s.batchSize, threads: s.threads, kvCacheType: s.kvCacheType });
    return new Sequence(batcher, batcher.acquire()!, batcher.size, true);
  }

  /**
   * Logits (vocabSize floats) after the last of `parts` — token runs and embedding rows, in order —
   * in a throwaway context. For tests and tools; chat keeps its context between turns.
   */
  async logits(parts: (Int32Array | Float32Array)[], options: { threads?: number } = {}): Promise<Float32Array> {
    const length = partsLength(parts, this.info.embeddingWidth);
    const ctx = await this.createContext({ contextSize: Math.max(LIMITS.contextSize.min, Math.ceil(length / 16) * 16), threads: options.threads });
    try {
      await ctx.prefill(parts);
      return ctx.logits();
    } catch (e) {
      throw fromNative(e);
    } finally {
      ctx.dispose();
    }
  }

  get disposed(): boolean {
    return this.handle === undefined;
  }

  /** Frees the weights once no context uses them any more. Safe to call twice. */
  dispose(): void {
    this.handle?.dispose();
    this.handle = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** @internal */
  live(): NativeTextModel {
    if (!this.handle) throw new DisposedError('the text model has been disposed');
    return this.handle;
  }
}

/** @internal The load options checked against LIMITS, defaults filled in (TextModel.load's edge, and MiniMonkey.load's). */
export function settleTextModelLoad(path: unknown, options: TextModelLoadOptions): SettledTextModelLoad {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('model path must be a non-empty string');
  if (!options || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
  const gpuLayers = checkInt('gpuLayers', options.gpuLayers) ?? DEFAULTS.gpuLayers;
  const device = checkDevice(options.device);
  checkSignal(options.signal);
  checkCallback(options.onProgress, 'onProgress');
  return { device, gpuLayers, useMmap: options.useMmap ?? true, signal: options.signal, onProgress: options.onProgress };
}
