// One conversation's sequence of a shared context, with the interface of a context of its own
// (NativeLlmContext), so that ChatSession drives either the same way: prefill and step go through
// the batcher, the rest reaches the sequence's own state. Once disposed it touches nothing, since
// the sequence may already belong to another conversation.
import { DisposedError } from '../errors';
import type { NativeCancelToken, NativeLlmContext, NativeSequenceContext, NativeStep } from '../native';
import type { SamplingOptions } from './sampling';
import type { SequenceBatcher } from './sequence-batcher';

export class SequenceSlot implements NativeLlmContext {
  private released = false;

  /** `limit`: the positions this conversation may use (at most the sequence's). */
  constructor(private readonly batcher: SequenceBatcher, readonly seq: number, private readonly limit: number) {}

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

  /** Gives the sequence back (its cells are cleared once no decode of it runs). Safe to call twice. */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.batcher.release(this.seq);
  }

  private ctx(): NativeSequenceContext {
    if (this.released) throw this.gone();
    return this.batcher.native;
  }

  private gone(): DisposedError {
    return new DisposedError('the chat session has been disposed');
  }
}
