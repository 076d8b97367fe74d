// SCM's scoring pass (facts §4) as a low-level object: layers 0-1 of a loaded text model, run in
// our own ggml graph over a whole prompt, scoring the tokens of each detail block by the
// attention later tokens pay them. Chat sessions use it through `ask(…, {scm})`; tests and tools
// use it directly.
import { DisposedError, fromNative, InvalidArgumentError } from '../errors';
import { native, NativeScm } from '../native';
import { cancelTokenFor, throwIfAborted } from '../util/abort';
import { checkThreads } from '../threads';
import { safeCall } from '../util/safe-call';
import { TextModel } from './text-model';

/** Query rows per graph when not given: bounds the pass's memory, not its result. */
const DEFAULT_CHUNK = 64;

/** A run of detail-layer tokens of the prompt: positions [start, start + length). */
export interface ScmBlock {
  start: number;
  length: number;
}

export interface ScmRunOptions {
  /** Fraction of each block kept (default 0.5, the paper's): floor(length * keep) tokens. */
  keep?: number;
  /** Query rows per graph: bounds memory, not the result (default 64). */
  chunk?: number;
  /** Also return layer 0's output (tests). */
  layer0?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** @internal ScmRunOptions with `keep` checked (a chat turn's, by scmSettings at ask's edge). */
export type SettledScmRun = ScmRunOptions & { keep: number };

export interface ScmScores {
  /** Positions scored. */
  tokens: number;
  /** Per block: kept positions, ascending. */
  kept: Int32Array[];
  /** Per block: mean attention probability each token receives (rows, then heads). */
  scores: Float32Array[];
  layer0?: Float32Array;
  /** Memory the pass held at its peak: weights, caches, graph, input rows. */
  peakBytes: number;
}

export class ScmPrepass {
  private handle: NativeScm | undefined;

  private constructor(handle: NativeScm) {
    this.handle = handle;
  }

  /** Reads layers 0-1 and the token-embedding layout of `text`'s file (a few % of the model). */
  static async create(text: TextModel, options: { threads?: number } = {}): Promise<ScmPrepass> {
    return ScmPrepass.open(text, checkThreads(options.threads));
  }

  /** @internal create() with a settled thread count (MiniMonkey's, checked at load): not checked again. */
  static async open(text: TextModel, threads: number): Promise<ScmPrepass> {
    try {
      return new ScmPrepass(await native().createScm(text.live(), threads));
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Scores `blocks` of the prompt `parts` (token runs and embedding rows, positions from 0). */
  async run(parts: (Int32Array | Float32Array)[], blocks: ScmBlock[], options: ScmRunOptions = {}): Promise<ScmScores> {
    this.live();
    const keep = options.keep ?? 0.5;
    const chunk = options.chunk ?? DEFAULT_CHUNK;
    if (!(typeof keep === 'number' && keep > 0 && keep <= 1)) throw new InvalidArgumentError(`keep must be in (0, 1] (got ${keep})`);
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > 8192) throw new InvalidArgumentError(`chunk must be an integer in [1, 8192] (got ${chunk})`);
    for (const b of blocks) {
      if (!Number.isInteger(b.start) || !Number.isInteger(b.length)) throw new InvalidArgumentError('block start and length must be integers');
    }
    return this.score(parts, blocks, { ...options, keep, chunk });
  }

  /**
   * @internal run() with settled options: a chat turn's `keep` was checked at ask's edge (scmSettings)
   * and its blocks are the prompt's own; nothing is checked again.
   */
  async score(parts: (Int32Array | Float32Array)[], blocks: ScmBlock[], o: SettledScmRun): Promise<ScmScores> {
    const handle = this.live();
    const pairs = new Int32Array(blocks.length * 2);
    blocks.forEach((b, i) => {
      pairs[2 * i] = b.start;
      pairs[2 * i + 1] = b.length;
    });
    throwIfAborted(o.signal);
    const cancel = cancelTokenFor(o.signal);
    const onProgress = o.onProgress;
    try {
      return await handle.run(parts, pairs, o.keep, o.chunk ?? DEFAULT_CHUNK, o.layer0 ?? false, cancel.token, onProgress ? (d, t) => safeCall(onProgress, d, t) : undefined);
    } catch (e) {
      throw fromNative(e);
    } finally {
      cancel.release();
    }
  }

  /** Frees the layer copies. Safe to call twice. */
  dispose(): void {
    this.handle?.dispose();
    this.handle = undefined;
  }

  private live(): NativeScm {
    if (!this.handle) throw new DisposedError('the SCM pre-pass has been disposed');
    return this.handle;
  }
}
