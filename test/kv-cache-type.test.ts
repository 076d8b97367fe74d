// kvCacheType: the text model's KV cells in q8_0 instead of f16, on the tiny synthetic pair with
// its text model's attention read as 2 heads of 32 (q8_0 blocks are 32 values: libllama refuses a
// q8_0 cache for the tiny shape's heads of 16, as a typed error; InternLM2's are 128). The
// cells really are smaller (a saved sequence state holds them as libllama keeps them: q8_0 is 34
// bytes per 32 values, f16 64), a chat answers on them, and a bad type is refused at every edge
// (API, CLI, the addon's own re-check) before libllama sees it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, MiniMonkey } from '../lib';
import { TextModel } from '../lib/llm/text-model';
import { native } from '../lib/native';
import { tempDir, tinyPair } from './helpers/models';
import { rewriteGguf, u32 } from './helpers/rewrite-gguf';
import { noiseImage } from './helpers/noise-image';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
let pair: { model: string; mmproj: string };
let text: TextModel;

beforeAll(async () => {
  const tiny = await tinyPair('f32', 6);
  // The same weights as 2 query heads of 32 sharing 1 KV head of 32 (64 = 2 x 32; K and V 32 wide).
  const model = path.join(fs.mkdtempSync(path.join(tempDir(), 'kv-type-')), 'tiny-heads32.gguf');
  await rewriteGguf(tiny.model, model, { kv: { 'internlm2.attention.head_count': u32(2), 'internlm2.attention.head_count_kv': u32(1) } });
  pair = { model, mmproj: tiny.mmproj };
  text = await TextModel.load(pair.model);
}, 300_000);

afterAll(() => text?.dispose());

/** Bytes of the saved KV state of the same 200-token prompt in a context of this type. */
async function stateBytes(kvCacheType: 'f16' | 'q8_0'): Promise<number> {
  const ctx = await text.createContext({ contextSize: 512, threads: 2, kvCacheType });
  try {
    const ids = Int32Array.from({ length: 200 }, (_, i) => 10 + ((i * 7) % 50));
    await ctx.prefill([ids]);
    return (await ctx.saveState()).length;
  } finally {
    ctx.dispose();
  }
}

test('q8_0 cells take about 34/64 of the f16 cells\' bytes', async () => {
  const f16 = await stateBytes('f16');
  const q8 = await stateBytes('q8_0');
  expect(q8 / f16).toBeGreaterThan(0.45);
  expect(q8 / f16).toBeLessThan(0.6);
});

test('a chat answers on q8_0 cells, image and follow-up', async () => {
  const mm = await MiniMonkey.load({ ...pair, threads: 2, kvCacheType: 'q8_0' });
  try {
    const chat = await mm.chat();
    const first = await chat.ask([{ type: 'image', image: noiseImage(80, 60, 2) }, 'What is here?'], { crop: 'fast', maxTokens: 6 });
    expect(first.tokens.generated).toBeGreaterThan(0);
    const next = await chat.ask('And then?', { maxTokens: 4 });
    expect(next.tokens.generated).toBeGreaterThan(0);
  } finally {
    mm.dispose();
  }
});

test('where libllama cannot keep q8_0 cells (heads of 16), the chat fails as a typed error, not the process', async () => {
  const tiny = await TextModel.load((await tinyPair('f32', 6)).model);
  try {
    await expect(tiny.createContext({ contextSize: 512, kvCacheType: 'q8_0' })).rejects.toThrow(/does not divide n_embd_head_k=16/);
    const f16 = await tiny.createContext({ contextSize: 512 });
    expect(f16.position()).toBe(0);
    f16.dispose();
  } finally {
    tiny.dispose();
  }
});

test('a type that is not f16 or q8_0 is refused at the API, the CLI and the addon', async () => {
  await expect(MiniMonkey.load({ ...pair, kvCacheType: 'q4_0' as never })).rejects.toThrow(InvalidArgumentError);
  await expect(text.createContext({ contextSize: 512, kvCacheType: 'f32' as never })).rejects.toThrow(/kvCacheType must be one of f16, q8_0/);
  const r = spawnSync(process.execPath, [cli, 'ask', '-m', pair.model, '--mmproj', pair.mmproj, '--kv-cache-type', 'q4', 'hi'], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('--kv-cache-type: kvCacheType must be one of f16, q8_0');
  // The addon's own re-check, for a caller that skips the edge.
  await expect(Promise.resolve().then(() => native().createSequenceContext(text.live(), 512, 1, 64, 2, 'q4' as never))).rejects.toThrow(/kvCacheType must be 'f16' or 'q8_0'/);
});
