// MiniMonkey: the text model (libllama) and the vision projector (our ggml InternViT) loaded as a
// pair, checked to belong together, with chat sessions on top and an image-embedding cache.
import { AbortError, DisposedError, fromNative, InvalidArgumentError, MiniMonkeyError, ProjectorMismatchError } from './errors';
import { ImageInput, loadImage, LoadImageOptions } from './image/load';
import type { EncodeImageOptions, MiniMonkeyLoadOptions, MiniMonkeyLoadSettings } from './model-options';
import type { ChatHost, PreparedImage } from './llm/chat-host';
import { ImageEmbeddingCache, imageKey } from './llm/image-cache';
import { checkArch, detectFamily, FAMILIES, FAMILY_NAMES, FamilyName, isFamilyName, ModelFamily } from './family';
import { ChatOptions, ChatSession } from './llm/session';
import { extract, ExtractOptions } from './llm/extract';
import type { JsonSchema } from './llm/json-schema';
import { ScmPrepass } from './llm/scm-prepass';
import { BatcherStats, SequenceBatcher } from './llm/sequence-batcher';
import { SequenceSlot } from './llm/sequence';
import { safeCall, TextModel, TextModelInfo } from './llm/text-model';
import { planCrops } from './msac/plan';
import { PRESETS, PresetName } from './msac/presets';
import type { CropOptions, CropPlan } from './msac/types';
import { checkInt, DEFAULTS, LIMITS } from './limits';
import type { DeviceOption } from './devices';
import { resolvePulledModel } from './hub/home';
import path from 'node:path';
import { BatchOptions, runBatch } from './batch/run';
import type { BatchResult } from './batch/task';
import { checkCallback, checkSignal, throwIfAborted } from './util/abort';
import { SerialQueue } from './util/serial-queue';
import { encodeImage, EncodedImage } from './vision/encode-image';
import { checkThreads } from './threads';
import { VisionEncoder, VisionEncoderInfo } from './vision/encoder';
import type { IsolatedMiniMonkey, IsolateSettings } from './isolate/isolated-model';
import { PageCache, pageCacheFrom, PageCacheOptions } from './page-cache/page-cache';
import { fileIdentity } from './page-cache/file-identity';
import { pageKey } from './page-cache/key';

export type { EncodeImageOptions, MiniMonkeyLoadOptions, MiniMonkeyLoadSettings } from './model-options';

const DEFAULT_CONTEXT = DEFAULTS.contextSize;
const CONTEXT_STEP = DEFAULTS.contextStep;

/**
 * Positions per sequence when `parallel` is given without `contextSize`. A sequence cannot grow
 * (its cells are a fixed stream of the shared cache), so it is sized for the largest turn the
 * defaults allow: one image at the family's default preset's most tiles (Mini-Monkey: 24 detail
 * + 5 adaptive + 1 global = 7,680 tokens), the default maxTokens (512) and 256 for the system
 * message and the question: 8,448 for Mini-Monkey. Never more than the trained context.
 */
export function defaultSequenceSize(family: ModelFamily, trainContext: number): number {
  const p = PRESETS[family.defaultPreset];
  const image = (p.detail.max + (p.adaptive ? p.adaptive.max : 0) + 1) * family.tokensPerTile;
  const want = Math.ceil((image + DEFAULTS.maxTokens + DEFAULTS.promptReserve) / CONTEXT_STEP) * CONTEXT_STEP;
  return Math.max(LIMITS.contextSize.min, Math.min(want, trainContext, LIMITS.contextSize.max));
}

export class MiniMonkey implements ChatHost {
  readonly text: TextModel;
  readonly vision: VisionEncoder;
  /** The family's facts this pair is prompted with (template, system message, tokens). */
  readonly family: ModelFamily;
  /** @internal */
  readonly queue = new SerialQueue();
  private readonly cache: ImageEmbeddingCache;
  private readonly pages: PageCache | undefined;
  private readonly mmprojPath: string;
  private readonly threads: number;
  private readonly contextSize: number | undefined;
  private readonly batchSize: number;
  private sessions = new Set<ChatSession>();
  private scm: Promise<ScmPrepass> | undefined;
  private isDisposed = false;
  /** With `parallel`: the shared context the sessions take sequences of. */
  private readonly batcher: SequenceBatcher | undefined;

