// Child of test/gpu-vulkan.test.ts: runs the vision tower, SCM's pre-pass, the language model's
// logits and a greedy chat on one device, in a process of its own (ggml enumerates devices once per
// process, from the environment it starts with), and writes what they computed to a JSON file.
//   node device-child.mjs <device> <model.gguf> <mmproj.gguf> <out.json> [abort]
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [device, model, mmproj, out, mode] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const dist = (p) => require(path.join(root, 'dist', 'lib', p));
const { runtimeInfo } = dist('runtime.js');
const { VisionEncoder } = dist('vision/encoder.js');
const { TextModel } = dist('llm/text-model.js');
const { ScmPrepass } = dist('llm/scm-prepass.js');
const { MiniMonkey } = dist('model.js');

// Deterministic inputs, the same in every child.
function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}
function noiseImage(w, h, seed) {
  const data = new Uint8Array(w * h * 3);
  const r = lcg(seed);
  for (let i = 0; i < data.length; i++) data[i] = ((i % (w * 3)) * 5 + Math.floor((r() + 1) * 40)) & 255;
  return { data, width: w, height: h, channels: 3 };
}
const list = (a) => Array.from(a, (v) => Math.fround(v));

const info = runtimeInfo();
const result = { device, runtime: info.devices, modules: info.backendModules };
const enc = await VisionEncoder.load(mmproj, { threads: 2, device });
const tiles = new Float32Array(2 * enc.floatsPerTile);
const r = lcg(7);
for (let i = 0; i < tiles.length; i++) tiles[i] = r() * 2;
result.vision = { device: enc.info.device, note: enc.info.deviceNote, weightBuffer: enc.info.weightBuffer, out: list(await enc.encode(tiles, 2)) };
// A larger batch after a smaller one (compute memory grows): the same two tiles first, two more after.
const four = new Float32Array(4 * enc.floatsPerTile);
four.set(tiles);
four.set(tiles.subarray(0, enc.floatsPerTile), 2 * enc.floatsPerTile);
four.set(tiles.subarray(enc.floatsPerTile), 3 * enc.floatsPerTile);
result.vision.computeBytes = await enc.computeBytes(4);  // measured on a probe: the next encode still runs clean
const grown = await enc.encode(four, 4);
result.vision.grown = list(grown.subarray(0, result.vision.out.length));
if (mode === 'abort') {
  // One graph of 48 tiles: on a GPU only the scheduler's sync points between node groups can stop it.
  const many = new Float32Array(48 * enc.floatsPerTile).map((_, i) => Math.sin(i));
  let t0 = Date.now();
  await enc.encode(many, 48);
  const whole = Date.now() - t0;
  const ac = new AbortController();
  t0 = Date.now();
  setTimeout(() => ac.abort(), Math.max(1, Math.floor(whole / 10)));
  try {
    await enc.encode(many, 48, { signal: ac.signal });
    result.abortVision = { code: 'none', whole, ms: Date.now() - t0 };
  } catch (e) {
    result.abortVision = { code: e.code, whole, ms: Date.now() - t0 };
  }
}
enc.dispose();

const text = await TextModel.load(model, { device });
const width = text.info.embeddingWidth;
const prefix = text.tokenize('system\nRead the document.', { addBos: true });
const rows = new Float32Array(300 * width);
const r2 = lcg(11);
for (let i = 0; i < rows.length; i++) rows[i] = r2() * 0.5;
const parts = [prefix, rows, text.tokenize('What is the total on the invoice?')];
const pre = await ScmPrepass.create(text, { threads: 2 });
if (mode === 'abort') {
  // One row per graph: hundreds of computes, stopped by the signal partway.
  const ac = new AbortController();
  const t0 = Date.now();
  const run = pre.run(parts, [{ start: prefix.length, length: 200 }], { chunk: 1, signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  try {
    await run;
    result.abort = { code: 'none', ms: Date.now() - t0 };
  } catch (e) {
    result.abort = { code: e.code, ms: Date.now() - t0 };
  }
} else {
  // A shorter prompt first: the second run needs more memory than the first.
  await pre.run([prefix, rows.subarray(0, 100 * width), parts[2]], [{ start: prefix.length, length: 50 }]);
  const s = await pre.run(parts, [{ start: prefix.length, length: 200 }], { layer0: true });
  result.scm = { kept: Array.from(s.kept[0]), scores: list(s.scores[0]), layer0: list(s.layer0.subarray(0, 64 * width)) };
  result.text = { device: text.info.device, note: text.info.deviceNote, gpuLayers: text.info.gpuLayers, logits: list(await text.logits(parts, { threads: 2 })) };
}
pre.dispose();
text.dispose();

if (mode !== 'abort') {
  const m = await MiniMonkey.load({ model, mmproj, device, threads: 2, contextSize: 4096 });
  const chat = await m.chat();
  const reply = await chat.ask([{ type: 'image', image: noiseImage(120, 80, 5) }, 'What is the total?'], { crop: 'fast', maxTokens: 12 });
  result.chat = { device: m.device, tokenIds: reply.tokenIds };
  chat.dispose();
  m.dispose();
}
fs.writeFileSync(out, JSON.stringify(result));
