// bench:llm's node-llama-cpp anchor, run as a child (node-llama-cpp is ESM-only): prefill and
// greedy decode tokens/s on the same text GGUF, threads and token ids as ours; prints JSON.
//   node bench/node-llama-cpp-llm.mjs <node-llama-cpp folder> <model.gguf> <threads> <prompt> <gen> <reps> <vocab>
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, model, threads, prompt, gen, reps, vocab] = process.argv.slice(2);
const P = Number(prompt), G = Number(gen), R = Number(reps), V = Number(vocab);
const { getLlama } = await import(pathToFileURL(path.join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href);
const llama = await getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, progressLogs: false, logLevel: 'error' });
const lm = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const ctx = await lm.createContext({ contextSize: P + G + 64, batchSize: 512, threads: Number(threads) });
const seq = ctx.getSequence();

// The same prompt as bench/llm.ts's promptTokens().
const tokens = [];
let s = 777;
for (let i = 0; i < P; i++) {
  s = (Math.imul(s, 1103515245) + 12345) >>> 0;
  tokens.push(300 + (s % (V - 400)));
}

let pp = 0;
let tg = 0;
for (let r = 0; r <= R; r++) {
  await seq.clearHistory();
  let t = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(0, P - 1));
  const tp = performance.now() - t;
  t = performance.now();
  let n = 0;
  for await (const _ of seq.evaluate([tokens[P - 1]], { temperature: 0 })) {
    if (++n >= G) break;
  }
  const tt = performance.now() - t;
  if (r === 0) continue; // warm-up
  pp += (P - 1) / (tp / 1000) / R;
  tg += n / (tt / 1000) / R;
}
process.stdout.write(`${JSON.stringify({ pp, tg })}\n`);
await ctx.dispose();
await lm.dispose();
await llama.dispose();
