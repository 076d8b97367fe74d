// MiniMonkey: the text model (libllama) and the vision projector (our ggml InternViT) loaded as a
// pair, checked to belong together, with chat sessions on top and an image-embedding cache.
import { DisposedError, fromNative, InvalidArgumentError, ProjectorMismatchError } from './errors';
import { ImageInput, loadImage, LoadImageOptions } from './image/load';
import type { ChatHost, PreparedImage } from './llm/chat-host';
import { ImageEmbeddingCache, imageKey } from './llm/image-cache';
import { DEFAULT_SYSTEM_MESSAGE } from './llm/prompt';
import { ChatOptions, ChatSession } from './llm/session';
import { extract, ExtractOptions } from './llm/extract';
import type { JsonSchema } from './llm/json-schema';
import { ScmPrepass } from './llm/scm-prepass';
import { safeCall, TextModel, TextModelInfo } from './llm/text-model';
import { planCrops } from './msac/plan';
import type { PresetName } from './msac/presets';
import type { CropOptions, CropPlan } from './msac/types';
import { checkInt } from './limits';
import { BatchOptions, runBatch } from './batch/run';
import type { BatchResult } from './batch/task';
import { checkCallback, checkSignal, throwIfAborted } from './util/abort';
import { SerialQueue } from './util/serial-queue';
import { encodeImage, EncodedImage } from './vision/encode-image';
import { checkThreads, VisionEncoder, VisionEncoderInfo } from './vision/encoder';

export interface MiniMonkeyLoadOptions {
  /** The text model GGUF (internlm2 for Mini-Monkey). */
  model: string;
  /** The vision projector GGUF (clip / internvl). */
  mmproj: string;
  /** CPU threads for the vision tower and the language model (default: available parallelism). */
  threads?: number;
  /** Tokens a chat's context holds (default 8192: a 'default'-preset image and a short conversation). */
  contextSize?: number;
  /** Tokens per libllama decode call in prefill (default 512). */
  batchSize?: number;
  /** Text-model layers offloaded to a GPU backend, when the build has one (default 0; -1 all). */
  gpuLayers?: number;
  /** Memory for image embeddings kept for follow-up questions (default 512 MiB; 0 disables). */
  imageCacheBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'text' | 'vision'; fraction: number }) => void;
}

export interface EncodeImageOptions {
  crop?: PresetName | CropOptions;
  image?: LoadImageOptions;
  signal?: AbortSignal;
}

const DEFAULT_CONTEXT = 8192;

export class MiniMonkey implements ChatHost {
  readonly text: TextModel;
  readonly vision: VisionEncoder;
  /** @internal */
  readonly queue = new SerialQueue();
  private readonly cache: ImageEmbeddingCache;
  private readonly threads: number;
  private readonly contextSize: number;
  private readonly batchSize: number;
  private sessions = new Set<ChatSession>();
  private scm: Promise<ScmPrepass> | undefined;
  private isDisposed = false;

  private constructor(text: TextModel, vision: VisionEncoder, o: MiniMonkeyLoadOptions, threads: number) {
    this.text = text;
    this.vision = vision;
    this.threads = threads;
    this.contextSize = o.contextSize ?? DEFAULT_CONTEXT;
    this.batchSize = o.batchSize ?? 512;
    this.cache = new ImageEmbeddingCache(o.imageCacheBytes ?? 512 * 1024 * 1024);
  }

  /** Loads the pair off the JS thread and checks that they belong together. */
  static async load(o: MiniMonkeyLoadOptions): Promise<MiniMonkey> {
    if (!o || typeof o !== 'object') throw new InvalidArgumentError('MiniMonkey.load({model, mmproj, ...})');
    const threads = checkThreads(o.threads);
    checkInt('contextSize', o.contextSize);
    checkInt('batchSize', o.batchSize);
    checkSignal(o.signal);
    checkCallback(o.onProgress, 'onProgress');
    if (o.imageCacheBytes !== undefined && !(typeof o.imageCacheBytes === 'number' && o.imageCacheBytes >= 0)) {
      throw new InvalidArgumentError('imageCacheBytes must be a number >= 0');
    }
    const report = (phase: 'text' | 'vision', fraction: number) => {
      if (o.onProgress) safeCall(o.onProgress, { phase, fraction });
    };
    const text = await TextModel.load(o.model, { gpuLayers: o.gpuLayers, signal: o.signal, onProgress: (f) => report('text', f) });
    let vision: VisionEncoder;
    try {
      report('vision', 0);
      vision = await VisionEncoder.load(o.mmproj, { threads, signal: o.signal });
      report('vision', 1);
    } catch (e) {
      text.dispose();
      throw e;
    }
    try {
      checkPair(text.info, vision.info, o);
    } catch (e) {
      text.dispose();
      vision.dispose();
      throw e;
    }
    return new MiniMonkey(text, vision, o, threads);
  }

  /** A new conversation with its own context. */
  async chat(options: ChatOptions = {}): Promise<ChatSession> {
    this.live();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
    const system = options.system ?? DEFAULT_SYSTEM_MESSAGE;
    if (typeof system !== 'string') throw new InvalidArgumentError('system must be a string');
    const contextSize = checkInt('contextSize', options.contextSize) ?? this.contextSize;
    const ctx = await this.text.createContext({ contextSize, batchSize: this.batchSize, threads: this.threads });
    if (this.isDisposed) {
      // dispose() ran while the context was being made: a session on a dead model must not escape.
      ctx.dispose();
      throw new DisposedError('the model was disposed while the chat was being created');
    }
    const session = new ChatSession(this, ctx, system);
    this.sessions.add(session);
    return session;
  }

