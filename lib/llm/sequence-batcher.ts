// The scheduler of a conversation context (README "Several conversations at once"): one native
// job at a time, each on the libuv pool. With several sequences, pending generation steps of all of
// them go into one batched step, and prompts are cut into chunks of batchSize positions (per part,
// so a chunk is tokens or embedding rows, never both, and its boundaries are those native cuts)
// that take turns with the steps, so a long image prefill delays another conversation's next token
// by one chunk, not by the whole image. Prefills take turns among themselves (round robin): a
// short question's prompt waits for one chunk of a long one, not all of it. Dispatch is on the
// next turn of the event loop (setImmediate), after the sessions whose steps just resolved have
// handled their tokens and asked for the next: so they decode together.
//
// A context of one sequence (a lone chat) has nothing to interleave or batch with: its prompt goes
// to native whole (the chunk loop stays in C++, one crossing per prompt) and its jobs are
// dispatched at once, so it pays no more per chunk or per token than a context of its own did.
import { AbortError, ContextOverflowError, DisposedError, fromNative, InvalidArgumentError, MiniMonkeyError } from '../errors';
import { isEmbeddingRows, isTokenRun } from './prompt';
import type { KvCacheType } from '../limits';
import { native, NativeCancelToken, NativeSequenceContext, NativeSequenceStep, NativeStep, NativeTextModel, NativeTextModelInfo } from '../native';

type Part = Int32Array | Float32Array;

interface StepRequest {
  seq: number;
  token: NativeCancelToken | undefined;
  resolve(step: NativeStep): void;
  reject(e: unknown): void;
}

interface PrefillRequest {
  seq: number;
  /** What each native call appends: one chunk each (several sequences), or the whole prompt (one). */
  calls: Part[][];
  next: number;
  /** llama_decode calls the prompt takes (the stats count a whole prompt's when it is done). */
  decodes: number;
  /** Position before the prompt: where a failure rolls back to. */
  start: number;
  done: number;
  total: number;
  token: NativeCancelToken | undefined;
  onProgress: ((done: number, total: number) => void) | undefined;
  resolve(position: number): void;
  reject(e: unknown): void;
}

interface Waiter {
  resolve(seq: number): void;
  reject(e: unknown): void;
}

/** What the batcher has done: llama_decode calls of each kind, and the tokens the steps appended. */
export interface BatcherStats {
  steps: number;
  stepTokens: number;
  prefillChunks: number;
}

export class SequenceBatcher {
  readonly stats: BatcherStats = { steps: 0, stepTokens: 0, prefillChunks: 0 };
  /** Positions each sequence holds. */
  readonly size: number;
  readonly parallel: number;
  private readonly chunk: number;
  /** One sequence: whole prompts to native, jobs dispatched at once. */
  private readonly alone: boolean;
  private readonly free: number[];
  /** Per sequence, what a job of it alone hands native and marks running: made once, not per token. */
  private readonly alone1: { ids: Int32Array; running: ReadonlySet<number> }[];
  private readonly waiters: Waiter[] = [];
  private readonly steps = new Map<number, StepRequest>();
  private prefills: PrefillRequest[] = [];
  /** The sequences of the job running (undefined: none). */
  private running: ReadonlySet<number> | undefined;
  /** Released while in the running job: freed when it ends. */
  private readonly releasing = new Set<number>();
  private scheduled = false;
  private lastWasStep = false;
  private isDisposed = false;

  private constructor(private readonly ctx: NativeSequenceContext, private readonly width: number, private readonly vocab: number) {
    this.size = ctx.size();
    this.parallel = ctx.sequences();
    this.chunk = ctx.batchSize();
    this.alone = this.parallel === 1;
    this.free = Array.from({ length: this.parallel }, (_, i) => i);
    this.alone1 = this.free.map((i) => ({ ids: Int32Array.of(i), running: new Set([i]) }));
  }

  /** A context of `parallel` sequences (1: a lone chat's) of `contextSize` positions on the text model. */
  static async create(
    text: { live(): NativeTextModel; readonly info: NativeTextModelInfo },
    o: { contextSize: number; parallel: number; batchSize: number; threads: number; kvCacheType?: KvCacheType },
  ): Promise<SequenceBatcher> {
    try {
      const ctx = await native().createSequenceContext(text.live(), o.contextSize, o.parallel, o.batchSize, o.threads, o.kvCacheType);
      return new SequenceBatcher(ctx, text.info.embeddingWidth, text.info.vocabSize);
    } catch (e) {
      throw fromNative(e);
    }
  }

