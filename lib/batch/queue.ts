// Past one machine: pages as jobs on a BullMQ queue in Redis. BullMQ (kept by Taskforce.sh, the
// most used Node job queue) gives us what a home-made queue would get wrong: atomic moves between
// wait/active/completed in Lua scripts, a lock per active job renewed while the worker lives, and
// a stalled-job check that puts the job of a dead worker (lock expired) back to wait, so another
// worker redoes it. That is at-least-once execution; results are exactly-once because the one
// producer writes each job's result (jobId = result key) to the JSONL once, then removes the job.
//
// Jobs carry the file's content, not a path: a file is stored once in Redis under its sha256
// (`<name>:file:<hash>`, SET NX with a week's expiry) and each page's job names the hash, so
// workers need no shared file system and see exactly the bytes the key was made from (a path on a
// share could change between enqueue and work). Redis holds files in memory: for PDFs of hundreds
// of megabytes, put them on shared storage and run batch on each machine instead (README).
import crypto from 'node:crypto';
import type { Job } from 'bullmq';
import type IORedisClient from 'ioredis';
import { MiniMonkeyError } from '../errors';
import { requireOptional } from '../util/optional-dependency';
import { readInputFile } from '../util/file-kind';
import { BatchModel, BatchResult, BatchTask, errorRecord, PageJob, runPage, workerName } from './task';

/** What a queued page carries. */
export interface QueueJobData {
  key: string;
  file: string;
  page: number | null;
  /** sha256 of the file's bytes: the Redis key of the content. */
  hash: string;
  task: BatchTask;
  password?: string;
}

export interface QueueOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** The queue's name (default 'minimonkey'). */
  name?: string;
  signal?: AbortSignal;
}

const FILE_TTL_S = 7 * 24 * 3600;
const fileKey = (name: string, hash: string) => `${name}:file:${hash}`;

/** bullmq and ioredis are optional peer dependencies: only the queue needs them (MISSING_DEPENDENCY otherwise). */
const QUEUE_PACKAGES = ['bullmq', 'ioredis'];
const bullmq = () => requireOptional<typeof import('bullmq')>('bullmq', 'the BullMQ queue (--queue)', QUEUE_PACKAGES);

/** Throws MISSING_DEPENDENCY now, before a model loads, when the queue's packages are not installed. */
export function checkQueuePackages(): void {
  bullmq();
  requireOptional('ioredis', 'the BullMQ queue (--queue)', QUEUE_PACKAGES);
}