  private constructor(
    text: TextModel, vision: VisionEncoder, family: ModelFamily, o: MiniMonkeyLoadSettings & { mmproj: string }, threads: number,
    batcher: SequenceBatcher | undefined, pages: PageCache | undefined,
  ) {
    this.pages = pages;
    this.mmprojPath = o.mmproj;
    this.batcher = batcher;
    this.text = text;
    this.vision = vision;
    this.family = family;
    this.threads = threads;
    this.contextSize = o.contextSize;
    this.batchSize = o.batchSize ?? DEFAULTS.batchSize;
    this.cache = new ImageEmbeddingCache(o.imageCacheBytes ?? DEFAULTS.imageCacheBytes);
  }

  /**
   * Loads the pair off the JS thread and checks that they belong together. With `isolate:
   * 'process'`, in a child process behind the same API (lib/isolate): a crash there is a WORKER error.
   */
  static load(options: MiniMonkeyLoadOptions & IsolateSettings & { isolate: 'process' }): Promise<IsolatedMiniMonkey>;
  static load(options: MiniMonkeyLoadOptions): Promise<MiniMonkey>;
  static load(options: MiniMonkeyLoadOptions & IsolateSettings): Promise<MiniMonkey | IsolatedMiniMonkey>;
  static async load(options: MiniMonkeyLoadOptions & IsolateSettings): Promise<MiniMonkey | IsolatedMiniMonkey> {
    if (!options || typeof options !== 'object') throw new InvalidArgumentError('MiniMonkey.load({model, mmproj, ...})');
    if (options.isolate !== undefined) {
      // Required here, not imported: the child process imports this module.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { IsolatedMiniMonkey: Isolated } = require('./isolate/isolated-model') as typeof import('./isolate/isolated-model');
      return Isolated.load(options);
    }
    if (options.idleUnloadMs !== undefined) throw new InvalidArgumentError("idleUnloadMs needs isolate: 'process'");
    const o = resolveModelFiles(options);
    const threads = checkThreads(o.threads);
    checkInt('contextSize', o.contextSize);
    checkInt('batchSize', o.batchSize);
    const parallel = checkInt('parallel', o.parallel);
    checkSignal(o.signal);
    checkCallback(o.onProgress, 'onProgress');
    if (o.family !== undefined && !isFamilyName(o.family)) throw new InvalidArgumentError(`family must be one of ${FAMILY_NAMES.join(', ')}`);
    if (o.imageCacheBytes !== undefined && !(typeof o.imageCacheBytes === 'number' && o.imageCacheBytes >= 0)) {
      throw new InvalidArgumentError('imageCacheBytes must be a number >= 0');
    }
    const pages = pageCacheFrom(o.pageCache);
    const report = (phase: 'text' | 'vision', fraction: number) => {
      if (o.onProgress) safeCall(o.onProgress, { phase, fraction });
    };
    const text = await TextModel.load(o.model, { device: o.device, gpuLayers: o.gpuLayers, signal: o.signal, onProgress: (f) => report('text', f) });
    let vision: VisionEncoder;
    try {
      report('vision', 0);
      vision = await VisionEncoder.load(o.mmproj, { threads, device: o.device, signal: o.signal });
      report('vision', 1);
    } catch (e) {
      text.dispose();
      throw e;
    }
    let family: ModelFamily;
    try {
      checkArch(text.info, o.model);
      family = o.family !== undefined ? FAMILIES[o.family] : detectFamily(text.info);
      checkPair(text.info, vision.info, family, o);
    } catch (e) {
      text.dispose();
      vision.dispose();
      throw e;
    }
    let batcher: SequenceBatcher | undefined;
    if (parallel !== undefined) {
      try {
        batcher = await sharedContext(text, family, parallel, o, threads);
      } catch (e) {
        text.dispose();
        vision.dispose();
        throw e;
      }
    }
    return new MiniMonkey(text, vision, family, o, threads, batcher, pages);
  }

  /**
   * Where the pair runs: the vision tower's device, the language model's (SCM's pre-pass runs there
   * too) with how many layers it holds, and why it is the CPU when a GPU was asked for or found.
   */
  get device(): { vision: string; text: string; gpuLayers: number; note?: string } {
    const note = [this.vision.info.deviceNote, this.text.info.deviceNote].filter((n, i, all) => n && all.indexOf(n) === i).join('; ');
    return { vision: this.vision.info.device, text: this.text.info.device, gpuLayers: this.text.info.gpuLayers, ...(note ? { note } : {}) };
  }

