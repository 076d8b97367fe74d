// N conversations of one model, each a chat session with its own context ("slots", as
// llama-server calls them). A request takes an idle slot, preferring one whose context already
// holds its history (the KV prefix is then reused and only the new turn is prefilled); when none
// is idle it waits in a bounded queue, and past the bound it is refused (503 + Retry-After).
import type { ChatSession } from '../llm/session';
import type { MiniMonkey } from '../model';
import { InvalidArgumentError } from '../errors';
import { ApiError } from './api-error';

export class Slot {
  /** Keys of the messages the context holds (request.ts); null when it holds something else. */
  keys: string[] | null = [];
  busy = false;
  lastUsed = 0;
  constructor(readonly index: number, public session: ChatSession, public system: string | undefined) {}

  /** How many of `keys` (a request's history) the context already holds, or -1 if not a prefix. */
  prefixOf(keys: string[]): number {
    if (this.keys === null || this.keys.length > keys.length) return -1;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] !== keys[i]) return -1;
    return this.keys.length;
  }
}

interface Waiter {
  resolve(slot: Slot): void;
  reject(e: unknown): void;
}

export class SlotPool {
  private readonly waiting: Waiter[] = [];
  private closed = false;

  private constructor(readonly model: MiniMonkey, readonly slots: Slot[], private readonly queueMax: number, private readonly retryAfter: number) {}

  static async create(model: MiniMonkey, parallel: number, queueMax: number, retryAfter: number): Promise<SlotPool> {
    const slots: Slot[] = [];
    // One session per slot: on a model loaded with `parallel`, a sequence of its shared context each
    // (their decodes batched); otherwise a context each, asked one after another.
    const sequences = model.sequences?.parallel;
    if (sequences !== undefined && parallel > sequences) {
      throw new InvalidArgumentError(`${parallel} slots need a model loaded with parallel >= ${parallel} (it has ${sequences})`);
    }
    for (let i = 0; i < parallel; i++) slots.push(new Slot(i, await model.chat(), undefined));
    return new SlotPool(model, slots, queueMax, retryAfter);
  }

  get busy(): number {
    return this.slots.filter((s) => s.busy).length;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /** An idle slot for a request with these history keys (the best prefix first), waiting if needed. */
  acquire(keys: string[], signal: AbortSignal): Promise<Slot> {
    if (this.closed) return Promise.reject(new ApiError(503, 'server_error', 'the server is shutting down', 'shutting_down'));
    const slot = this.pick(keys);
    if (slot) return Promise.resolve(this.take(slot));
    if (this.waiting.length >= this.queueMax) {
      return Promise.reject(
        new ApiError(503, 'overloaded_error', `all ${this.slots.length} slots are busy and ${this.waiting.length} requests are waiting; retry later`, 'server_busy', null, {
          'Retry-After': String(this.retryAfter),
        }),
      );
    }
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      this.waiting.push(w);
      signal.addEventListener('abort', () => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** The slot back, for the next waiter. */
  release(slot: Slot): void {
    slot.busy = false;
    slot.lastUsed = Date.now();
    const w = this.waiting.shift();
    if (w) w.resolve(this.take(slot));
  }

  /**
   * Makes `slot`'s context hold a prefix of `keys` with the request's system message: kept when it
   * already does, else reset (a new session when the system message differs). Returns the prefix length.
   */
  async prepare(slot: Slot, keys: string[], system: string | undefined): Promise<number> {
    // An empty context holds nothing, whatever the keys say: a model with isolate: 'process' whose
    // child died or was unloaded lost the conversation.
    const held = slot.session.contextUsed > 0 ? slot.prefixOf(keys) : 0;
    if (held > 0) return held;
    if (slot.system !== system) {
      slot.session.dispose();
      slot.session = await this.model.chat(system !== undefined ? { system } : {});
      slot.system = system;
    } else if (slot.keys === null || slot.keys.length > 0) {
      await slot.session.reset();
    }
    slot.keys = [];
    return 0;
  }

  /** No new requests; waiters are told the server is going away. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new ApiError(503, 'server_error', 'the server is shutting down', 'shutting_down'));
  }

  private pick(keys: string[]): Slot | undefined {
    let best: Slot | undefined;
    let bestLen = -2;
    for (const s of this.slots) {
      if (s.busy) continue;
      const n = s.prefixOf(keys);
      // Longest held prefix wins; among the rest, the least recently used is the one to overwrite.
      if (n > bestLen || (n === bestLen && best && s.lastUsed < best.lastUsed)) {
        best = s;
        bestLen = n;
      }
    }
    return best;
  }

  private take(slot: Slot): Slot {
    slot.busy = true;
    return slot;
  }
}
