// A reply as it is generated: an AsyncIterable of text pieces that is also a promise of the final
// result. Pieces are buffered, so awaiting without iterating (or iterating late) loses nothing.
export class ReplyStream<R> implements AsyncIterable<string>, PromiseLike<R> {
  private readonly pieces: string[] = [];
  private waiting: (() => void) | undefined;
  private done = false;
  private error: unknown;
  private resolve!: (r: R) => void;
  private reject!: (e: unknown) => void;
  private readonly result: Promise<R>;

  constructor() {
    this.result = new Promise<R>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // Someone iterating only (never awaiting) must not get an unhandled rejection: the iterator throws instead.
    this.result.catch(() => undefined);
  }

  /** @internal */
  push(piece: string): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.wake();
  }

  /** @internal */
  end(result: R): void {
    this.done = true;
    this.resolve(result);
    this.wake();
  }

  /** @internal */
  fail(error: unknown): void {
    this.done = true;
    this.error = error ?? new Error('failed');
    this.reject(this.error);
    this.wake();
  }

  then<A = R, B = never>(onOk?: ((r: R) => A | PromiseLike<A>) | null, onErr?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result.then(onOk, onErr);
  }

  catch<B = never>(onErr?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<R | B> {
    return this.result.catch(onErr);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    let next = 0;
    for (;;) {
      if (next < this.pieces.length) {
        yield this.pieces[next++];
        continue;
      }
      if (this.done) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((wake) => (this.waiting = wake));
    }
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
