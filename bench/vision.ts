// npm run bench:vision — ms per tile of our InternViT encoder beside llama.cpp's own clip encoder
// (libmtmd from the same pinned source), on the same full-size synthetic mmproj, same threads.
//   node dist/bench/vision.js [--tiles 2] [--threads N] [--types f16,bf16,q8_0,q4_0] [--shape tiny]
import { VisionEncoder } from '../lib/vision/encoder';
import { defaultThreads } from '../lib/threads';
import { argValue, benchFile, machineLine, runJsonTool, table } from './common';

interface ClipBench {
  ms_per_tile: number;
  ms_total: number;
  variant: string;
}

function tiles(count: number, size: number): Float32Array {
  const t = new Float32Array(count * 3 * size * size);
  let s = 12345;
  for (let i = 0; i < t.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    t[i] = (s / 2 ** 32) * 4 - 2;
  }
  return t;
}

async function main(): Promise<void> {
  const n = Number(argValue('tiles', '2'));
  const threads = Number(argValue('threads', String(defaultThreads())));
  const types = argValue('types', 'f16,bf16,q8_0,q4_0').split(',');
  const rows = [['mmproj', 'tiles', 'threads', 'weights in', 'minimonkey ms/tile', 'llama.cpp ms/tile', 'speedup (llama.cpp / ours)']];
  let theirsVariant = '';
  for (const type of types) {
    const file = await benchFile('vision', type);
    const enc = await VisionEncoder.load(file, { threads });
    const size = enc.info.imageSize;
    const input = tiles(n, size);
    // Warm-up at the timed batch size: first touch of the weights and of the compute buffer
    // (llama.cpp's clip_init warms up too, and its 1-tile graphs then reuse one buffer).
    await enc.encode(input, n);
    const t0 = performance.now();
    await enc.encode(input, n);
    const ours = (performance.now() - t0) / n;
    const buffer = enc.info.weightBuffer;
    enc.dispose();
    const clip = runJsonTool<ClipBench>('mm-clip-bench', [file, String(n), String(threads)]);
    const theirs = clip.ms_per_tile;
    theirsVariant = clip.variant;
    rows.push([type, String(n), String(threads), buffer, ours.toFixed(0), theirs.toFixed(0), `${(theirs / ours).toFixed(2)}x`]);
    process.stderr.write(`${type}: ours ${ours.toFixed(0)} ms/tile, llama.cpp ${theirs.toFixed(0)} ms/tile\n`);
  }
  process.stdout.write(`${machineLine(theirsVariant)}${table(rows)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
