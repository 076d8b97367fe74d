// MiniMonkey.load({ isolate: 'process' }): the model in a child process (child.ts) behind the same
// API, so a native fault (ggml, libllama, pdfjs, a backend) cannot take the host down. A death of
// the child is a WORKER error on every call in flight, and the next call starts a fresh child
// (reloading the model); `idleUnloadMs` ends the child after that long without calls.
import { AbortError, DisposedError, InvalidArgumentError, MiniMonkeyError, UnsupportedError } from '../errors';
import type { ModelFamily } from '../family';
import type { ImageInput } from '../image/load';
import type { ExtractOptions } from '../llm/extract';
import { extract } from '../llm/extract';
import type { JsonSchema } from '../llm/json-schema';
import { ReplyStream } from '../llm/reply-stream';
import type { AskOptions, AskResult, ChatOptions, ChatSession, Content } from '../llm/session';
import { safeCall } from '../util/safe-call';
import { planCrops } from '../msac/plan';
import type { PresetName } from '../msac/presets';
import type { CropOptions, CropPlan } from '../msac/types';
import { checkCallback, checkSignal } from '../util/abort';
import { compiledSibling } from '../util/compiled';
import type { EncodedImage } from '../vision/encode-image';
import type { MiniMonkeyEncodeImageOptions, MiniMonkeyLoadOptions } from '../model-options';
import type { ChildState } from './protocol';
import { CallHandlers, CallRequest, ModelWorker } from './worker';

export interface IsolateSettings {
  /** 'process': run the model in a child process (README "Crash isolation"). */
  isolate?: 'process';
  /** With isolate: end the child after this many ms without a call (its memory freed); the next call loads it again. */
  idleUnloadMs?: number;
}

type Device = { vision: string; text: string; gpuLayers: number; note?: string };

export class IsolatedMiniMonkey {
  readonly isolate = 'process' as const;
  /** The family's facts this pair is prompted with (template, system message, tokens). */
  family!: ModelFamily;
  private deviceInfo!: Device;
  private worker: ModelWorker | undefined;
  /** How many children have been started: a session made in an older one is gone. */
  private generation = 0;
  private last: ChildState = { imageCache: { entries: 0, hits: 0, misses: 0 } };
  private idleTimer: NodeJS.Timeout | undefined;
  private isDisposed = false;
  private readonly sessions = new Set<IsolatedSession>();
  private readonly onParentExit = () => this.worker?.kill();

  private constructor(
    private readonly loadOptions: Record<string, unknown>,
    private readonly onProgress: MiniMonkeyLoadOptions['onProgress'],
    private readonly idleUnloadMs: number | undefined,
  ) {}

  /** @internal use MiniMonkey.load({ ...options, isolate: 'process' }) */
  static async load(options: MiniMonkeyLoadOptions & IsolateSettings): Promise<IsolatedMiniMonkey> {
    const { isolate, idleUnloadMs, signal, onProgress, ...rest } = options;
    if (isolate !== 'process') throw new InvalidArgumentError("isolate must be 'process'");
    if (idleUnloadMs !== undefined && !(Number.isInteger(idleUnloadMs) && idleUnloadMs >= 1 && idleUnloadMs <= 2 ** 31 - 1)) {
      throw new InvalidArgumentError('idleUnloadMs must be an integer from 1 to 2147483647 (milliseconds)');
    }
    checkSignal(signal);
    checkCallback(onProgress, 'onProgress');
    if (signal?.aborted) throw new AbortError();
    const model = new IsolatedMiniMonkey(rest, onProgress, idleUnloadMs);
    const w = model.start();
    const onAbort = () => w.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const info = await w.ready;
      model.family = info.family as ModelFamily;
      model.deviceInfo = info.device as Device;
      model.last = info.state;
    } catch (e) {
      model.dispose();
      throw signal?.aborted ? new AbortError(undefined, { cause: e }) : e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    model.armIdle();
    return model;
  }

  /** The child's pid (undefined when none runs: idle-unloaded, dead or disposed). */
  get pid(): number | undefined {
    return this.worker?.pid;
  }