  /**
   * A new conversation: with its own context, or (loaded with `parallel`) on a free sequence of the
   * shared one; when none is free, a `BUSY` error, or with `wait: true` the next one freed.
   */
  async chat(options: ChatOptions = {}): Promise<ChatSession> {
    this.live();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
    const system = options.system ?? this.family.systemMessage;
    if (typeof system !== 'string') throw new InvalidArgumentError('system must be a string');
    if (options.wait !== undefined && typeof options.wait !== 'boolean') throw new InvalidArgumentError('wait must be a boolean');
    checkSignal(options.signal);
    if (this.batcher) return this.chatOnSequence(this.batcher, system, options);
    const explicit = checkInt('contextSize', options.contextSize) ?? this.contextSize;
    const make = (contextSize: number) => this.text.createContext({ contextSize, batchSize: this.batchSize, threads: this.threads });
    const ctx = await make(explicit ?? DEFAULT_CONTEXT);
    if (this.isDisposed) {
      // dispose() ran while the context was being made: a session on a dead model must not escape.
      ctx.dispose();
      throw new DisposedError('the model was disposed while the chat was being created');
    }
    // No size given: the session grows its context to what a turn needs, up to the trained context.
    const train = this.text.info.trainContext;
    const growth = explicit === undefined
      ? {
        max: Math.min(LIMITS.contextSize.max, Math.max(train, ctx.size())),
        why: ctx.size() > train ? `it started at ${ctx.size()}, already more than the model's trained context of ${train}` : "the model's trained context",
        create: make,
      }
      : undefined;
    const session = new ChatSession(this, ctx, system, growth);
    this.sessions.add(session);
    return session;
  }

  private async chatOnSequence(batcher: SequenceBatcher, system: string, options: ChatOptions): Promise<ChatSession> {
    const limit = checkInt('contextSize', options.contextSize);
    if (limit !== undefined && limit > batcher.size) {
      throw new InvalidArgumentError(
        `contextSize ${limit} is more than the ${batcher.size} tokens each sequence holds (with parallel, contextSize is set at load)`,
      );
    }
    let seq = batcher.acquire();
    if (seq === undefined) {
      if (!options.wait) {
        throw new MiniMonkeyError('BUSY', `all ${batcher.parallel} sequences are taken: dispose a chat session, or chat({ wait: true })`);
      }
      try {
        seq = await batcher.wait(options.signal);
      } catch (e) {
        throw options.signal?.aborted ? new AbortError(undefined, { cause: e }) : e;
      }
    }
    // dispose() ran while it waited: a session on a dead model must not escape.
    if (this.isDisposed) throw new DisposedError('the model was disposed while the chat was being created');
    const session = new ChatSession(this, new SequenceSlot(batcher, seq, limit ?? batcher.size), system, undefined, true);
    this.sessions.add(session);
    return session;
  }

