// One page of a batch, from its description to its result: the same code runs it in-process
// (model.batch), in a local worker process (pool.ts) and in a queue worker (queue.ts), so a result
// does not depend on where it was computed.
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, MiniMonkeyError } from '../errors';
import type { ImageInput } from '../image/load';
import { extractionQuestion } from '../llm/extract';
import { schemaToGrammar } from '../llm/json-schema';
import type { AskOptions, ChatSession } from '../llm/session';
import { checkDpi } from '../pdf/render';
import { readInputFile } from '../util/file-kind';
import type { BatchTask } from './batch-task';
import { bytesHash, pageKey } from './key';

export type { BatchTask };

/**
 * What a batch needs of a model: a fresh conversation per page. MiniMonkey is one; naming the
 * class here would make batch and model import each other (model.ts fronts batch()).
 */
export interface BatchModel {
  chat(): Promise<Pick<ChatSession, 'ask' | 'dispose'>>;
}

/** One page to do: where it is, and which result it will be. */
export interface PageJob {
  key: string;
  file: string;
  /** 1-based page of a PDF; null for an image. */
  page: number | null;
  /** The bytes, when they travel with the job (queue jobs); else the file is read. */
  bytes?: Uint8Array;
}

/** One line of the results file. */
export interface BatchResult {
  key: string;
  file: string;
  page: number | null;
  /** The reply's text (with `json`, the JSON text). */
  answer?: string;
  /** With `json`: the parsed value. */
  value?: unknown;
  finishReason?: string;
  tokens?: { prompt: number; image: number; generated: number };
  /** Milliseconds: the ask's phases, and `total` for the page (rendering included). */
  timings?: { decode: number; encode: number; prefill: number; generate: number; total: number };
  /** Which process computed it (host:pid). */
  worker?: string;
  /** Set when the page failed; `code` is a MiniMonkeyError code. */
  error?: { code: string; message: string };
}

export const workerName = (): string => `${os.hostname()}:${process.pid}`;

/** The task's options checked, so a bad value fails before any page (and the same everywhere). */
export function checkTask(t: BatchTask): BatchTask {
  if (t === null || typeof t !== 'object') throw new InvalidArgumentError('batch options must be an object');
  if (t.question === undefined && t.json === undefined) throw new InvalidArgumentError('a batch needs a question or a json schema');
  if (t.question !== undefined && (typeof t.question !== 'string' || t.question.trim() === '')) throw new InvalidArgumentError('question must be a non-empty string');
  checkDpi(t.dpi);
  if (t.json !== undefined) schemaToGrammar(t.json);  // an unsupported schema is one refusal, before any page
  return t;
}

/** The error of a failed page, as it is recorded. */
export function errorRecord(e: unknown): { code: string; message: string } {
  if (e instanceof MiniMonkeyError) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: (e as Error)?.message ?? String(e) };
}

/** The file the last page was read from: the next page of the same PDF reuses its bytes while the file is unchanged. */
let lastRead: { file: string; id: string; bytes: Uint8Array; hash: string } | undefined;

/** What identifies a file's content without reading it: inode, size and change times. */
async function fileIdentity(file: string): Promise<string | undefined> {
  try {
    const st = await fs.promises.stat(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/**
 * The bytes a page is computed from and the hash of exactly those bytes, read once through the
 * one input reader (file-kind.ts). The answer is then stored under the key of what was read, so a
 * file edited since the plan cannot put its new answer under its old content's key.
 */
async function contentOf(job: PageJob, signal?: AbortSignal): Promise<{ bytes: Uint8Array; hash: string }> {
  if (job.bytes) return { bytes: job.bytes, hash: bytesHash(job.bytes) };
  const id = await fileIdentity(job.file);
  if (lastRead && id !== undefined && lastRead.file === job.file && lastRead.id === id) return lastRead;
  lastRead = undefined;
  const bytes = await readInputFile(job.file, job.page === null ? 'image' : 'PDF', { signal });
  const hash = bytesHash(bytes);
  // Kept only when the file did not change while it was read (same identity before and after).
  if (id !== undefined && (await fileIdentity(job.file)) === id) lastRead = { file: job.file, id, bytes, hash };
  return { bytes, hash };
}

function imageOf(job: PageJob, bytes: Uint8Array, task: BatchTask, password: string | undefined): ImageInput {
  const source = bytes;
  if (job.page === null) return source;
  return { pdf: source, page: job.page, ...(task.dpi !== undefined ? { dpi: task.dpi } : {}), ...(password !== undefined ? { password } : {}) };
}

/** Runs one page on `model` (a fresh conversation), never throwing for the page's own failure. */
export async function runPage(model: BatchModel, job: PageJob, task: BatchTask, o: { password?: string; signal?: AbortSignal } = {}): Promise<BatchResult> {
  const base = { key: job.key, file: job.file, page: job.page, worker: workerName() };
  const t0 = performance.now();
  let session;
  try {
    const content = await contentOf(job, o.signal);
    base.key = pageKey(content.hash, job.page, task);
    session = await model.chat();
    const ask: AskOptions = { crop: task.crop, signal: o.signal };
    if (task.maxTokens !== undefined) ask.maxTokens = task.maxTokens;
    else if (task.json !== undefined) ask.maxTokens = 1024;
    if (task.temperature !== undefined) ask.temperature = task.temperature;
    if (task.seed !== undefined) ask.seed = task.seed;
    if (task.scm) ask.scm = true;
    if (task.json !== undefined) ask.json = task.json as AskOptions['json'];
    const question = task.json !== undefined ? extractionQuestion(task.json, task.question) : task.question!;
    const r = await session.ask([{ type: 'image', image: imageOf(job, content.bytes, task, o.password) }, question], ask);
    const result: BatchResult = {
      ...base,
      answer: r.text,
      finishReason: r.finishReason,
      tokens: r.tokens,
      timings: { ...r.timings, total: Math.round(performance.now() - t0) },
    };
    if (task.json !== undefined) {
      if (r.json === undefined) {
        result.error = { code: 'INCOMPLETE', message: `the answer stopped (${r.finishReason}) after ${r.tokens.generated} tokens, before its JSON was complete` };
      } else {
        result.value = r.json;
      }
    }
    return result;
  } catch (e) {
    if (o.signal?.aborted) throw e; // a stopped batch is not a failed page
    if (e instanceof MiniMonkeyError && e.code === 'DISPOSED') throw e; // nor is a disposed model: every page after would fail the same way
    return { ...base, error: errorRecord(e), timings: undefined };
  } finally {
    session?.dispose();
  }
}