  /** Where the pair runs (as the child reported at its load). */
  get device(): Device {
    return this.deviceInfo;
  }

  /** With `parallel`: the shared context's sequences, as of the child's last reply. */
  get sequences(): ({ parallel: number; size: number; free: number; waiting: number } & Record<string, number>) | undefined {
    return this.last.sequences as never;
  }

  /** Image embeddings kept in the child, as of its last reply. */
  get imageCache(): { entries: number; hits: number; misses: number } {
    return this.last.imageCache;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** A new conversation in the child (see MiniMonkey.chat). */
  async chat(options: ChatOptions = {}): Promise<IsolatedSession> {
    this.live();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
    const signal = checkSignal(options.signal);
    const { signal: _s, ...rest } = options;
    const session = new IsolatedSession(this, rest);
    await session.attach(signal);
    this.sessions.add(session);
    return session;
  }

  /** See MiniMonkey.extract: the same, its session in the child. */
  extract<T = unknown>(image: ImageInput, schema: JsonSchema, options: ExtractOptions = {}): Promise<T> {
    return extract<T>(() => this.chat(this.sequences ? { wait: true } : {}) as unknown as Promise<ChatSession>, image, schema, options);
  }

  /** An image through MSAC and the vision tower, in the child; the embeddings come back. */
  async encodeImage(image: ImageInput, options: MiniMonkeyEncodeImageOptions = {}): Promise<EncodedImage> {
    this.live();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
    const signal = checkSignal(options.signal);
    const { signal: _s, ...rest } = options;
    const r = await this.call({ op: 'encodeImage', image, options: rest as Record<string, unknown> }, { signal });
    return r.value as EncodedImage;
  }

  /** The crop plan an image would get (pure geometry, computed here). */
  planCrops(width: number, height: number, crop?: PresetName | CropOptions): CropPlan {
    return planCrops(width, height, crop);
  }

  /** Not with isolate: batch --workers already runs its pages in worker processes. */
  batch(): never {
    throw new UnsupportedError("batch() is not available on a model loaded with isolate: 'process'; load it in-process, or use `minimonkey batch --workers N`, whose workers are processes already");
  }

  /** Ends the child and every session. Safe to call twice. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    clearTimeout(this.idleTimer);
    for (const s of [...this.sessions]) s.dispose();
    this.worker?.stop(new DisposedError('the model was disposed'));
    this.worker = undefined;
    process.off('exit', this.onParentExit);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** @internal */
  get currentGeneration(): number {
    return this.worker ? this.generation : -1;
  }

  /** @internal A call on the current child, starting one (and loading the model) when none runs. */
  async call(req: CallRequest, handlers?: CallHandlers, generation?: number): Promise<{ value: unknown; state: ChildState; generation: number }> {
    this.live();
    // A call on a session of a child that has since ended (it died between the session's attach and this call).
    if (generation !== undefined && generation !== this.currentGeneration) {
      throw new MiniMonkeyError('WORKER', "the model's process ended before this call reached it; the next call starts a fresh one");
    }
    const w = this.worker ?? this.start();
    const current = this.generation;
    clearTimeout(this.idleTimer);
    const r = await w.call(req, handlers);
    return { ...r, generation: current };
  }

  /** @internal */
  post(generation: number, m: Parameters<ModelWorker['post']>[0]): void {
    if (this.worker && generation === this.generation) this.worker.post(m);
  }

  /** @internal */
  forgetSession(s: IsolatedSession): void {
    this.sessions.delete(s);
  }

  private start(): ModelWorker {
    const report = (phase: 'text' | 'vision', fraction: number) => {
      if (this.onProgress) safeCall(this.onProgress, { phase, fraction });
    };
    const w = new ModelWorker(compiledSibling(__dirname, 'child'), this.loadOptions, report, (dead) => {
      if (this.worker === dead) this.worker = undefined;
    });
    this.generation++;
    this.worker = w;
    w.onState = (s) => (this.last = s);
    w.onBusy = (n) => {
      if (n === 0) this.armIdle();
      else clearTimeout(this.idleTimer);
    };
    if (this.generation === 1) process.on('exit', this.onParentExit);
    return w;
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.idleUnloadMs === undefined || !this.worker || this.isDisposed) return;
    const w = this.worker;
    this.idleTimer = setTimeout(() => {
      if (this.worker !== w || w.pendingCount > 0) return;
      this.worker = undefined;
      w.stop();
    }, this.idleUnloadMs);
    this.idleTimer.unref();
  }

