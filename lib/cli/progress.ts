// Progress on stderr for the commands that run the model: a redrawn bar when stderr is a
// terminal; elsewhere (a log, a CI job, a pipe) a plain line at most every PLAIN_EVERY_MS, the first
// only once the work has taken that long, so quick runs stay quiet and long ones are never silent.
// And the one-line summary of a reply.
import type { AskProgress, AskResult } from '../llm/session';

const WIDTH = 24;
/** Milliseconds between plain progress lines when stderr is not a terminal (MINIMONKEY_PROGRESS_MS changes it). */
export const PLAIN_EVERY_MS = plainEvery(process.env.MINIMONKEY_PROGRESS_MS);

function plainEvery(v: string | undefined): number {
  const n = v === undefined || v.trim() === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 10_000;
}
/** What starts every plain progress line, so a log reader (or a test) can tell them apart. */
export const PLAIN_PREFIX = '[progress]';

export class ProgressBar {
  private readonly tty: boolean;
  private shown = false;
  private last = '';
  private lastPlain = Date.now();

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly plainEveryMs = PLAIN_EVERY_MS) {
    this.tty = out.isTTY === true;
  }

  /** Shows `label` at `fraction` (0..1): redrawn on a terminal when the text changes, else a throttled plain line. */
  update(label: string, fraction: number): void {
    const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
    if (!this.tty) {
      const now = Date.now();
      if (now - this.lastPlain < this.plainEveryMs) return;
      this.lastPlain = now;
      this.out.write(`${PLAIN_PREFIX} ${label} ${Math.floor(f * 100)}%\n`);
      return;
    }
    const filled = Math.round(f * WIDTH);
    const line = `${label.padEnd(14)} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
    if (line === this.last) return;
    this.last = line;
    this.shown = true;
    this.out.write(`\r${line}\x1b[K`);
  }

  /** Erases the bar, so the reply (on stdout, often the same terminal) starts on a clean line. */
  clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[K');
    this.shown = false;
    this.last = '';
  }

  /** For MiniMonkey.load's onProgress. */
  readonly onLoad = (p: { phase: 'text' | 'vision'; fraction: number }): void => {
    this.update(p.phase === 'text' ? 'load text' : 'load vision', p.fraction);
  };

  /**
   * For ask's onProgress. Each phase reports when a step ends, so the next phase's bar is shown
   * at 0 as soon as the previous one is complete (the vision tower gives no finer steps).
   */
  readonly onAsk = (p: AskProgress): void => {
    const f = p.total > 0 ? p.done / p.total : 1;
    const phase: string = p.phase; // 'scm' comes with scale compression
    if (phase === 'decode') {
      if (p.done < p.total) this.update('read image', f);
      else this.update('image encode', 0);
    } else if (phase === 'encode') {
      if (p.done < p.total) this.update('image encode', f);
      else this.update('prefill', 0);
    } else if (phase === 'scm') {
      this.update('scm pre-pass', f);
    } else {
      this.update('prefill', f);
    }
  };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (n: number, ms: number) => (ms > 0 && n > 0 ? ` (${Math.round((n * 1000) / ms).toLocaleString('en-US')} t/s)` : '');

/** "28 tiles, 7,168 image + 96 text tokens; encode 0.40 s, prefill 0.31 s (23,800 t/s), 16 tokens in 0.03 s (480 t/s)" */
export function replySummary(r: AskResult): string {
  const tiles = r.images.reduce((n, p) => n + p.tileCount, 0);
  const parts: string[] = [];
  if (r.images.length > 0) {
    const cached = r.imageCacheHits > 0 ? `, ${r.imageCacheHits} from cache` : '';
    parts.push(`${tiles} tiles${cached}, ${r.tokens.image.toLocaleString('en-US')} image + ${(r.tokens.prompt - r.tokens.image).toLocaleString('en-US')} text tokens`);
  } else {
    parts.push(`${r.tokens.prompt.toLocaleString('en-US')} prompt tokens`);
  }
  const times = [
    ...(r.images.length > 0 ? [`encode ${secs(r.timings.encode)}`] : []),
    `prefill ${secs(r.timings.prefill)}${rate(r.tokens.prompt, r.timings.prefill)}`,
    `${r.tokens.generated} tokens in ${secs(r.timings.generate)}${rate(r.tokens.generated, r.timings.generate)}`,
    r.finishReason === 'end' ? '' : `stopped: ${r.finishReason}`,
  ].filter(Boolean);
  return `${parts.join('')}; ${times.join(', ')}`;
}

/**
 * What scale compression did, in words when the report has the fields we know
 * ({detailTokens, detailKept, tokensBefore, tokensAfter, prepassMs}), as JSON otherwise.
 */
export function scmSummary(scm: unknown): string {
  const r = (scm ?? {}) as Record<string, unknown>;
  const n = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const [detail, kept, before, after, prepass] = ['detailTokens', 'detailKept', 'tokensBefore', 'tokensAfter', 'prepassMs'].map(n);
  if (detail === undefined || kept === undefined || before === undefined || after === undefined) return JSON.stringify(scm);
  const fmt = (x: number) => x.toLocaleString('en-US');
  const time = prepass !== undefined ? ` (pre-pass ${Math.round(prepass).toLocaleString('en-US')} ms)` : '';
  return `kept ${fmt(kept)} of ${fmt(detail)} detail tokens: ${fmt(before)} -> ${fmt(after)} prompt tokens${time}`;
}

/**
 * A batch's progress: pages done of all, the rate in pages per minute and the time left at that
 * rate, redrawn as pages finish on a terminal, a plain line every PLAIN_EVERY_MS elsewhere.
 */
export class BatchProgress {
  private readonly bar: ProgressBar;
  private readonly t0 = Date.now();
  private done = 0;
  private failed = 0;

  constructor(private readonly total: number, out: NodeJS.WriteStream = process.stderr, plainEveryMs = PLAIN_EVERY_MS) {
    this.bar = new ProgressBar(out, plainEveryMs);
    this.draw();
  }

  page(failed: boolean): void {
    this.done++;
    if (failed) this.failed++;
    this.draw();
  }

  clear(): void {
    this.bar.clear();
  }

  /** Pages per minute so far (0 before the first). */
  rate(now = Date.now()): number {
    const min = (now - this.t0) / 60000;
    return min > 0 ? this.done / min : 0;
  }

  private draw(): void {
    const r = this.rate();
    const left = this.total - this.done;
    const eta = r > 0 ? ` ETA ${duration((left / r) * 60)}` : '';
    const failed = this.failed > 0 ? `, ${this.failed} failed` : '';
    this.bar.update(`${this.done}/${this.total} pages${failed} ${r.toFixed(1)}/min${eta}`, this.total > 0 ? this.done / this.total : 1);
  }
}

/** 75 -> "1m15s", 3700 -> "1h02m". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
