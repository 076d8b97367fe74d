// One conversation: a sequence of a context (a context of its own, or with `parallel` one of the
// shared one's) on the model's text weights. A follow-up question prefills only the new turn; an
// aborted or failed ask leaves the conversation exactly as it was.
import { performance } from 'node:perf_hooks';
import { AbortError, ContextOverflowError, DisposedError, fromNative, MiniMonkeyError, UnsupportedError } from '../errors';
import { TEXT_ARCHS, TextArch } from '../family';
import type { CropPlan } from '../msac/types';
import { DEFAULTS } from '../limits';
import { cancelTokenFor, throwIfAborted } from '../util/abort';
import { AskOptions, AskProgress, Content, ContentPart, settleAsk, settleContent, SettledAsk } from './ask-options';
import { fillImages, layoutLength, layoutPrompt, partsLength, PromptPiece, systemBlock, TurnPart, userTurn } from './prompt';
import { ReplyStream } from './reply-stream';
import { compressParts, detailBlocks, droppedCount, imageReports, keptCount, ScmImageReport, ScmReport } from './scm';
import { parseConstrained } from './structured';
import { StopStringMatcher } from './stop-strings';
import { safeCall } from '../util/safe-call';
import { SerialQueue } from '../util/serial-queue';
import type { ChatHost, PreparedImage } from './chat-host';
import type { LlmSequence } from './sequence';

export type { AskOptions, AskProgress, Content, ContentPart } from './ask-options';

// Texts longer than this are tokenized off the JS thread (16 KiB tokenize in about 3 ms).
const SYNC_TOKENIZE_CHARS = 16 * 1024;

export type FinishReason = 'end' | 'maxTokens' | 'stopString' | 'contextFull';

export interface AskResult {
  text: string;
  finishReason: FinishReason;
  tokens: {
    /** Positions this turn prefilled: text tokens plus image tokens. */
    prompt: number;
    /** Of those, image embeddings. */
    image: number;
    generated: number;
  };
  /** Milliseconds per phase of this turn. */
  timings: { decode: number; encode: number; prefill: number; generate: number };
  /** The crop plan of each image of this turn, in order. */
  images: CropPlan[];
  /** Images whose embeddings came from a cache (memory or the page cache on disk). */
  imageCacheHits: number;
  /** Of those, images read from the page cache on disk (loaded with `pageCache`). */
  pageCacheHits: number;
  /**
   * Prompt positions restored from the page cache instead of prefilled: on a first turn, the
   * prompt up to the end of its last image, when an earlier ask (in any process) had that prefix.
   */
  restoredTokens: number;
  /** The generated token ids (the end token excluded). */
  tokenIds: number[];
  /** What SCM did, when it was asked for. */
  scm?: ScmReport;
  /**
   * With `json`: the parsed reply, once the JSON is complete (finishReason 'end'); undefined when
   * the reply stopped before (maxTokens, a stop string, a full context).
   */
  json?: unknown;
}

export interface ChatOptions {
  /** System message (default InternVL2's, as the reference uses). */
  system?: string;
  /**
   * Tokens this conversation's context holds (default: the model's contextSize; when neither is
   * given the context starts at 8,192 and grows to what each turn's crop plan needs, plus
   * maxTokens, up to the model's trained context). With `parallel` at load: at most what each
   * sequence holds, which is the default.
   */
  contextSize?: number;
  /**
   * With `parallel` at load, when every sequence is taken: wait for one to be freed (first come,
   * first served) instead of failing with a `BUSY` error (default false).
   */
  wait?: boolean;
  /** Gives up waiting for a free sequence (AbortError). */
  signal?: AbortSignal;
}

/** @internal How an auto-sized conversation gets a larger context. */
export interface ContextGrowth {
  /** The largest context it may grow to (the model's trained context). */
  max: number;
  /** What `max` is, for the overflow message. */
  why: string;
  create(size: number): Promise<LlmSequence>;
}

const CONTEXT_STEP = DEFAULTS.contextStep;

export class ChatSession {
  private ctx: LlmSequence | undefined;
  // A session that owns its context takes the model's queue for whole turns (one ask at a time per
  // model); a sequence of a shared context queues only its own turns, and only the vision tower
  // and the SCM pre-pass on the model's queue: its decodes are batched with the other sequences'.
  private readonly turnQueue: SerialQueue;
  private turns = 0;
  // Everything the context holds, as prefilled (token runs, image rows, generated tokens): SCM
  // scores a new turn's images against the whole conversation, as one prompt would be.
  private history: (Int32Array | Float32Array)[] = [];
  readonly system: string;