  private live(): void {
    if (this.isDisposed) throw new DisposedError('the model has been disposed');
  }
}

/**
 * A conversation in the child. After the child died or was idle-unloaded, the next ask opens the
 * conversation afresh in the new child (contextUsed is 0 again): what the old one held is gone.
 */
export class IsolatedSession {
  private remote: { generation: number; id: number } | undefined;
  private used = 0;
  private size = 0;
  private isDisposed = false;
  private tail: Promise<unknown> = Promise.resolve();
  system = '';

  /** @internal use IsolatedMiniMonkey.chat() */
  constructor(private readonly host: IsolatedMiniMonkey, private readonly options: Omit<ChatOptions, 'signal'>) {}

  /** Tokens of context used so far (0 for a conversation its child no longer holds). */
  get contextUsed(): number {
    this.live();
    return this.alive() ? this.used : 0;
  }

  get contextSize(): number {
    this.live();
    return this.size;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** See ChatSession.ask: the same stream and result; tokens and progress come from the child. */
  ask(content: Content, options: AskOptions = {}): ReplyStream<AskResult> {
    const stream = new ReplyStream<AskResult>();
    try {
      this.live();
      if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
      checkSignal(options.signal);
      checkCallback(options.onToken, 'onToken');
      checkCallback(options.onProgress, 'onProgress');
    } catch (e) {
      stream.fail(e);
      return stream;
    }
    const { signal, onToken, onProgress, ...rest } = options;
    const handlers: CallHandlers = {
      signal,
      onToken: (text, token) => {
        stream.push(text);
        if (onToken) safeCall(onToken, text, token);
      },
      onProgress: onProgress && ((p) => safeCall(onProgress, p)),
    };
    this.serial(async () => {
      this.live();
      await this.attach(signal);
      const r = await this.host.call(
        { op: 'ask', session: this.remote!.id, content, options: rest as Record<string, unknown>, tokens: true, progress: true }, handlers, this.remote!.generation,
      );
      this.track(r.state);
      return r.value as AskResult;
    }).then((r) => stream.end(r), (e) => stream.fail(e));
    return stream;
  }

  /** Forgets the conversation. */
  async reset(): Promise<void> {
    await this.serial(async () => {
      this.live();
      if (this.alive()) this.track((await this.host.call({ op: 'reset', session: this.remote!.id }, {}, this.remote!.generation)).state);
    });
  }

  /** Frees the conversation in the child. Safe to call twice. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    if (this.remote) this.host.post(this.remote.generation, { t: 'disposeSession', session: this.remote.id });
    this.remote = undefined;
    this.host.forgetSession(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** @internal The conversation in the current child: made there when it is not yet. */
  async attach(signal: AbortSignal | undefined): Promise<void> {
    if (this.alive()) return;
    this.used = 0;
    const r = await this.host.call({ op: 'chat', options: this.options as Record<string, unknown> }, { signal });
    const v = r.value as { session: number; system: string };
    this.remote = { generation: r.generation, id: v.session };
    this.system = v.system;
    this.track(r.state);
    if (this.isDisposed) this.host.post(r.generation, { t: 'disposeSession', session: v.session });
  }

  private alive(): boolean {
    return this.remote !== undefined && this.remote.generation === this.host.currentGeneration;
  }

  private track(s: ChildState): void {
    if (s.session && this.remote && s.session.id === this.remote.id) {
      this.used = s.session.used;
      this.size = s.session.size;
    }
  }

  // Asks on one session run one after another, as in one process; each updates the context figures.
  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.tail.then(job, job);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private live(): void {
    if (this.isDisposed) throw new DisposedError('the chat session has been disposed');
    if (this.host.disposed) throw new DisposedError('the model has been disposed');
  }
}