  /**
   * With `parallel`: the shared context's sequences (each `size` tokens), how many are free and
   * how many chat() calls wait for one, and the decodes so far (steps: batched generation steps,
   * stepTokens: the tokens they carried, prefillChunks: prompt chunks). Undefined without.
   */
  get sequences(): ({ parallel: number; size: number; free: number; waiting: number } & BatcherStats) | undefined {
    const b = this.batcher;
    return b && { parallel: b.parallel, size: b.size, free: b.freeCount, waiting: b.waiting, ...b.stats };
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
    return extract<T>(() => this.chat(this.batcher ? { wait: true } : {}), image, schema, options);
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

  /** The disk cache of image embeddings (undefined when off): its folder and this model's use of it. */
  get pageCache(): { dir: string; maxBytes: number; hits: number; misses: number; writes: number } | undefined {
    const p = this.pages;
    return p && { dir: p.dir, maxBytes: p.maxBytes, hits: p.hits, misses: p.misses, writes: p.writes };
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
    this.batcher?.dispose();
    this.text.dispose();
    this.vision.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** @internal */
  async prepareImage(input: ImageInput, crop: PresetName | CropOptions | undefined, load: LoadImageOptions | undefined): Promise<PreparedImage> {
    const c = crop ?? this.family.defaultPreset;
    // A PDF page is rendered for the crop it is asked with (pdf/dpi.ts), unless told otherwise.
    const rgb = await loadImage(input, { ...load, pdf: { crop: c, ...load?.pdf } });
    const plan = planCrops(rgb.width, rgb.height, c);
    return { rgb, crop: c, plan, key: imageKey(rgb, c) };
  }

  /** @internal */
  async encodePrepared(img: PreparedImage, signal: AbortSignal | undefined, onTiles?: (done: number) => void): Promise<{ embeddings: Float32Array; cached: false | 'memory' | 'disk' }> {
    this.live();
    throwIfAborted(signal);
    const hit = this.cache.get(img.key);
    if (hit) return { embeddings: hit.embeddings, cached: 'memory' };
    const floats = img.plan.imageTokens * this.vision.info.embeddingWidth;
    const diskKey = this.pages && (await this.pageKeyOf(img));
    if (diskKey) {
      const stored = await this.pages!.get(diskKey, floats);
      if (stored) {
        this.cache.set(img.key, { plan: img.plan, embeddings: stored, embeddingWidth: this.vision.info.embeddingWidth });
        return { embeddings: stored, cached: 'disk' };
      }
    }
    let enc: EncodedImage;
    try {
      enc = await encodeImage(this.vision, img.rgb, { crop: img.crop, signal, onTiles });
    } catch (e) {
      throw fromNative(e);
    }
    this.cache.set(img.key, enc);
    if (diskKey) await this.pages!.put(diskKey, enc.embeddings);
    return { embeddings: enc.embeddings, cached: false };
  }

  /** The page cache's key for an image; undefined (no disk cache for it) when the mmproj cannot be read. */
  private async pageKeyOf(img: PreparedImage): Promise<string | undefined> {
    const v = this.vision.info;
    let mmproj: string;
    try {
      mmproj = await fileIdentity(this.mmprojPath, path.join(this.pages!.dir, 'files'));
    } catch (e) {
      process.emitWarning(`page cache: cannot hash ${this.mmprojPath} (${(e as Error).message}); not cached`, { code: 'MINIMONKEY_PAGE_CACHE' });
      return undefined;
    }
    return pageKey({
      image: img.key, imageTokens: img.plan.imageTokens, mmproj, device: v.device, weightType: v.weightType, weightBuffer: v.weightBuffer, embeddingWidth: v.embeddingWidth,
    });
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

/** The shared context of `parallel` sequences; all of them together are bounded as one context. */
async function sharedContext(text: TextModel, family: ModelFamily, parallel: number, o: MiniMonkeyLoadSettings, threads: number): Promise<SequenceBatcher> {
  const size = o.contextSize ?? defaultSequenceSize(family, text.info.trainContext);
  const padded = Math.ceil(size / CONTEXT_STEP) * CONTEXT_STEP;
  if (parallel * padded > LIMITS.contextSize.max) {
    throw new InvalidArgumentError(
      `parallel ${parallel} x ${padded} tokens per sequence is over ${LIMITS.contextSize.max} tokens of context in all ` +
        `(${LIMITS.contextSize.why}): use fewer sequences or a smaller contextSize`,
    );
  }
  return SequenceBatcher.create(text, { contextSize: size, parallel, batchSize: o.batchSize ?? DEFAULTS.batchSize, threads });
}

/** `hf:owner/name` → the pulled pair's paths; anything else needs both paths. */
function resolveModelFiles(o: MiniMonkeyLoadOptions): MiniMonkeyLoadSettings & { model: string; mmproj: string } {
  if (typeof o.model === 'string' && o.model.startsWith('hf:')) {
    const pulled = resolvePulledModel(o.model);
    return { ...o, model: pulled.model, mmproj: o.mmproj ?? pulled.mmproj };
  }
  if (typeof o.mmproj !== 'string' || o.mmproj.length === 0) throw new InvalidArgumentError('mmproj (the vision projector GGUF) is required unless model is hf:owner/name');
  return o as MiniMonkeyLoadSettings & { model: string; mmproj: string };
}

function checkPair(t: TextModelInfo, v: VisionEncoderInfo, family: ModelFamily, o: { model: string; mmproj: string }): void {
  if (t.embeddingWidth !== v.embeddingWidth) {
    throw new ProjectorMismatchError(
      `${o.mmproj} projects images to ${v.embeddingWidth}-wide embeddings but ${o.model} has width ${t.embeddingWidth}: ` +
        'they are not a pair (use the mmproj converted from the same checkpoint)',
    );
  }
  const s = t.special;
  const missing = (['imStart', 'imEnd', 'imgStart', 'imgEnd', 'imgContext'] as const).filter((k) => s[k] < 0);
  if (missing.length > 0 || (s.addBos && s.bos < 0)) {
    throw new ProjectorMismatchError(
      `${o.model} lacks the special tokens the ${family.label} prompt needs: ${missing.map((k) => family.special[k]).join(', ') || '<s>'}`,
    );
  }
  if (v.tokensPerTile !== family.tokensPerTile) {
    throw new ProjectorMismatchError(`${o.mmproj} gives ${v.tokensPerTile} embeddings per tile; the ${family.label} prompt has ${family.tokensPerTile}`);
  }
}
