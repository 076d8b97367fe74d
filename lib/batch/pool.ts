// --workers N on one machine: N worker processes (pool-child.ts), each with its own loaded model
// and its share of the threads, fed one page at a time. A worker that dies mid-page is restarted
// and the page given out again, up to `maxRetries` times; after that it is recorded as failed
// (code WORKER). Results come in the order pages finish.
import { ChildProcess, fork } from 'node:child_process';
import type { FamilyName } from '../family';
import { MiniMonkeyError } from '../errors';
import { BATCH_LIMITS } from '../limits';
import { compiledSibling } from '../util/compiled';
import type { ChildMessage, ParentMessage } from './pool-protocol';
import type { BatchResult, BatchTask, PageJob } from './task';

export interface PoolOptions {
  workers: number;
  /** How each worker loads the pair; `threads` is per worker. */
  load: { model: string; mmproj: string; threads?: number; contextSize?: number; family?: FamilyName };
  task: BatchTask;
  password?: string;
  /** Times a page is given out again after its worker died (default 2). */
  maxRetries?: number;
  signal?: AbortSignal;
  /** What the workers do: for logs, and for tests that kill one mid-page. */
  onEvent?: (e: { type: 'ready' | 'start' | 'exit'; worker: number; pid: number; key?: string; attempt?: number }) => void;
}

/** The default split of `threads` over `workers` processes: an equal share each, at least one. */
export function threadsPerWorker(threads: number, workers: number): number {
  return Math.max(1, Math.floor(threads / workers));
}

interface Slot {
  index: number;
  child?: ChildProcess;
  job?: PageJob;
  ready: boolean;
  /** Deaths before it was ever ready: a worker that cannot even load is not restarted forever. */
  loadDeaths: number;
}

export async function* runPool(jobs: PageJob[], o: PoolOptions): AsyncGenerator<BatchResult> {
  if (jobs.length === 0) return;
  const maxRetries = o.maxRetries ?? BATCH_LIMITS.maxRetries.default;
  const queue = [...jobs];
  const attempts = new Map<string, number>();
  const results: BatchResult[] = [];
  let failure: Error | undefined;
  let outstanding = jobs.length;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const file = compiledSibling(__dirname, 'pool-child');
  const slots: Slot[] = Array.from({ length: Math.min(o.workers, jobs.length) }, (_, index) => ({ index, ready: false, loadDeaths: 0 }));
  let stopping = false;

  const finish = (r: BatchResult) => {
    results.push(r);
    outstanding--;
    notify();
  };

  const feed = (s: Slot) => {
    if (!s.ready || s.job || stopping) return;
    const job = queue.shift();
    if (!job) return;
    s.job = job;
    const attempt = (attempts.get(job.key) ?? 0) + 1;
    attempts.set(job.key, attempt);
    o.onEvent?.({ type: 'start', worker: s.index, pid: s.child!.pid!, key: job.key, attempt });
    s.child!.send({ type: 'page', job } satisfies ParentMessage);
  };

  const start = (s: Slot) => {
    const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    s.child = child;
    s.ready = false;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        s.ready = true;
        s.loadDeaths = 0;
        o.onEvent?.({ type: 'ready', worker: s.index, pid: child.pid! });
        feed(s);
      } else if (m.type === 'fatal') {
        failure = new MiniMonkeyError(m.error.code as never, `batch worker: ${m.error.message}`);
        notify();
      } else if (m.type === 'result') {
        s.job = undefined;
        finish(m.result);
        feed(s);
      }
    });
    child.on('exit', (code, signal) => {
      if (s.child !== child) return;
      s.child = undefined;
      o.onEvent?.({ type: 'exit', worker: s.index, pid: child.pid!, key: s.job?.key });
      if (stopping) return;
      const job = s.job;
      s.job = undefined;
      if (job) {
        if ((attempts.get(job.key) ?? 0) > maxRetries) {
          finish({ key: job.key, file: job.file, page: job.page, error: { code: 'WORKER', message: `the worker died on this page ${attempts.get(job.key)} times (last: ${signal ?? `exit code ${code}`})` } });
        } else {
          queue.unshift(job);
        }
      } else if (!s.ready && ++s.loadDeaths > maxRetries) {
        failure = new MiniMonkeyError('WORKER', `batch worker died while loading the model ${s.loadDeaths} times (last: ${signal ?? `exit code ${code}`})`);
        notify();
        return;
      }
      if (outstanding > 0) start(s);
    });
    child.send({ type: 'init', load: o.load, task: o.task, password: o.password } satisfies ParentMessage);
  };

  const onAbort = () => notify();
  o.signal?.addEventListener('abort', onAbort);
  try {
    for (const s of slots) start(s);
    while (outstanding > 0 || results.length > 0) {
      if (results.length > 0) {
        yield results.shift()!;
        continue;
      }
      if (failure) throw failure;
      if (o.signal?.aborted) return;
      await new Promise<void>((r) => (wake = r));
    }
    if (failure) throw failure;
  } finally {
    stopping = true;
    o.signal?.removeEventListener('abort', onAbort);
    for (const s of slots) s.child?.kill('SIGTERM');
  }
}
