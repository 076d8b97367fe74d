// model.batch(inputs, options): the pages of files, folders and globs asked one question (or read
// into a schema), as an AsyncIterable of results in page order. With `out`, each result is also
// appended to that JSONL file as it comes, and pages already done there are skipped.
import { checkSignal, throwIfAborted } from '../util/abort';
import { doneKeys, JsonlWriter } from './jsonl';
import { planBatch, PlanOptions } from './plan';
import { BatchModel, BatchResult, BatchTask, runPage } from './task';

export interface BatchOptions extends BatchTask, Omit<PlanOptions, 'done'> {
  /** A JSONL results file: results are appended; pages with a result there are skipped. */
  out?: string;
  signal?: AbortSignal;
  /** Called once the pages are known: how many will run, and how many were done already. */
  onPlan?: (p: { total: number; skipped: number }) => void;
}

export async function* runBatch(model: BatchModel, inputs: string[], o: BatchOptions): AsyncGenerator<BatchResult> {
  checkSignal(o?.signal);
  const { out, signal, onPlan, pages, password, ...task } = o;
  const plan = await planBatch(inputs, task, { pages, password, signal, done: out !== undefined ? doneKeys(out) : undefined });
  onPlan?.({ total: plan.jobs.length + plan.failed.length, skipped: plan.skipped });
  const writer = out !== undefined ? new JsonlWriter(out) : undefined;
  try {
    for (const r of plan.failed) {
      writer?.append(r);
      yield r;
    }
    for (const job of plan.jobs) {
      throwIfAborted(signal);
      const r = await runPage(model, job, task, { password, signal });
      writer?.append(r);
      yield r;
    }
  } finally {
    writer?.close();
  }
}
