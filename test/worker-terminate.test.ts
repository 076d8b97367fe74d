// worker.terminate() while the worker's native work is in flight must not take the process down
// (issue 14: a Napi::Error thrown during the worker's environment teardown aborted the whole
// process). 50 workers on the tiny pair are terminated mid-load, mid-encode, mid-prefill and
// mid-generate; the loop runs in a child process, whose exit code and signal are the verdict
// (an abort there would otherwise kill jest). The same process then asks on its main thread, and
// its greedy reply must equal a fresh process's: nothing the dead workers left behind (freed
// contexts, thread pools, the backend registry) may change the result.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { tinyPair } from './helpers/models';

const dist = path.join(__dirname, '..', 'dist', 'lib', 'index.js');

// One worker: load the pair, then ask about an image; it posts 'go' when the named phase has
// started (from onProgress / onToken, so native work of that phase is running or queued next),
// and 'done' if the phase finished. batchSize 16 makes prefill ~40 ubatches; maxTokens 400 keeps
// generation going.
const WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const mm = require(w.dist);
const go = () => parentPort.postMessage('go');
const image = { data: new Uint8Array(640 * 480 * 3).map((_, i) => (i * 2654435761) >>> 24), width: 640, height: 480 };
(async () => {
  const model = await mm.MiniMonkey.load({ model: w.model, mmproj: w.mmproj, threads: 1, contextSize: 4096, batchSize: 16,
    onProgress: w.phase === 'load' ? go : undefined });
  if (w.phase === 'load') return parentPort.postMessage('done');
  const chat = await model.chat();
  await chat.ask([{ type: 'image', image }, 'Describe the image.'], {
    crop: 'fast', maxTokens: 400,
    onProgress: (p) => { if (p.phase === w.phase) go(); },
    onToken: w.phase === 'generate' ? go : undefined,
  });
  parentPort.postMessage('done');
})().catch((e) => parentPort.postMessage('error ' + e.message));
`;

// The greedy ask both processes make on their main thread.
const ASK = `
async function greedyAsk(mm, a) {
  const model = await mm.MiniMonkey.load({ model: a.model, mmproj: a.mmproj, threads: 1, contextSize: 4096 });
  const chat = await model.chat();
  const image = { data: new Uint8Array(640 * 480 * 3).map((_, i) => (i * 2654435761) >>> 24), width: 640, height: 480 };
  const r = await chat.ask([{ type: 'image', image }, 'Describe the image.'], { crop: 'fast', maxTokens: 16 });
  model.dispose();
  return r.text;
}
`;

const CHILD = `
const { Worker } = require('node:worker_threads');
const dist = process.argv[1];
const a = JSON.parse(process.argv[2]);
const WORKER = ${JSON.stringify(WORKER)};
${ASK}
function once(phase, delay) {
  return new Promise((resolve) => {
    const w = new Worker(WORKER, { eval: true, workerData: { dist, model: a.model, mmproj: a.mmproj, phase } });
    let went = false, done = false, error;
    w.on('message', (m) => {
      if (m === 'go' && !went) { went = true; setTimeout(() => w.terminate(), delay); }
      else if (m === 'done') done = true;
      else if (typeof m === 'string' && m.startsWith('error')) error = m;
    });
    w.on('error', (e) => { error = e.message; });
    w.on('exit', (code) => resolve({ phase, went, done, error, code }));
  });
}
(async () => {
  const phases = ['load', 'encode', 'prefill', 'generate'];
  const runs = [];
  const t0 = Date.now();
  // 0-2 ms after the phase's first callback, so the terminate lands at different points.
  for (let i = 0; i < a.n; i++) runs.push(await once(phases[i % 4], i % 3));
  const ms = Date.now() - t0;
  const text = await greedyAsk(require(dist), a);
  process.stdout.write(JSON.stringify({ ms, runs, text }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const FRESH = `
const a = JSON.parse(process.argv[2]);
${ASK}
greedyAsk(require(process.argv[1]), a).then((text) => process.stdout.write(JSON.stringify({ text })), (e) => { console.error(e); process.exit(1); });
`;

interface Run {
  phase: string;
  went: boolean;
  done: boolean;
  error?: string;
  code: number;
}

function node(code: string, args: object): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', code, dist, JSON.stringify(args)], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

describe('worker.terminate() mid native work', () => {
  it('50 terminations (mid-load, -encode, -prefill, -generate) leave the process alive and asking as a fresh one', async () => {
    const pair = await tinyPair('f32');
    const child = await node(CHILD, { ...pair, n: 50 });
    // An abort in teardown shows here as SIGABRT (or a non-zero code) instead of taking jest down.
    expect({ code: child.code, signal: child.signal, stderr: child.code === 0 ? '' : child.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const { runs, text, ms } = JSON.parse(child.stdout) as { runs: Run[]; text: string; ms: number };
    console.log(`50 terminated workers in ${ms} ms; phase finished before the terminate in ` +
      `${runs.filter((r) => r.done).length} of 50 (${runs.filter((r) => r.done).map((r) => r.phase).join(', ') || 'none'})`);
    expect(runs).toHaveLength(50);
    for (const r of runs) {
      expect(r.error).toBeUndefined();
      expect(r.went).toBe(true); // the phase had started when terminate() was called
      // terminate()'s exit code; 0 only where the phase (a ~10 ms load) finished and the worker
      // ended on its own before the terminate landed.
      expect([0, 1]).toContain(r.code);
      if (!r.done) expect(r.code).toBe(1);
    }
    // encode, prefill and generate are long enough that the terminate always lands inside them.
    expect(runs.filter((r) => r.done && r.phase !== 'load')).toEqual([]);
    const fresh = await node(FRESH, pair);
    expect(fresh.code).toBe(0);
    expect(text.length).toBeGreaterThan(0);
    expect(text).toBe((JSON.parse(fresh.stdout) as { text: string }).text);
  }, 300_000);
});