  /** @internal A disposed session leaves the model's set, with its history and cache entries. */
  forgetSession(session: object): void {
    this.sessions.delete(session as ChatSession);
  }

  /**
   * Reads a document image into a value of the schema's shape (a structured answer on a fresh
   * conversation): the question lists the schema's fields and descriptions, a grammar keeps the
   * reply to the schema. `T` is the value's type (your own interface, or FromSchema<typeof schema>).
   * Throws IncompleteError when the answer runs out of tokens before its JSON is complete.
   */
  extract<T = unknown>(image: ImageInput, schema: JsonSchema, options: ExtractOptions = {}): Promise<T> {
    return extract<T>(() => this.chat(), image, schema, options);
  }

  /**
   * Asks every page of `inputs` (image files, PDFs, folders, globs) one question, or reads each
   * into `json`'s schema: one result per page, in order, as they finish (README "Batches"). With
   * `out`, results are appended to that JSONL file and pages already done there are skipped.
   */
  batch(inputs: string[], options: BatchOptions): AsyncIterable<BatchResult> {
    return runBatch(this, inputs, options);
  }

  /** The crop plan an image would get (pure geometry; see planCrops). */
  planCrops(width: number, height: number, crop?: PresetName | CropOptions): CropPlan {
    return planCrops(width, height, crop);
  }

  /** An image through MSAC and the vision tower (cached by content and crop options). */
  async encodeImage(image: ImageInput, options: EncodeImageOptions = {}): Promise<EncodedImage> {
    this.live();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
    checkSignal(options.signal);
    const prepared = await this.prepareImage(image, options.crop, options.image);
    const { embeddings } = await this.queue.run(() => this.encodePrepared(prepared, options.signal));
    return { plan: prepared.plan, embeddings, embeddingWidth: this.vision.info.embeddingWidth };
  }

  /** Image embeddings kept for follow-up questions. */
  get imageCache(): { entries: number; hits: number; misses: number } {
    return { entries: this.cache.size, hits: this.cache.hits, misses: this.cache.misses };
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Frees both models and every chat session's context. Safe to call twice. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const s of [...this.sessions]) s.dispose();
    this.sessions.clear();
    this.cache.clear();
    this.scm?.then((p) => p.dispose(), () => {});
    this.scm = undefined;
    this.text.dispose();
    this.vision.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** @internal */
  async prepareImage(input: ImageInput, crop: PresetName | CropOptions | undefined, load: LoadImageOptions | undefined): Promise<PreparedImage> {
    const c = crop ?? 'default';
    // A PDF page is rendered for the crop it is asked with (pdf/dpi.ts), unless told otherwise.
    const rgb = await loadImage(input, { ...load, pdf: { crop: c, ...load?.pdf } });
    const plan = planCrops(rgb.width, rgb.height, c);
    return { rgb, crop: c, plan, key: imageKey(rgb, c) };
  }

  /** @internal */
  async encodePrepared(img: PreparedImage, signal: AbortSignal | undefined): Promise<{ embeddings: Float32Array; cached: boolean }> {
    this.live();
    throwIfAborted(signal);
    const hit = this.cache.get(img.key);
    if (hit) return { embeddings: hit.embeddings, cached: true };
    try {
      const enc = await encodeImage(this.vision, img.rgb, { crop: img.crop, signal });
      this.cache.set(img.key, enc);
      return { embeddings: enc.embeddings, cached: false };
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** @internal SCM's pre-pass, made on first use (it copies layers 0-1 of the text model). */
  scmPrepass(): Promise<ScmPrepass> {
    this.live();
    if (!this.scm) {
      const made = ScmPrepass.create(this.text, { threads: this.threads });
      this.scm = made;
      made.catch(() => {
        if (this.scm === made) this.scm = undefined;  // a failed load is retried next time
      });
    }
    return this.scm;
  }

  private live(): void {
    if (this.isDisposed) throw new DisposedError('the model has been disposed');
  }
}

function checkPair(t: TextModelInfo, v: VisionEncoderInfo, o: MiniMonkeyLoadOptions): void {
  if (t.embeddingWidth !== v.embeddingWidth) {
    throw new ProjectorMismatchError(
      `${o.mmproj} projects images to ${v.embeddingWidth}-wide embeddings but ${o.model} has width ${t.embeddingWidth}: ` +
        'they are not a pair (use the mmproj converted from the same checkpoint)',
    );
  }
  const s = t.special;
  const missing = (['imStart', 'imEnd', 'imgStart', 'imgEnd', 'imgContext'] as const).filter((k) => s[k] < 0);
  if (missing.length > 0 || (s.addBos && s.bos < 0)) {
    const names = { imStart: '<|im_start|>', imEnd: '<|im_end|>', imgStart: '<img>', imgEnd: '</img>', imgContext: '<IMG_CONTEXT>' };
    throw new ProjectorMismatchError(
      `${o.model} lacks the special tokens Mini-Monkey's prompt needs: ${missing.map((k) => names[k]).join(', ') || '<s>'}`,
    );
  }
}