  /** @internal use MiniMonkey.chat() */
  constructor(
    private readonly host: ChatHost, ctx: LlmSequence, system: string, private readonly growth?: ContextGrowth,
  ) {
    this.ctx = ctx;
    this.system = system;
    this.turnQueue = ctx.ownsContext ? host.queue : new SerialQueue();
  }

  /** Tokens of context used so far / available in total. */
  get contextUsed(): number {
    return this.live().position();
  }
  get contextSize(): number {
    return this.live().size();
  }

  /**
   * Asks a question; the reply streams as text pieces (`for await`) and the returned object is
   * also a promise of the whole result. Asks on one session run one after another; so do asks on
   * one model, unless it was loaded with `parallel`, where sessions generate together.
   */
  ask(content: Content, options: AskOptions = {}): ReplyStream<AskResult> {
    let parts: ContentPart[];
    let settled: SettledAsk;
    try {
      this.live();
      parts = settleContent(content);
      settled = settleAsk(options);
    } catch (e) {
      const stream = new ReplyStream<AskResult>();
      stream.fail(fromNative(e));
      return stream;
    }
    return this.askSettled(parts, settled);
  }

  /** @internal ask() with the question and options already settled (settleContent, settleAsk): nothing is checked again. */
  askSettled(parts: ContentPart[], s: SettledAsk): ReplyStream<AskResult> {
    const stream = new ReplyStream<AskResult>();
    try {
      const ctx = this.live();
      // The addon parses the grammar before any work: a GBNF syntax error fails the ask, not a turn.
      if (s.grammar !== undefined) ctx.checkGrammar(s.grammar);
    } catch (e) {
      stream.fail(fromNative(e));
      return stream;
    }
    this.turnQueue.run(() => this.runTurn(parts, s, stream)).then(
      (r) => stream.end(r),
      (e) => stream.fail(fromNative(e)),
    );
    return stream;
  }

  /** Forgets the conversation (keeps the context's memory for the next one). */
  async reset(): Promise<void> {
    await this.turnQueue.run(async () => {
      this.live().truncate(0);
      this.turns = 0;
      this.history = [];
    });
  }

  get disposed(): boolean {
    return this.ctx === undefined;
  }

