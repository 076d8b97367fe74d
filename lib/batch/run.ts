// The one batch driver: inputs planned into pages (those already in `out` skipped), each page's
// result appended to the JSONL file as it comes and yielded in page order. Where the pages are
// computed is the caller's: model.batch() on its own model, the CLI also in local workers or by a
// BullMQ queue (cli/batch.ts).
import { checkSignal, throwIfAborted } from '../util/abort';
import { doneKeys, JsonlWriter } from './jsonl';
import { planBatch, PlanOptions } from './plan';
import { BatchModel, BatchResult, BatchTask, PageJob, runPage } from './task';

export interface BatchOptions extends BatchTask, Omit<PlanOptions, 'done'> {
  /** A JSONL results file: results are appended; pages with a result there are skipped. */
  out?: string;
  signal?: AbortSignal;
  /** Called once the pages are known: how many will run, and how many were done already. */
  onPlan?: (p: { total: number; skipped: number }) => void;
}

/** Computes a plan's pages, in order; it stops early (without throwing) once the signal is aborted. */
export type PageRunner = (jobs: PageJob[], task: BatchTask, o: { password?: string; signal?: AbortSignal }) => AsyncIterable<BatchResult>;

/** The pages on one model in this process, one after another. */
export function onModel(model: BatchModel): PageRunner {
  return async function* (jobs, task, o) {
    for (const job of jobs) {
      if (o.signal?.aborted) return;
      yield await runPage(model, job, task, o);
    }
  };
}

/**
 * Plans, runs and records a batch. Pages that failed before any model work (a PDF that would not
 * open) come first, then the runner's. With nothing to run, `out` is not opened.
 */
export async function* driveBatch(inputs: string[], o: BatchOptions, run: PageRunner): AsyncGenerator<BatchResult> {
  checkSignal(o?.signal);
  const { out, signal, onPlan, pages, password, ...task } = o;
  const plan = await planBatch(inputs, task, { pages, password, signal, done: out !== undefined ? doneKeys(out) : undefined });
  const total = plan.jobs.length + plan.failed.length;
  onPlan?.({ total, skipped: plan.skipped });
  if (total === 0) return;
  const writer = out !== undefined ? new JsonlWriter(out) : undefined;
  try {
    for (const r of plan.failed) {
      writer?.append(r);
      yield r;
    }
    for await (const r of run(plan.jobs, task, { password, signal })) {
      writer?.append(r);
      yield r;
    }
  } finally {
    writer?.close();
  }
}

/** model.batch(inputs, options): the batch on this model; an abort ends it with AbortError. */
export async function* runBatch(model: BatchModel, inputs: string[], o: BatchOptions): AsyncGenerator<BatchResult> {
  let done = 0;
  let jobs = 0;
  const onPlan = o?.onPlan;
  for await (const r of driveBatch(inputs, { ...o, onPlan: (p) => { jobs = p.total; onPlan?.(p); } }, onModel(model))) {
    done++;
    yield r;
  }
  // Stopped before its last page: the abort is the caller's to see.
  if (done < jobs) throwIfAborted(o.signal);
}
