// --workers: pages spread over worker processes, each with its own model; a worker killed mid-page
// is restarted and the page given out again; a page that kills every worker it meets is recorded
// as failed after the retries. Answers are checked against the same pages asked in this process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkey } from '../lib';
import { readJsonl } from '../lib/batch/jsonl';
import { planBatch } from '../lib/batch/plan';
import { runPool, threadsPerWorker } from '../lib/batch/pool';
import type { BatchResult, BatchTask, PageJob } from '../lib/batch/task';
import { documentImage } from '../lib/demo/document-image';
import { tempDir, tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const task: BatchTask = { question: 'What is the date?', crop: 'fast', maxTokens: 5 };

let pair: { model: string; mmproj: string };
let dir: string;
let jobs: PageJob[];
/** key -> answer, asked in this process with one thread (as each worker has). */
const expected = new Map<string, string>();

beforeAll(async () => {
  pair = await tinyPair('f32', 4);
  dir = fs.mkdtempSync(path.join(tempDir(), 'workers-'));
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, `p${i}.png`), await documentImage({ width: 320, height: 240, seed: 20 + i }));
  jobs = (await planBatch([dir], task)).jobs;
  const mm = await MiniMonkey.load({ ...pair, threads: 1, contextSize: 2048 });
  try {
    for await (const r of mm.batch([dir], task)) expected.set(r.key, r.answer!);
  } finally {
    mm.dispose();
  }
});

const load = () => ({ ...pair, threads: 1, contextSize: 2048 });

async function all(it: AsyncIterable<BatchResult>): Promise<BatchResult[]> {
  const out: BatchResult[] = [];
  for await (const r of it) out.push(r);
  return out;
}

it('threads are split evenly, at least one each', () => {
  expect([threadsPerWorker(8, 2), threadsPerWorker(2, 2), threadsPerWorker(3, 2), threadsPerWorker(1, 4)]).toEqual([4, 1, 1, 1]);
});

it('two workers: every page once, each the answer asked in-process, from both processes', async () => {
  const results = await all(runPool(jobs, { workers: 2, load: load(), task }));
  expect(results.map((r) => r.key).sort()).toEqual([...expected.keys()].sort());
  for (const r of results) expect([r.key, r.error, r.answer]).toEqual([r.key, undefined, expected.get(r.key)]);
  expect(new Set(results.map((r) => r.worker)).size).toBe(2);
});

it('a worker killed mid-page is restarted and the page redone; nothing lost, nothing twice', async () => {
  const victim = jobs[1].key;
  const events: string[] = [];
  const results = await all(runPool(jobs, {
    workers: 2, load: load(), task,
    onEvent: (e) => {
      events.push(`${e.type}:${e.key ?? ''}:${e.attempt ?? ''}`);
      if (e.type === 'start' && e.key === victim && e.attempt === 1) process.kill(e.pid, 'SIGKILL');
    },
  }));
  expect(events).toContain(`exit:${victim}:`);
  expect(events).toContain(`start:${victim}:2`);
  expect(results.map((r) => r.key).sort()).toEqual([...expected.keys()].sort());
  for (const r of results) expect([r.key, r.error, r.answer]).toEqual([r.key, undefined, expected.get(r.key)]);
});

it('a page that kills every worker is recorded as failed after maxRetries, the others answered', async () => {
  const victim = jobs[3].key;
  let starts = 0;
  const results = await all(runPool(jobs, {
    workers: 2, load: load(), task, maxRetries: 1,
    onEvent: (e) => {
      if (e.type === 'start' && e.key === victim) {
        starts++;
        process.kill(e.pid, 'SIGKILL');
      }
    },
  }));
  expect(starts).toBe(2);
  const failed = results.filter((r) => r.error);
  expect(failed.map((r) => [r.key, r.error!.code])).toEqual([[victim, 'WORKER']]);
  expect(failed[0].error!.message).toMatch(/died on this page 2 times \(last: SIGKILL\)/);
  expect(results).toHaveLength(jobs.length);
});

it('minimonkey batch --workers 2 writes the same lines', () => {
  const out = path.join(dir, '..', 'workers.jsonl');
  const r = spawnSync(process.execPath, [cli, 'batch', dir, '-q', task.question!, '--out', out, '-p', 'fast', '-n', '5',
    '--model', pair.model, '--mmproj', pair.mmproj, '--threads', '2', '--context', '2048', '--workers', '2'], { encoding: 'utf8' });
  expect(r.stderr).toMatch(/5 pages, 5 answered/);
  expect(r.status).toBe(0);
  const recs = readJsonl(out) as unknown as BatchResult[];
  expect(recs.map((x) => x.key).sort()).toEqual([...expected.keys()].sort());
  for (const x of recs) expect(x.answer).toBe(expected.get(x.key));
});
