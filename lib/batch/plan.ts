// A batch's work list: inputs expanded to pages, each with its result key, the pages whose key is
// already done left out.
import path from 'node:path';
import { InvalidArgumentError } from '../errors';
import { throwIfAborted } from '../util/abort';
import { parsePages, PageList } from '../pdf/pages';
import { expandFiles, expandPagesOf } from './inputs';
import { fileHash, pageKey } from './key';
import { BatchResult, BatchTask, checkTask, errorRecord, PageJob } from './task';

export interface PlanOptions {
  /** PDF pages to take ("1-3,7"); default all. */
  pages?: string | PageList;
  /** The user password of encrypted PDFs. */
  password?: string;
  /** Keys that already have a result (doneKeys of a results file): skipped. */
  done?: Set<string>;
  /** Stops the planning (hashing a large folder) at the next file or chunk. */
  signal?: AbortSignal;
}

export interface BatchPlan {
  /** Pages to run, in order. */
  jobs: PageJob[];
  /** Pages that failed before any model work (a PDF that would not open), as results. */
  failed: BatchResult[];
  /** Pages left out because their key is done. */
  skipped: number;
}

export { pageKey };

/** The key of a page whose file could not be read: from its path, so its failure is a line of its own (and is retried). */
const unreadableKey = (file: string, page: number | null, task: BatchTask) => pageKey(`unreadable:${path.resolve(file)}`, page, task);

export async function planBatch(inputs: string[], task: BatchTask, o: PlanOptions = {}): Promise<BatchPlan> {
  checkTask(task);
  if (!Array.isArray(inputs) || inputs.some((i) => typeof i !== 'string')) throw new InvalidArgumentError('batch inputs must be an array of paths, folders or globs');
  const pages = typeof o.pages === 'string' ? parsePages(o.pages) : o.pages;
  const files = await expandFiles(inputs);
  throwIfAborted(o.signal);
  const all = await expandPagesOf(files, pages, o.password, o.signal);
  const hashes = new Map<string, string | Error>();
  const plan: BatchPlan = { jobs: [], failed: [], skipped: 0 };
  for (const p of all) {
    throwIfAborted(o.signal);
    let hash = hashes.get(p.file) ?? p.hash;
    if (hash === undefined) {
      // One file that cannot be read (a FIFO, a device, permission denied) fails its page, not the batch.
      hash = await fileHash(p.file, o.signal).catch((e: unknown) => {
        if (o.signal?.aborted) throw e;
        return e instanceof Error ? e : new Error(String(e));
      });
      hashes.set(p.file, hash);
    }
    if (hash instanceof Error) {
      plan.failed.push({ key: unreadableKey(p.file, p.page, task), file: p.file, page: p.page, error: errorRecord(p.error ?? hash) });
      continue;
    }
    const key = pageKey(hash, p.page, task);
    if (o.done?.has(key)) plan.skipped++;
    else if (p.error) plan.failed.push({ key, file: p.file, page: p.page, error: errorRecord(p.error) });
    else plan.jobs.push({ key, file: p.file, page: p.page });
  }
  return plan;
}
