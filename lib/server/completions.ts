// POST /v1/chat/completions on a slot: the history the slot's context lacks is replayed
// (history-replay.ts), the last
// user turn is asked, and the reply goes back as one JSON object or as SSE chunks ending in
// `data: [DONE]`, with OpenAI's usage and our `minimonkey` object (crop plans, SCM, timings).
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AskProgress, AskResult, FinishReason } from '../llm/session';
import { scmHeatmapCells } from '../llm/scm-heatmap';
import { replayHistory } from './history-replay';
import { assistantKey, ChatRequest } from './request';
import type { Slot, SlotPool } from './slots';

export interface Completion {
  result: AskResult;
  slot: number;
  /** Context positions reused from the slot's previous requests. */
  cached: number;
  /** Positions this request prefilled (replayed turns, their replies and the asked turn). */
  prompt: number;
  image: number;
  queueMs: number;
}

const FINISH: Record<FinishReason, string> = { end: 'stop', stopString: 'stop', maxTokens: 'length', contextFull: 'length' };

/** Runs the request on a slot from `pool`; `onPiece` gets the asked turn's text as it comes. */
export async function complete(pool: SlotPool, req: ChatRequest, signal: AbortSignal, onPiece: (s: string) => void, onProgress?: (p: AskProgress) => void): Promise<Completion> {
  const t0 = performance.now();
  const slot = await pool.acquire(req.keys.slice(0, -1), signal);
  const queueMs = performance.now() - t0;
  try {
    return { ...(await onSlot(pool, slot, req, signal, onPiece, onProgress)), queueMs };
  } finally {
    pool.release(slot);
  }
}

async function onSlot(pool: SlotPool, slot: Slot, req: ChatRequest, signal: AbortSignal, onPiece: (s: string) => void, onProgress?: (p: AskProgress) => void) {
  const held = await pool.prepare(slot, req.keys.slice(0, -1), req.system);
  const cached = slot.session.contextUsed;
  if (held === 0) slot.keys = [req.keys[0]];
  const { prompt, image } = await replayHistory(slot, req, held, signal);
  const last = req.turns[req.turns.length - 1];
  const reply = slot.session.ask(last.user, { ...req.options, signal, ...(onProgress ? { onProgress } : {}) });
  for await (const piece of reply) onPiece(piece);
  const result = await reply;
  // A reply cut by a stop string left the stop's tokens in the context: not what the client will send back.
  slot.keys = result.finishReason === 'stopString' ? null : [...req.keys, assistantKey(result.text)];
  return { result, slot: slot.index, cached, prompt: prompt + result.tokens.prompt, image: image + result.tokens.image };
}

export function usage(c: Completion) {
  const prompt = c.cached + c.prompt;
  return {
    prompt_tokens: prompt,
    completion_tokens: c.result.tokens.generated,
    total_tokens: prompt + c.result.tokens.generated,
    prompt_tokens_details: { cached_tokens: c.cached, image_tokens: c.image },
  };
}

/** Our extension object: the crop plans, SCM's report (with heatmap cells when asked), timings. */
export function extension(c: Completion, req: ChatRequest) {
  const r = c.result;
  const scm = r.scm && {
    ...r.scm,
    images: r.scm.images.map((s) => ({ ...s, ...(req.heatmap ? { cells: scmHeatmapCells(r.images[s.image], s) } : {}) })),
  };
  return {
    slot: c.slot,
    images: r.images,
    image_cache_hits: r.imageCacheHits,
    timings: { queue: c.queueMs, ...r.timings },
    finish_reason: r.finishReason,
    ...(scm ? { scm } : {}),
    ...(r.json !== undefined ? { json: r.json } : {}),
  };
}

/** Milliseconds between two progress chunks of the same phase. */
const PROGRESS_EVERY_MS = 250;

export class CompletionWriter {
  readonly id = `chatcmpl-${randomUUID()}`;
  readonly created = Math.floor(Date.now() / 1000);
  private started = false;
  constructor(private readonly res: ServerResponse, private readonly req: ChatRequest, private readonly model: string) {}

  /** One SSE event: `data: <json>` and a blank line. */
  private event(data: unknown): void {
    this.res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  }

  private chunk(delta: object, finish: string | null, extra: object = {}) {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra };
  }

  /** Starts the SSE response (headers and the role chunk). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    this.event(this.chunk({ role: 'assistant', content: '' }, null));
  }

  piece(text: string): void {
    this.start();
    this.event(this.chunk({ content: text }, null));
  }

  private lastProgress = 0;
  private lastPhase = '';

  /**
   * Progress before the first token (reading, encoding tile k of n, SCM's pre-pass, prefill), as our
   * extension on a chunk with an empty delta, which OpenAI clients pass over (OpenAI sends such chunks
   * too). A new phase is sent at once, steps of one phase at most every PROGRESS_EVERY_MS.
   */
  progress(p: AskProgress): void {
    // Reading the images comes before the turn's checks (context size, image errors): those must still
    // be an HTTP error status, so the stream starts with the encode at the earliest.
    if (p.phase === 'decode') return;
    const now = performance.now();
    if (p.phase === this.lastPhase && p.done < p.total && now - this.lastProgress < PROGRESS_EVERY_MS) return;
    this.lastPhase = p.phase;
    this.lastProgress = now;
    this.start();
    this.event(this.chunk({}, null, { minimonkey: { progress: { phase: p.phase, done: p.done, total: p.total } } }));
  }

  /** The finish chunk (with our extension), the usage chunk when asked for, and [DONE]. */
  finish(c: Completion): void {
    this.start();
    this.event(this.chunk({}, FINISH[c.result.finishReason], { minimonkey: extension(c, this.req) }));
    if (this.req.includeUsage) this.event({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: usage(c) });
    this.event('[DONE]');
    this.res.end();
  }

  /** An error after the stream began: an error event (as OpenAI sends), then the end. */
  fail(body: object): void {
    this.event(body);
    this.res.end();
  }

  get streaming(): boolean {
    return this.started;
  }

  /** The non-streaming response object. */
  whole(c: Completion): object {
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, message: { role: 'assistant', content: c.result.text, refusal: null }, logprobs: null, finish_reason: FINISH[c.result.finishReason] }],
      usage: usage(c),
      minimonkey: extension(c, this.req),
    };
  }
}
