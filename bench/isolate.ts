// What `isolate: 'process'` costs: the load, and a short ask (text only, and with one page image)
// in one process vs with the model in a child process, on the tiny or the full-size synthetic
// pair. Medians of --reps asks on one conversation reset between asks, after one warm-up ask.
//   npm run bench:isolate -- --shape tiny --reps 20
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { documentImage } from '../lib/demo/document-image';
import { machineCores } from '../lib/limits';
import { MiniMonkey } from '../lib/model';
import { argValue, benchFile, table } from './common';

type Content = Parameters<Awaited<ReturnType<MiniMonkey['chat']>>['ask']>[0];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const shape = argValue('shape', 'internvl2-2b');
  const reps = Number(argValue('reps', '10'));
  const gen = Number(argValue('gen', '8'));
  const threads = Number(argValue('threads', String(machineCores())));
  const model = await benchFile('text', shape === 'tiny' ? 'f32' : 'q8_0');
  const mmproj = await benchFile('vision', shape === 'tiny' ? 'f32' : 'f16');
  const page = await documentImage({ width: 1240, height: 1754, seed: 100 });
  const asks: [string, Content][] = [
    ['text ask', 'What is the total amount?'],
    ['image ask (fast)', [{ type: 'image', image: page }, 'What is the total amount?']],
  ];
  const rows = [['', 'in-process ms', 'isolated ms', 'cost ms']];
  const figures: Record<string, number[]> = {};
  for (const isolate of [false, true]) {
    const t0 = performance.now();
    const m = await MiniMonkey.load({ model, mmproj, threads, contextSize: 4096, ...(isolate ? { isolate: 'process' as const } : {}) });
    (figures.load ??= []).push(performance.now() - t0);
    try {
      const session = await m.chat();
      for (const [name, content] of asks) {
        const times: number[] = [];
        for (let i = 0; i <= reps; i++) {
          await session.reset();
          const t = performance.now();
          // The image's embeddings are cached after the first ask in both cases: what is timed is the turn.
          await session.ask(content, { crop: 'fast', maxTokens: gen });
          if (i > 0) times.push(performance.now() - t);
        }
        (figures[name] ??= []).push(median(times));
      }
    } finally {
      m.dispose();
    }
  }
  for (const [name, [local, isolated]] of Object.entries(figures)) {
    rows.push([name === 'load' ? 'load' : `${name}, ${gen} tokens`, local.toFixed(1), isolated.toFixed(1), (isolated - local).toFixed(1)]);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`isolate: ${shape} pair, medians of ${reps} asks after a warm-up; ${cpu}, ${threads} threads\n${table(rows)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
