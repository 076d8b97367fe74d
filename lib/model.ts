// MiniMonkey: the one front door of the API. The text model (libllama) and the vision projector
// (our ggml InternViT) loaded as a pair, with chat sessions on top. Each job lives in its own room
// under lib/model/: the files named (resolve.ts), the options checked once (settle-load.ts), the pair
// loaded and checked (pairing.ts), images to embeddings with their caches (image-pipeline.ts),
// sessions in both modes (sessions.ts). This class holds what they made and frees it.
import { DisposedError, InvalidArgumentError } from './errors';
import type { ImageInput, LoadImageOptions } from './image/load';
import type { MiniMonkeyEncodeImageOptions, MiniMonkeyLoadOptions } from './model-options';
import type { ChatHost, PreparedImage } from './llm/chat-host';
import type { ModelFamily } from './family';
import type { ChatOptions, ChatSession } from './llm/session';
import { extract, ExtractOptions } from './llm/extract';
import type { JsonSchema } from './llm/json-schema';
import { ScmPrepass } from './llm/scm-prepass';
import type { BatcherStats, SequenceBatcher } from './llm/sequence-batcher';
import type { TextModel } from './llm/text-model';
import { planCrops } from './msac/plan';
import type { PresetName } from './msac/presets';
import type { CropOptions, CropPlan } from './msac/types';
import { BatchOptions, runBatch } from './batch/run';
import type { BatchResult } from './batch/task';
import { checkSignal } from './util/abort';
import { SerialQueue } from './util/serial-queue';
import type { EncodedImage } from './vision/encode-image';
import type { VisionEncoder } from './vision/encoder';
import type { IsolatedMiniMonkey, IsolateSettings } from './isolate/isolated-model';
import { EmbeddingSource, ImagePipeline } from './model/image-pipeline';
import { loadPair } from './model/pairing';
import { openLoneSession, openSequenceSession, openSharedContext, SettledSessionDefaults, settleChat } from './model/sessions';
import { settleLoad } from './model/settle-load';
import { PromptPrefixes } from './page-cache/prompt-prefix';

export type { MiniMonkeyEncodeImageOptions, MiniMonkeyLoadOptions, MiniMonkeyLoadSettings } from './model-options';
export { defaultSequenceSize } from './model/sessions';

export class MiniMonkey implements ChatHost {
  readonly text: TextModel;
  readonly vision: VisionEncoder;
  /** The family's facts this pair is prompted with (template, system message, tokens). */
  readonly family: ModelFamily;
  /** @internal */
  readonly queue = new SerialQueue();
  private readonly images: ImagePipeline;
  /** The load's settled contextSize, batchSize and threads: what every session's context is made with. */
  private readonly defaults: SettledSessionDefaults;
  private sessions = new Set<ChatSession>();
  private scm: Promise<ScmPrepass> | undefined;
  private isDisposed = false;
  /** With `parallel`: the shared context the sessions take sequences of. */
  private readonly batcher: SequenceBatcher | undefined;
  /** @internal With the page cache on: the KV states of first turns' prompt prefixes. */
  readonly prefixes: PromptPrefixes | undefined;

  private constructor(
    text: TextModel, vision: VisionEncoder, family: ModelFamily, images: ImagePipeline, defaults: SettledSessionDefaults,
    batcher: SequenceBatcher | undefined, prefixes: PromptPrefixes | undefined,
  ) {
    this.prefixes = prefixes;
    this.text = text;
    this.vision = vision;
    this.family = family;
    this.images = images;
    this.defaults = defaults;
    this.batcher = batcher;
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
    const s = settleLoad(options);
    const { text, vision, family } = await loadPair(s);
    let batcher: SequenceBatcher | undefined;
    if (s.parallel !== undefined) {
      try {
        batcher = await openSharedContext(text, family, s.parallel, s);
      } catch (e) {
        text.dispose();
        vision.dispose();
        throw e;
      }
    }
    const images = new ImagePipeline(vision, family.defaultPreset, s.mmproj, s.imageCacheBytes, s.pageCache);
    const prefixes = s.pageCache && new PromptPrefixes(s.pageCache, s.model, {
      device: text.info.device, gpuLayers: text.info.gpuLayers, batchSize: s.batchSize, kvType: s.kvCacheType,
    });
    return new MiniMonkey(text, vision, family, images, { contextSize: s.contextSize, batchSize: s.batchSize, threads: s.threads, kvCacheType: s.kvCacheType }, batcher, prefixes);
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
    const c = settleChat(options, this.family);
    const session = this.batcher ? await openSequenceSession(this, this.batcher, c) : await openLoneSession(this, this.defaults, c);
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
  async encodeImage(image: ImageInput, options: MiniMonkeyEncodeImageOptions = {}): Promise<EncodedImage> {
    this.live();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
    checkSignal(options.signal);
    const prepared = await this.prepareImage(image, options.crop, options.image);
    const { embeddings } = await this.queue.run(() => this.encodePrepared(prepared, options.signal));
    return { plan: prepared.plan, embeddings, embeddingWidth: this.vision.info.embeddingWidth };
  }

  /** Image embeddings kept for follow-up questions. */
  get imageCache(): { entries: number; hits: number; misses: number } {
    return this.images.stats;
  }

  /**
   * The page cache on disk (undefined when off): its folder and this model's use of it: hits,
   * misses and writes of image embeddings, and under `prompts` those of first turns' prompt
   * prefixes (their KV state).
   */
  get pageCache(): {
    dir: string; maxBytes: number; hits: number; misses: number; writes: number; prompts: { hits: number; misses: number; writes: number };
  } | undefined {
    const p = this.images.pages;
    return p && { dir: p.dir, maxBytes: p.maxBytes, hits: p.hits, misses: p.misses, writes: p.writes, prompts: { ...p.states } };
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
    this.images.clear();
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
  prepareImage(input: ImageInput, crop: PresetName | CropOptions | undefined, load: LoadImageOptions | undefined): Promise<PreparedImage> {
    return this.images.prepare(input, crop, load);
  }

  /** @internal */
  async encodePrepared(img: PreparedImage, signal: AbortSignal | undefined, onTiles?: (done: number) => void): Promise<{ embeddings: Float32Array; cached: EmbeddingSource }> {
    this.live();
    return this.images.encode(img, signal, onTiles);
  }

  /** @internal SCM's pre-pass, made on first use (it copies layers 0-1 of the text model). */
  scmPrepass(): Promise<ScmPrepass> {
    this.live();
    if (!this.scm) {
      const made = ScmPrepass.open(this.text, this.defaults.threads);
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
