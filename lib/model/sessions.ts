// Chat sessions of a model. Every session runs on a sequence of the one context type: a lone
// conversation owns a context of one sequence that grows to what a turn needs, or (loaded with
// `parallel`) it takes a sequence of the one shared context. chat()'s options are checked once here
// into the object both read.
import { AbortError, DisposedError, InvalidArgumentError, MiniMonkeyError } from '../errors';
import type { ModelFamily } from '../family';
import { checkInt, DEFAULTS, LIMITS } from '../limits';
import type { ChatHost } from '../llm/chat-host';
import { Sequence } from '../llm/sequence';
import { SequenceBatcher } from '../llm/sequence-batcher';
import { ChatOptions, ChatSession } from '../llm/session';
import type { TextModel } from '../llm/text-model';
import { PRESETS } from '../msac/presets';
import { checkSignal } from '../util/abort';
import type { SettledLoad } from './settle-load';

const CONTEXT_STEP = DEFAULTS.contextStep;

export interface SettledChat {
  system: string;
  /** Undefined: the model's (a lone chat without either grows; a sequence holds its whole size). */
  contextSize: number | undefined;
  wait: boolean;
  signal: AbortSignal | undefined;
}

/** What the sessions take from the load: the context each makes, and the threads it runs on. */
export type SettledSessionDefaults = Pick<SettledLoad, 'contextSize' | 'batchSize' | 'threads' | 'kvCacheType'>;

/** chat()'s options checked and completed. */
export function settleChat(options: ChatOptions, family: ModelFamily): SettledChat {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
  const system = options.system ?? family.systemMessage;
  if (typeof system !== 'string') throw new InvalidArgumentError('system must be a string');
  if (options.wait !== undefined && typeof options.wait !== 'boolean') throw new InvalidArgumentError('wait must be a boolean');
  checkSignal(options.signal);
  return { system, contextSize: checkInt('contextSize', options.contextSize), wait: options.wait ?? false, signal: options.signal };
}

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

/** The shared context of `parallel` sequences; all of them together are bounded as one context. */
export async function openSharedContext(text: TextModel, family: ModelFamily, parallel: number, d: SettledSessionDefaults): Promise<SequenceBatcher> {
  const size = d.contextSize ?? defaultSequenceSize(family, text.info.trainContext);
  const padded = Math.ceil(size / CONTEXT_STEP) * CONTEXT_STEP;
  if (parallel * padded > LIMITS.contextSize.max) {
    throw new InvalidArgumentError(
      `parallel ${parallel} x ${padded} tokens per sequence is over ${LIMITS.contextSize.max} tokens of context in all ` +
        `(${LIMITS.contextSize.why}): use fewer sequences or a smaller contextSize`,
    );
  }
  return SequenceBatcher.create(text, { contextSize: size, parallel, batchSize: d.batchSize, threads: d.threads, kvCacheType: d.kvCacheType });
}

/** A conversation with a context of its own; with no size given anywhere, one that grows up to the trained context. */
export async function openLoneSession(host: ChatHost, d: SettledSessionDefaults, c: SettledChat): Promise<ChatSession> {
  const explicit = c.contextSize ?? d.contextSize;
  const make = (contextSize: number) => host.text.openContext({ contextSize, batchSize: d.batchSize, threads: d.threads, kvCacheType: d.kvCacheType });
  const ctx = await make(explicit ?? DEFAULTS.contextSize);
  if (host.disposed) {
    // dispose() ran while the context was being made: a session on a dead model must not escape.
    ctx.dispose();
    throw new DisposedError('the model was disposed while the chat was being created');
  }
  // No size given: the session grows its context to what a turn needs, up to the trained context.
  const train = host.text.info.trainContext;
  const growth = explicit === undefined
    ? {
      max: Math.min(LIMITS.contextSize.max, Math.max(train, ctx.size())),
      why: ctx.size() > train ? `it started at ${ctx.size()}, already more than the model's trained context of ${train}` : "the model's trained context",
      create: make,
    }
    : undefined;
  return new ChatSession(host, ctx, c.system, growth);
}

/** A conversation on a free sequence of the shared context; when none is free, BUSY, or with `wait` the next one freed. */
export async function openSequenceSession(host: ChatHost, batcher: SequenceBatcher, c: SettledChat): Promise<ChatSession> {
  const limit = c.contextSize;
  if (limit !== undefined && limit > batcher.size) {
    throw new InvalidArgumentError(
      `contextSize ${limit} is more than the ${batcher.size} tokens each sequence holds (with parallel, contextSize is set at load)`,
    );
  }
  let seq = batcher.acquire();
  if (seq === undefined) {
    if (!c.wait) {
      throw new MiniMonkeyError('BUSY', `all ${batcher.parallel} sequences are taken: dispose a chat session, or chat({ wait: true })`);
    }
    try {
      seq = await batcher.wait(c.signal);
    } catch (e) {
      throw c.signal?.aborted ? new AbortError(undefined, { cause: e }) : e;
    }
  }
  // dispose() ran while it waited: a session on a dead model must not escape.
  if (host.disposed) throw new DisposedError('the model was disposed while the chat was being created');
  return new ChatSession(host, new Sequence(batcher, seq, limit ?? batcher.size), c.system);
}
