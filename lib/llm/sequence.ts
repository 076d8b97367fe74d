// One conversation's sequence of a context: what a ChatSession (and TextModel.createContext's
// caller) drives. Every conversation runs on one: a lone chat's sequence owns a context of one
// sequence (and frees it on dispose); with `parallel` it is one of the shared context's. Prefill
// and step go through the context's batcher, the rest reaches the sequence's own state. Once
// disposed it touches nothing, since a shared sequence may already belong to another conversation.
import { DisposedError } from '../errors';
import type { NativeCancelToken, NativeSequenceContext, NativeStep } from '../native';
import type { SamplingOptions } from './sampling';
import type { SequenceBatcher } from './sequence-batcher';

/** A conversation's KV cache: prefill of token runs and embedding rows, then one step per token. */
export interface LlmSequence {
  /** The context is this conversation's alone (freed with it); false: a sequence of a shared one. */
  readonly ownsContext: boolean;
  /** Appends token runs (Int32Array) and embedding rows (Float32Array); resolves to the new position. */
  prefill(parts: (Int32Array | Float32Array)[], token?: NativeCancelToken, onProgress?: (done: number, total: number) => void): Promise<number>;
  /** Samples the next token; unless it ends the reply, also appends it. */
  step(token?: NativeCancelToken): Promise<NativeStep>;
  /** Options already checked by checkSampling (the addon reads these keys), and the reply's GBNF grammar. */
  setSampling(options: SamplingOptions & { grammar?: string }): void;
  /** Throws INVALID_ARGUMENT unless libllama parses the GBNF grammar (root rule `root`). */
  checkGrammar(grammar: string): void;
  /** Full-vocabulary grammar passes since setSampling (the cheap pick was rejected). */
  grammarPasses(): number;
  truncate(position: number): void;
  position(): number;
  size(): number;
  logits(): Float32Array;
  /** The KV cells of positions [0, position()) as bytes (native/core/sequence_state.h). */
  saveState(): Promise<Buffer>;
  /** A saveState() of `positions` positions into this empty sequence; resolves to the position after. INVALID_ARGUMENT for bytes that are not such a state. */
  loadState(state: Uint8Array, positions: number): Promise<number>;
  dispose(): void;
}

export class Sequence implements LlmSequence {
  private released = false;

  /**
   * `limit`: the positions this conversation may use (at most the sequence's). `ownsContext`: the
   * context is this conversation's alone (a lone chat), disposed with it.
   */
  constructor(private readonly batcher: SequenceBatcher, readonly seq: number, private readonly limit: number, readonly ownsContext = false) {}

  prefill(parts: (Int32Array | Float32Array)[], token?: NativeCancelToken, onProgress?: (done: number, total: number) => void): Promise<number> {
    if (this.released) return Promise.reject(this.gone());
    return this.batcher.prefill(this.seq, parts, token, onProgress);
  }

  step(token?: NativeCancelToken): Promise<NativeStep> {
    if (this.released) return Promise.reject(this.gone());
    return this.batcher.step(this.seq, token);
  }

  setSampling(options: SamplingOptions & { grammar?: string }): void {
    this.ctx().setSampling(this.seq, options);
  }

  checkGrammar(grammar: string): void {
    this.ctx().checkGrammar(grammar);
  }

  grammarPasses(): number {
    return this.ctx().grammarPasses(this.seq);
  }

  truncate(position: number): void {
    this.ctx().truncate(this.seq, position);
  }

  position(): number {
    return this.ctx().position(this.seq);
  }

  size(): number {
    this.ctx();
    return this.limit;
  }

  logits(): Float32Array {
    return this.ctx().logits(this.seq);
  }

  saveState(): Promise<Buffer> {
    if (this.released) return Promise.reject(this.gone());
    return this.batcher.native.saveState(this.seq);
  }

  loadState(state: Uint8Array, positions: number): Promise<number> {
    if (this.released) return Promise.reject(this.gone());
    return this.batcher.native.loadState(this.seq, state, positions);
  }

  /**
   * Gives the sequence back (its cells are cleared once no decode of it runs), and frees the
   * context when it is this conversation's own (after a job in flight). Safe to call twice.
   */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.batcher.release(this.seq);
    if (this.ownsContext) this.batcher.dispose();
  }

  private ctx(): NativeSequenceContext {
    if (this.released) throw this.gone();
    return this.batcher.native;
  }

  private gone(): DisposedError {
    return new DisposedError('the chat session has been disposed');
  }
}
