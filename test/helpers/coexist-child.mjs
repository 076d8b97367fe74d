// Child of test/coexist.test.ts: loads minimonkey and node-llama-cpp into ONE process, in the order
// given, then makes each generate greedily, interleaved, and prints both replies as JSON.
//   node coexist-child.mjs <order: mm,nlc | nlc,mm | mm | nlc> <model.gguf> <mmproj.gguf> <node-llama-cpp folder>
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [order, model, mmproj, nlcDir] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

function noise(w, h, seed) {
  const data = new Uint8Array(w * h * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = ((i % (w * 3)) * 7 + (s >>> 24)) & 255;
  }
  return { data, width: w, height: h, channels: 3 };
}

const loaders = {
  // minimonkey's addon and its mm-* libraries are mapped, and its CPU variant loaded, by the first load.
  async mm() {
    const { MiniMonkey, runtimeInfo } = require(path.join(root, 'dist', 'lib', 'index.js'));
    const m = await MiniMonkey.load({ model, mmproj, threads: 2, contextSize: 2048 });
    return {
      variant: runtimeInfo().cpu.variant,
      async generate() {
        const chat = await m.chat();
        const r = await chat.ask([{ type: 'image', image: noise(96, 64, 5) }, 'What is the total?'], { crop: 'fast', maxTokens: 16 });
        chat.dispose();
        return r.tokenIds.join(',');
      },
      dispose: () => m.dispose(),
    };
  },
  // node-llama-cpp's own prebuilt binaries (libggml-base.so, libllama.v0.5.0.so, its CPU variants).
  async nlc() {
    const { getLlama, LlamaCompletion } = await import(pathToFileURL(path.join(nlcDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href);
    const llama = await getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, progressLogs: false, logLevel: 'error' });
    const lm = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
    const ctx = await lm.createContext({ contextSize: 512, threads: 2 });
    return {
      async generate() {
        const seq = ctx.getSequence();
        const completion = new LlamaCompletion({ contextSequence: seq });
        const text = await completion.generateCompletion('hello world, what is the date?', { maxTokens: 16, temperature: 0 });
        seq.dispose();
        return text;
      },
      dispose: async () => {
        await ctx.dispose();
        await lm.dispose();
        await llama.dispose();
      },
    };
  },
};

const names = order.split(',');
const loaded = {};
for (const n of names) loaded[n] = await loaders[n]();
const out = { order: names };
// Twice, interleaved: each library computes while the other is loaded and has computed.
for (let round = 0; round < 2; round++) {
  for (const n of names) out[`${n}${round}`] = await loaded[n].generate();
}
if (loaded.mm) out.variant = loaded.mm.variant;
for (const n of names) await loaded[n].dispose();
process.stdout.write(`${JSON.stringify(out)}\n`);