  get freeCount(): number {
    return this.free.length;
  }
  get waiting(): number {
    return this.waiters.length;
  }

  /** The lowest free sequence, or undefined when all are taken. */
  acquire(): number | undefined {
    this.live();
    this.free.sort((a, b) => a - b);
    return this.free.shift();
  }

  /** The next sequence freed, in the order asked (first come, first served). */
  wait(signal: AbortSignal | undefined): Promise<number> {
    this.live();
    if (signal?.aborted) return Promise.reject(new AbortError('stopped waiting for a free sequence'));
    return new Promise<number>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new AbortError('stopped waiting for a free sequence'));
      };
      const w: Waiter = {
        resolve: (seq) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(seq);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.waiters.push(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Gives a sequence back: its queued work is refused (DISPOSED), and once no job of it runs its
   * cells are cleared and it goes to the next waiter or the free list.
   */
  release(seq: number): void {
    if (this.isDisposed) return;
    const gone = () => new DisposedError('the chat session has been disposed');
    const step = this.steps.get(seq);
    if (step) {
      this.steps.delete(seq);
      step.reject(gone());
    }
    for (const p of this.prefills.filter((r) => r.seq === seq)) p.reject(gone());
    this.prefills = this.prefills.filter((r) => r.seq !== seq);
    if (this.running?.has(seq)) this.releasing.add(seq);
    else this.freeSequence(seq);
  }

  /** The native context, for the calls on one sequence's state (sampling, truncate, position). */
  get native(): NativeSequenceContext {
    this.live();
    return this.ctx;
  }

  /**
   * Appends `parts` to `seq` as one prompt: checked whole first (ids, rows, room), then decoded in
   * chunks (cut here to take turns, or natively when the context has one sequence); on a failure or
   * abort the sequence is rolled back to where it was. Resolves to the position after.
   */
  prefill(seq: number, parts: Part[], token?: NativeCancelToken, onProgress?: (done: number, total: number) => void): Promise<number> {
    try {
      this.idle(seq);
      const chunks: Part[] = [];
      let total = 0;
      let decodes = 0;
      for (const p of parts) {
        if (isEmbeddingRows(p)) {
          if (p.length === 0 || p.length % this.width !== 0) {
            throw new InvalidArgumentError(`image embeddings must be whole rows of ${this.width} floats (the text model's embedding width)`);
          }
          const rows = p.length / this.width;
          if (!this.alone) for (let off = 0; off < rows; off += this.chunk) chunks.push(p.subarray(off * this.width, Math.min(rows, off + this.chunk) * this.width));
          decodes += Math.ceil(rows / this.chunk);
          total += rows;
        } else if (isTokenRun(p)) {
          for (const t of p) if (!(t >= 0 && t < this.vocab)) throw new InvalidArgumentError(`token id ${t} is out of range`);
          if (!this.alone) for (let off = 0; off < p.length; off += this.chunk) chunks.push(p.subarray(off, off + this.chunk));
          decodes += Math.ceil(p.length / this.chunk);
          total += p.length;
        } else {
          throw new InvalidArgumentError('each prompt part must be an Int32Array (tokens) or Float32Array (embeddings)');
        }
      }
      if (total === 0) throw new InvalidArgumentError('nothing to prefill');
      const start = this.ctx.position(seq);
      if (start + total > this.size) {
        throw new ContextOverflowError(
          `the prompt needs ${start + total} tokens of context (${start} already used + ${total} new) but the sequence holds ${this.size}`,
        );
      }
      return new Promise<number>((resolve, reject) => {
        const calls = this.alone ? [parts] : chunks.map((c) => [c]);
        this.prefills.push({ seq, calls, decodes, next: 0, start, done: 0, total, token, onProgress, resolve, reject });
        this.schedule();
      });
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /** One generation step of `seq`: its next token, decoded with the other sequences' steps. */
  step(seq: number, token?: NativeCancelToken): Promise<NativeStep> {
    try {
      this.idle(seq);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<NativeStep>((resolve, reject) => {
      this.steps.set(seq, { seq, token, resolve, reject });
      this.schedule();
    });
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Refuses everything queued and frees the context (after a job in flight). Safe to call twice. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    const gone = () => new DisposedError('the model has been disposed');
    for (const s of this.steps.values()) s.reject(gone());
    for (const p of this.prefills) p.reject(gone());
    for (const w of this.waiters.splice(0)) w.reject(gone());
    this.steps.clear();
    this.prefills = [];
    this.ctx.dispose();
  }

  private live(): void {
    if (this.isDisposed) throw new DisposedError('the model has been disposed');
  }

  /** A sequence takes one request at a time (a session awaits each). */
  private idle(seq: number): void {
    this.live();
    if (this.steps.has(seq) || this.prefills.some((r) => r.seq === seq)) {
      throw new MiniMonkeyError('BUSY', `sequence ${seq} already has a decode queued`);
    }
  }

  private freeSequence(seq: number): void {
    try {
      this.ctx.truncate(seq, 0);
    } catch {
      return; // the context is gone (model disposed): nothing to give back
    }
    const w = this.waiters.shift();
    if (w) w.resolve(seq);
    else this.free.push(seq);
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.isDisposed) return;
    if (this.steps.size === 0 && this.prefills.length === 0) return;
    // One sequence: no other session's step to wait for.
    if (this.alone) return this.dispatch();
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.running || this.isDisposed) return;
    // Steps and prefill chunks take turns while both wait.
    if (this.steps.size > 0 && (this.prefills.length === 0 || !this.lastWasStep)) this.runSteps();
    else if (this.prefills.length > 0) this.runChunk();
  }

  private finish(): void {
    const ran = this.running;
    this.running = undefined;
    for (const seq of ran ?? []) {
      if (this.releasing.delete(seq) && !this.isDisposed) this.freeSequence(seq);
    }
    this.schedule();
  }

  private runSteps(): void {
    const batch = [...this.steps.values()];
    this.steps.clear();
    this.lastWasStep = true;
    const one = batch.length === 1 ? this.alone1[batch[0].seq] : undefined;
    this.running = one ? one.running : new Set(batch.map((r) => r.seq));
    let job: Promise<NativeSequenceStep[]>;
    try {
      job = this.ctx.step(one ? one.ids : Int32Array.from(batch, (r) => r.seq), batch.map((r) => r.token));
    } catch (e) {
      job = Promise.reject(e);
    }
    // finish() in the handlers rather than a .finally: one promise less between two tokens.
    job.then(
      (out) => {
        try {
          // The tokens appended: a reply's end token and a failed sequence's are not decoded.
          let decoded = 0;
          batch.forEach((r, i) => {
            const o = out[i];
            if ('code' in o) r.reject(fromNative(Object.assign(new Error(o.message), { code: o.code })));
            else {
              if (!o.eog) decoded++;
              r.resolve(o);
            }
          });
          if (decoded > 0) this.stats.steps++;
          this.stats.stepTokens += decoded;
        } finally {
          this.finish();
        }
      },
      (e) => {
        const err = fromNative(e);
        for (const r of batch) r.reject(err);
        this.finish();
      },
    );
  }

  private runChunk(): void {
    const req = this.prefills.shift()!;
    this.lastWasStep = false;
    this.running = this.alone1[req.seq].running;
    const parts = req.calls[req.next];
    const last = req.next === req.calls.length - 1;
    // A whole prompt reports its chunks from native; a chunk of one is reported below when done.
    const onProgress = this.alone && req.onProgress ? (d: number, t: number) => report(req, d, t) : undefined;
    let job: Promise<number>;
    try {
      job = this.ctx.prefill(req.seq, parts, last, req.token, onProgress);
    } catch (e) {
      job = Promise.reject(e);
    }
    job.then(
      (position) => {
        this.stats.prefillChunks += this.alone ? req.decodes : 1;
        req.next++;
        if (!this.alone) {
          req.done += parts.reduce((n, c) => n + (isEmbeddingRows(c) ? c.length / this.width : c.length), 0);
          report(req, req.done, req.total);
        }
        if (last) req.resolve(position);
        else this.prefills.push(req); // back of the line: the other prompts' chunks go first
      },
      (e) => {
        // Native removed what this call appended; the chunks before it go too, as a whole prompt's do.
        try {
          if (!this.isDisposed) this.ctx.truncate(req.seq, req.start);
        } catch {
          // the context is gone with the model
        }
        req.reject(fromNative(e));
      },
    ).finally(() => this.finish());
  }
}

function report(req: PrefillRequest, done: number, total: number): void {
  try {
    req.onProgress?.(done, total);
  } catch {
    // the caller's bug; the prompt goes on
  }
}
