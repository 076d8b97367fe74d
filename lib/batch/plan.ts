// A batch's work list: inputs expanded to pages, each with its result key, the pages whose key is
// already done left out.
import { InvalidArgumentError } from '../errors';
import { parsePages, PageList } from '../pdf/pages';
import { expandFiles, expandPagesOf } from './inputs';
import { fileHash, resultKey } from './key';
import { BatchResult, BatchTask, checkTask, errorRecord, PageJob } from './task';

export interface PlanOptions {
  /** PDF pages to take ("1-3,7"); default all. */
  pages?: string | PageList;
  /** The user password of encrypted PDFs. */
  password?: string;
  /** Keys that already have a result (doneKeys of a results file): skipped. */
  done?: Set<string>;
}

export interface BatchPlan {
  /** Pages to run, in order. */
  jobs: PageJob[];
  /** Pages that failed before any model work (a PDF that would not open), as results. */
  failed: BatchResult[];
  /** Pages left out because their key is done. */
  skipped: number;
}

/** The key of a page of a file: its content hash, page, and the task (the password is not part of the answer). */
export function pageKey(hash: string, page: number | null, task: BatchTask): string {
  const { question, json, crop = 'default', maxTokens, temperature, seed, scm = false, dpi } = task;
  return resultKey(hash, page, { question, json, crop, maxTokens, temperature, seed, scm, dpi });
}

export async function planBatch(inputs: string[], task: BatchTask, o: PlanOptions = {}): Promise<BatchPlan> {
  checkTask(task);
  if (!Array.isArray(inputs) || inputs.some((i) => typeof i !== 'string')) throw new InvalidArgumentError('batch inputs must be an array of paths, folders or globs');
  const pages = typeof o.pages === 'string' ? parsePages(o.pages) : o.pages;
  const files = await expandFiles(inputs);
  const all = await expandPagesOf(files, pages, o.password);
  const hashes = new Map<string, string>();
  const plan: BatchPlan = { jobs: [], failed: [], skipped: 0 };
  for (const p of all) {
    let hash = hashes.get(p.file);
    if (hash === undefined) hashes.set(p.file, (hash = await fileHash(p.file)));
    const key = pageKey(hash, p.page, task);
    if (o.done?.has(key)) plan.skipped++;
    else if (p.error) plan.failed.push({ key, file: p.file, page: p.page, error: errorRecord(p.error) });
    else plan.jobs.push({ key, file: p.file, page: p.page });
  }
  return plan;
}
