// Many machines through a job queue: `minimonkey batch --queue` and two `minimonkey worker`
// processes on a real redis-server (started here on loopback). One worker is SIGKILLed mid-page:
// its lock expires, the other worker redoes the page, and the JSONL has every page exactly once
// with the answer this process gives. A producer killed after enqueueing is resumed by a re-run
// that collects what the workers finished meanwhile.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { MiniMonkey } from '../lib';
import { readJsonl } from '../lib/batch/jsonl';
import type { BatchResult, BatchTask } from '../lib/batch/task';
import { documentImage } from '../lib/demo/document-image';
import { tempDir, tinyPair } from './helpers/models';
import { makePdf } from './helpers/pdfs';
import { RedisServer, startRedis } from './helpers/redis';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const task: BatchTask = { question: 'Who signed it?', crop: 'default', maxTokens: 24 };
const askArgs = ['-q', task.question!, '-p', 'default', '-n', '24'];

let redis: RedisServer;
let pair: { model: string; mmproj: string };
let dir: string;
let docs: string;
const expected = new Map<string, string>();
const children: ChildProcess[] = [];

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first stderr line matching `re`. */
  line(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  const waiters: (() => void)[] = [];
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const line = (re: RegExp, timeoutMs = 60_000) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line ${re} in: ${err}`)), timeoutMs);
    const check = () => {
      const m = err.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      } else {
        waiters.push(check);
      }
    };
    check();
  });
  return { child, stderr: () => err, exited, line };
}

const worker = (name: string) =>
  start(['worker', '--queue', redis.url, '--queue-name', name, '--model', pair.model, '--mmproj', pair.mmproj, '--threads', '1', '--context', '8192', '--lock-duration', '1500', '--stalled-interval', '500']);
const producer = (name: string, out: string) => start(['batch', docs, ...askArgs, '--out', out, '--queue', redis.url, '--queue-name', name]);

beforeAll(async () => {
  redis = await startRedis();
  pair = await tinyPair('f32', 4);
  dir = fs.mkdtempSync(path.join(tempDir(), 'queue-'));
  docs = path.join(dir, 'docs');
  fs.mkdirSync(docs);
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(docs, `p${i}.png`), await documentImage({ width: 900, height: 700, seed: 40 + i }));
  fs.writeFileSync(path.join(docs, 'two.pdf'), await makePdf([{ size: [300, 400], text: ['Signed: A. N.'] }, { size: [400, 300], shapes: true }]));
  const mm = await MiniMonkey.load({ ...pair, threads: 1, contextSize: 8192 });
  try {
    for await (const r of mm.batch([docs], task)) {
      expect(r.error).toBeUndefined();
      expected.set(r.key, r.answer!);
    }
  } finally {
    mm.dispose();
  }
  expect(expected.size).toBe(6);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await redis?.stop();
});

it('two workers, one SIGKILLed mid-page: every page answered once, nothing lost, the dead worker\'s page redone by the other', async () => {
  const a = worker('q-kill');
  const b = worker('q-kill');
  await Promise.all([a.line(/ready on queue/), b.line(/ready on queue/)]);
  const out = path.join(dir, 'kill.jsonl');
  const p = producer('q-kill', out);
  // The moment worker A starts a page, it dies: no result, its lock left to expire.
  const started = await a.line(/start .* \[([0-9a-f]{32})\]/);
  a.child.kill('SIGKILL');
  const victim = started[1];
  expect(await a.exited).toBe(null);
  expect(a.stderr()).not.toMatch(new RegExp(`done .*\\[${victim}\\]`));

  expect(await p.exited).toBe(0);
  const recs = readJsonl(out) as unknown as BatchResult[];
  expect(recs.map((r) => r.key).sort()).toEqual([...expected.keys()].sort()); // each page exactly once
  for (const r of recs) expect([r.key, r.error, r.answer]).toEqual([r.key, undefined, expected.get(r.key)]);
  const redone = recs.find((r) => r.key === victim)!;
  expect(redone.worker).toBe(`${os.hostname()}:${b.child.pid}`);
  expect(b.stderr()).toMatch(new RegExp(`done .*\\[${victim}\\]`));

  // A re-run finds everything done; Redis keeps no finished job (only the stored files).
  const again = spawnSync(process.execPath, [cli, 'batch', docs, ...askArgs, '--out', out, '--queue', redis.url, '--queue-name', 'q-kill'], { encoding: 'utf8' });
  expect(again.status).toBe(0);
  expect(again.stderr).toMatch(/6 pages already done/);
  const r = new IORedis(redis.url);
  try {
    expect(await r.zcard('bull:q-kill:completed')).toBe(0);
    expect(await r.llen('bull:q-kill:wait')).toBe(0);
    expect((await r.keys('q-kill:file:*')).length).toBe(5);
  } finally {
    r.disconnect();
  }
  b.child.kill('SIGTERM');
  expect(await b.exited).toBe(143);
}, 120_000);

it('a producer killed after enqueueing: the workers go on, and the re-run collects their results once', async () => {
  const out = path.join(dir, 'resume.jsonl');
  const first = producer('q-resume', out);
  const r = new IORedis(redis.url);
  try {
    const t0 = Date.now();
    while ((await r.llen('bull:q-resume:wait')) < 6 && Date.now() - t0 < 30_000) await new Promise((res) => setTimeout(res, 50));
    expect(await r.llen('bull:q-resume:wait')).toBe(6);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(readJsonl(out)).toEqual([]);

    const w = worker('q-resume');
    const t1 = Date.now();
    while ((await r.zcard('bull:q-resume:completed')) < 6 && Date.now() - t1 < 120_000) await new Promise((res) => setTimeout(res, 100));
    expect(await r.zcard('bull:q-resume:completed')).toBe(6);
    w.child.kill('SIGTERM');
    await w.exited;

    // No worker runs now: the re-run can only have collected what Redis kept.
    const again = spawnSync(process.execPath, [cli, 'batch', docs, ...askArgs, '--out', out, '--queue', redis.url, '--queue-name', 'q-resume'], { encoding: 'utf8', timeout: 60_000 });
    expect(again.status).toBe(0);
    const recs = readJsonl(out) as unknown as BatchResult[];
    expect(recs.map((x) => x.key).sort()).toEqual([...expected.keys()].sort());
    for (const x of recs) expect(x.answer).toBe(expected.get(x.key));
    expect(await r.zcard('bull:q-resume:completed')).toBe(0);
  } finally {
    r.disconnect();
  }
}, 150_000);