  /** Frees the context (after an ask in flight) and everything the conversation holds. Safe to call twice. */
  dispose(): void {
    this.ctx?.dispose();
    this.ctx = undefined;
    this.history = [];
    this.host.forgetSession(this);  // nothing disposed stays reachable from the model
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** Work on the model's shared weights outside the context: inside the model's queue. */
  private heavy<T>(job: () => Promise<T>): Promise<T> {
    return this.turnQueue === this.host.queue ? job() : this.host.queue.run(job);  // a whole turn of a lone session already is
  }

  private historyLength(): number {
    return partsLength(this.history, this.host.text.info.embeddingWidth);
  }

  private live(): LlmSequence {
    if (!this.ctx) throw new DisposedError('the chat session has been disposed');
    if (this.host.disposed) throw new DisposedError('the model has been disposed');
    return this.ctx;
  }

  /**
   * An auto-sized conversation whose next turn needs `total` tokens: a context of that size (up to
   * growth.max) replaces the old one, with the conversation so far prefilled into it.
   */
  private async grow(old: LlmSequence, total: number, signal: AbortSignal | undefined): Promise<LlmSequence> {
    const size = Math.min(this.growth!.max, Math.ceil(total / CONTEXT_STEP) * CONTEXT_STEP);
    if (size <= old.size()) return old;
    const start = old.position();
    if (this.historyLength() !== start) throw new MiniMonkeyError('INTERNAL', 'the conversation record does not match the context');
    const next = await this.growth!.create(size);
    const cancel = cancelTokenFor(signal);
    try {
      if (start > 0 && (await next.prefill(this.history, cancel.token)) !== start) {
        throw new MiniMonkeyError('INTERNAL', 'the conversation did not refill the larger context exactly');
      }
    } catch (e) {
      next.dispose();
      throw signal?.aborted ? new AbortError(undefined, { cause: e }) : e;
    } finally {
      cancel.release();
    }
    old.dispose();
    this.ctx = next;
    return next;
  }

  private async runTurn(content: ContentPart[], o: SettledAsk, stream: ReplyStream<AskResult>): Promise<AskResult> {
    let ctx = this.live();
    const signal = o.signal;
    throwIfAborted(signal);
    const progress = (phase: AskProgress['phase'], done: number, total: number) => {
      if (o.onProgress) safeCall(o.onProgress, { phase, done, total });
    };
    const timings = { decode: 0, encode: 0, prefill: 0, generate: 0 };
    const start = ctx.position();

    // Read the images and plan their crops: the token count is known before any heavy work.
    let t = performance.now();
    const images: PreparedImage[] = [];
    const turn: TurnPart[] = [];
    for (const p of content) {
      if (typeof p === 'string') turn.push({ text: p });
      else if (p.type === 'text') turn.push({ text: p.text });
      else {
        const img = await this.host.prepareImage(p.image, p.crop ?? o.crop, o.image);
        images.push(img);
        turn.push({ imageTokens: img.plan.imageTokens });
        progress('decode', images.length, content.filter((c) => typeof c !== 'string' && c.type === 'image').length);
      }
      throwIfAborted(signal);
    }
    timings.decode = performance.now() - t;

    const sep = this.host.family.turnSeparator;
    const pieces: PromptPiece[] = [...(this.turns === 0 ? systemBlock(this.system, sep) : []), ...userTurn(turn, this.turns > 0, sep)];
    const bos = this.turns === 0 && this.host.text.info.special.addBos;
    // Long texts are tokenized on the thread pool first (megabytes take seconds), short ones inline.
    const long = new Map<string, Int32Array>();
    for (const p of pieces) {
      if (p.kind === 'text' && p.text.length > SYNC_TOKENIZE_CHARS && !long.has(p.text)) {
        long.set(p.text, await this.host.text.tokenizeAsync(p.text));
        throwIfAborted(signal);
      }
    }
    const tokenizer = { tokenize: (s: string) => long.get(s) ?? this.host.text.tokenize(s), special: this.host.text.info.special };
    const layout = layoutPrompt(pieces, tokenizer, bos);
    const scm = o.scm;
    if (scm && !(this.host.family.scm && TEXT_ARCHS[this.host.text.info.arch as TextArch]?.scm)) {
      throw new UnsupportedError(`SCM is not available for ${this.host.family.label} with a ${this.host.text.info.arch} text model`);
    }
    const blocks = scm ? detailBlocks(layout, images.map((i) => i.plan), start, scm) : [];
    const before = layoutLength(layout);
    const needed = before - (scm ? droppedCount(blocks, scm.keep) : 0);
    const imageTokens = images.reduce((n, i) => n + i.plan.imageTokens, 0) - (before - needed);
    // Auto-sized: room for the prompt and the whole reply, up to the trained context.
    if (this.growth && start + needed + 1 <= this.growth.max && start + needed + 1 + o.maxTokens > ctx.size()) {
      ctx = await this.grow(ctx, start + needed + 1 + o.maxTokens, signal);
    }
    if (start + needed + 1 > ctx.size()) {
      const limit = this.growth ? `this conversation can hold at most ${this.growth.max} (${this.growth.why})` : `this conversation's contextSize is ${ctx.size()}`;
      throw new ContextOverflowError(
        `this turn needs ${needed} tokens (${imageTokens} image + ${needed - imageTokens} text${scm ? ', after SCM' : ''}) and ${start} are already used, ` +
          `${start + needed + 1} in all with room for one reply token, but ${limit}. ` +
          `To make it fit: ${this.growth ? '' : 'load with a larger contextSize, or '}use a smaller crop preset (e.g. 'fast'), turn on scm, or ask in a new conversation (reset()).`,
      );
    }

    t = performance.now();
    let cacheHits = 0;
    let pageHits = 0;
    const embeddings: Float32Array[] = [];
    // Progress in tiles over all the turn's images (a cached image counts whole at once).
    const tiles = images.reduce((n, img) => n + img.plan.tileCount, 0);
    let tilesBefore = 0;
    for (let i = 0; i < images.length; i++) {
      const enc = await this.heavy(() => this.host.encodePrepared(images[i], signal, (done) => progress('encode', tilesBefore + done, tiles)));
      if (enc.cached) cacheHits++;
      if (enc.cached === 'disk') pageHits++;
      embeddings.push(enc.embeddings);
      tilesBefore += images[i].plan.tileCount;
      if (enc.cached) progress('encode', tilesBefore, tiles);
    }
    timings.encode = performance.now() - t;

    let parts = fillImages(layout, embeddings, this.host.text.info.embeddingWidth);
    let scmReport: ScmReport | undefined;
    if (scm) {
      t = performance.now();
      let peakBytes = 0;
      let scored: ScmImageReport[] = [];
      if (blocks.length > 0) {
        if (this.historyLength() !== start) throw new MiniMonkeyError('INTERNAL', 'SCM: the conversation record does not match the context');
        const pre = await this.host.scmPrepass();
        const r = await this.heavy(() => pre.score([...this.history, ...parts], blocks, { keep: scm.keep, signal, onProgress: (d, n) => progress('scm', d, n) }));
        parts = compressParts(parts, start, blocks, r.kept, this.host.text.info.embeddingWidth);
        peakBytes = r.peakBytes;
        scored = imageReports(blocks, r.kept, r.scores);
      }
      const detail = blocks.reduce((n, b) => n + b.length, 0);
      const scmKeep = scm.keep;
      scmReport = {
        tokensBefore: before,
        tokensAfter: needed,
        detailTokens: detail,
        detailKept: blocks.reduce((n, b) => n + keptCount(b.length, scmKeep), 0),
        prepassMs: performance.now() - t,
        peakBytes,
        images: scored,
      };
    }
    const cancel = cancelTokenFor(signal);
    try {
      t = performance.now();
      const onPrefill = (d: number, total: number) => progress('prefill', d, total);
      // A first turn on a context of its own: the prompt up to its last image may come from the page cache.
      const prefixes = start === 0 && ctx.ownsContext ? this.host.prefixes : undefined;
      const restored = prefixes
        ? await prefixes.prefill(ctx, parts, scm, this.host.text.info.embeddingWidth, cancel.token, onPrefill)
        : (await ctx.prefill(parts, cancel.token, onPrefill), 0);
      timings.prefill = performance.now() - t;

      t = performance.now();
      ctx.setSampling({ ...o.sampling, ...(o.grammar !== undefined ? { grammar: o.grammar } : {}) });
      const reply = await this.generate(ctx, o, stream, cancel.token);
      timings.generate = performance.now() - t;
      const json = o.json ? parseConstrained(reply.text, reply.finishReason) : undefined;
      this.turns++;
      this.history.push(...parts, Int32Array.from(reply.tokenIds));
      return {
        text: reply.text,
        finishReason: reply.finishReason,
        tokens: { prompt: needed, image: imageTokens, generated: reply.generated },
        timings,
        images: images.map((i) => i.plan),
        imageCacheHits: cacheHits,
        pageCacheHits: pageHits,
        restoredTokens: restored,
        tokenIds: reply.tokenIds,
        ...(scmReport ? { scm: scmReport } : {}),
        ...(json !== undefined ? { json: json.value } : {}),
      };
    } catch (e) {
      // Undo the whole turn, so the conversation stays as it was before this ask.
      if (!this.disposed) ctx.truncate(start);
      throw signal?.aborted ? new AbortError(undefined, { cause: e }) : e;
    } finally {
      cancel.release();
    }
  }

  private async generate(ctx: LlmSequence, o: SettledAsk, stream: ReplyStream<AskResult>, token: Parameters<LlmSequence['step']>[0]) {
    const maxTokens = o.maxTokens;
    const decoder = new TextDecoder('utf-8');
    const stops = new StopStringMatcher(o.stop);
    let text = '';
    let generated = 0;
    let finishReason: FinishReason = 'maxTokens';
    const emit = (piece: string, id: number) => {
      if (piece.length === 0) return;
      text += piece;
      stream.push(piece);
      if (o.onToken) safeCall(o.onToken, piece, id);
    };
    let lastId = -1;
    const tokenIds: number[] = [];
    while (generated < maxTokens) {
      if (ctx.position() >= ctx.size()) {
        finishReason = 'contextFull';
        break;
      }
      const step = await ctx.step(token);
      if (step.eog) {
        finishReason = 'end';
        break;
      }
      generated++;
      lastId = step.token;
      tokenIds.push(step.token);
      // `stream: true` holds back a partial UTF-8 character until its last byte arrives.
      const { text: safe, stopped } = stops.push(decoder.decode(step.bytes, { stream: true }));
      emit(safe, step.token);
      if (stopped) {
        finishReason = 'stopString';
        return { text, finishReason, generated, tokenIds };
      }
    }
    const { text: tail, stopped } = stops.push(decoder.decode());
    emit(tail, lastId);
    if (stopped) return { text, finishReason: 'stopString' as FinishReason, generated, tokenIds };
    emit(stops.flush(), lastId);
    return { text, finishReason, generated, tokenIds };
  }
}
