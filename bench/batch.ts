// Pages per minute of a batch on this machine with 1 and 2 local worker processes (threads split
// between them), on the tiny or the full-size synthetic pair. Each configuration runs the same
// document pages; the rate is counted from the first page handed out to the last result, so model
// loading (in parallel, once per worker) is reported apart.
//   npm run bench:batch -- --shape internvl2-2b --pages 2 --preset fast
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planBatch } from '../lib/batch/plan';
import { runPool } from '../lib/batch/pool';
import type { BatchTask } from '../lib/batch/task';
import { documentImage } from '../lib/demo/document-image';
import { machineCores } from '../lib/limits';
import { argValue, benchFile, cacheDir, table } from './common';

async function main(): Promise<void> {
  const shape = argValue('shape', 'internvl2-2b');
  const pages = Number(argValue('pages', '4'));
  const preset = argValue('preset', 'fast') as BatchTask['crop'];
  const workersList = argValue('workers', '1,2').split(',').map(Number);
  const threads = Number(argValue('threads', String(machineCores())));
  const model = await benchFile('text', shape === 'tiny' ? 'f32' : 'q8_0');
  const mmproj = await benchFile('vision', shape === 'tiny' ? 'f32' : 'f16');
  const dir = path.join(cacheDir, 'batch-pages');
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < pages; i++) {
    const f = path.join(dir, `page-${i}.png`);
    if (!fs.existsSync(f)) fs.writeFileSync(f, await documentImage({ width: 1240, height: 1754, seed: 100 + i }));
  }
  const files = Array.from({ length: pages }, (_, i) => path.join(dir, `page-${i}.png`));
  const task: BatchTask = { question: 'What is the total amount?', crop: preset, maxTokens: 8 };
  const { jobs } = await planBatch(files, task);
  const rows = [['workers', 'threads each', 'pages', 'load s', 'pages/min', 's/page']];
  for (const workers of workersList) {
    const each = Math.max(1, Math.floor(threads / workers));
    const t0 = Date.now();
    let firstStart = 0;
    let lastReady = 0;
    let done = 0;
    for await (const r of runPool(jobs, {
      workers, load: { model, mmproj, threads: each, contextSize: 4096 }, task,
      onEvent: (e) => {
        if (e.type === 'start' && !firstStart) firstStart = Date.now();
        if (e.type === 'ready') lastReady = Date.now();
      },
    })) {
      if (r.error) throw new Error(`${r.file}: ${r.error.message}`);
      done++;
    }
    const min = (Date.now() - firstStart) / 60000;
    rows.push([String(workers), String(each), String(done), ((lastReady - t0) / 1000).toFixed(1), (done / min).toFixed(2), ((min * 60) / done).toFixed(1)]);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`batch: ${shape} pair, preset ${preset}, 1240x1754 document pages, 8 tokens each; ${cpu}, ${machineCores()} logical CPUs\n${table(rows)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