function connect(url: string): IORedisClient {
  const IORedis = requireOptional<typeof import('ioredis')>('ioredis', 'the BullMQ queue (--queue)', QUEUE_PACKAGES).default;
  // BullMQ's blocking commands need maxRetriesPerRequest: null (its documented requirement).
  return new IORedis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

/**
 * Enqueues `jobs` (each once: jobId is the result key, so a re-run's add is a no-op) and yields
 * each result as a worker finishes it. A result is yielded once; after the caller has written it,
 * the job is removed when the next result is asked for (so a crash in between leaves the job's
 * result in Redis for the next run to collect).
 */
export async function* collectFromQueue(jobs: PageJob[], o: QueueOptions & { task: BatchTask; password?: string }): AsyncGenerator<BatchResult> {
  const name = o.name ?? 'minimonkey';
  const { Queue, QueueEvents } = bullmq(); // before any connection opens
  // Connections we make are ours to close: BullMQ leaves a connection it was given open.
  const connection = connect(o.url);
  const eventsConnection = connect(o.url);
  const events = new QueueEvents(name, { connection: eventsConnection });
  const queue = new Queue(name, { connection });
  const results: BatchResult[] = [];
  let wake: (() => void) | undefined;
  const push = (r: BatchResult) => {
    results.push(r);
    wake?.();
    wake = undefined;
  };
  const onAbort = () => wake?.();
  o.signal?.addEventListener('abort', onAbort);
  try {
    await events.waitUntilReady();
    const hashes = new Map<string, string>();
    for (const j of jobs) {
      if (hashes.has(j.file)) continue;
      // Read once and hashed from the same bytes, so the stored content is what its name says.
      const bytes = await readInputFile(j.file, 'batch input', { signal: o.signal });
      const hash = crypto.createHash('sha256').update(bytes).digest('hex');
      hashes.set(j.file, hash);
      await connection.set(fileKey(name, hash), bytes, 'EX', FILE_TTL_S, 'NX');
      await connection.expire(fileKey(name, hash), FILE_TTL_S); // a re-run keeps it
    }
    const added = await queue.addBulk(
      jobs.map((j) => ({
        name: 'page',
        data: { key: j.key, file: j.file, page: j.page, hash: hashes.get(j.file)!, task: o.task, password: o.password } satisfies QueueJobData,
        opts: { jobId: j.key, removeOnComplete: false, removeOnFail: false, attempts: 1 },
      })),
    );
    for (const [i, job] of added.entries()) {
      const j = jobs[i];
      // A job failed in an earlier run (its worker threw) is tried again.
      if ((await job.getState()) === 'failed') await job.retry();
      job.waitUntilFinished(events).then(
        (r: BatchResult) => push(r),
        (e: unknown) => push({ key: j.key, file: j.file, page: j.page, error: { code: 'WORKER', message: `the queue job failed: ${(e as Error)?.message ?? e}` } }),
      );
    }
    let remaining = jobs.length;
    while (remaining > 0) {
      if (results.length === 0) {
        if (o.signal?.aborted) return;
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const r = results.shift()!;
      remaining--;
      yield r;
      // The caller has written it: the job is no longer needed.
      await queue.remove(r.key).catch(() => 0);
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
    eventsConnection.disconnect();
    connection.disconnect();
  }
}

export interface WorkerOptions extends QueueOptions {
  /** How long a job's lock lasts without renewal before it counts as stalled (default 30 s). */
  lockDuration?: number;
  /** How often stalled jobs are looked for (default 30 s). */
  stalledInterval?: number;
  /** Times a job may stall (its worker died) before it fails (default 3). */
  maxStalledCount?: number;
  onJob?: (e: { type: 'start' | 'done'; data: QueueJobData; result?: BatchResult }) => void;
}

/** Consumes page jobs with `model`, one at a time, until the signal aborts. */
export async function runQueueWorker(model: BatchModel, o: WorkerOptions): Promise<void> {
  const name = o.name ?? 'minimonkey';
  const { Worker } = bullmq(); // before any connection opens
  const files = connect(o.url);
  const jobs = connect(o.url);
  const cached = new Map<string, Buffer>(); // the last file, for the next page of the same PDF
  const content = async (hash: string): Promise<Buffer> => {
    const hit = cached.get(hash);
    if (hit) return hit;
    const bytes = await files.getBuffer(fileKey(name, hash));
    if (!bytes) throw new MiniMonkeyError('WORKER', `the file ${hash} is not in Redis (expired or removed): enqueue the batch again`);
    cached.clear();
    cached.set(hash, bytes);
    return bytes;
  };
  const worker = new Worker<QueueJobData, BatchResult>(
    name,
    async (job: Job<QueueJobData>) => {
      const d = job.data;
      o.onJob?.({ type: 'start', data: d });
      let result: BatchResult;
      try {
        const bytes = await content(d.hash);
        result = await runPage(model, { key: d.key, file: d.file, page: d.page, bytes: new Uint8Array(bytes) }, d.task, { password: d.password });
      } catch (e) {
        // A page's own failure is its result (it would fail again anywhere); only a dead worker is retried.
        result = { key: d.key, file: d.file, page: d.page, worker: workerName(), error: errorRecord(e) };
      }
      o.onJob?.({ type: 'done', data: d, result });
      return result;
    },
    {
      connection: jobs,
      concurrency: 1,
      lockDuration: o.lockDuration ?? 30000,
      stalledInterval: o.stalledInterval ?? 30000,
      maxStalledCount: o.maxStalledCount ?? 3,
    },
  );
  try {
    await worker.waitUntilReady();
    await new Promise<void>((resolve) => {
      if (o.signal?.aborted) resolve();
      o.signal?.addEventListener('abort', () => resolve(), { once: true });
      worker.on('closed', () => resolve());
    });
  } finally {
    await worker.close(); // lets the page in hand finish, so its result is not lost
    jobs.disconnect();
    files.disconnect();
  }
}
