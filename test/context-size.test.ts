// The context sized from the turn's crop plan: with no contextSize, a chat starts at 8,192 tokens
// and grows to what a turn needs (prompt + maxTokens), up to the model's trained context, with the
// conversation so far refilled into the larger context. Proven on the tiny pair whose text model
// says it was trained on 32,768 tokens: `ask --preset ocr` (over 8,192 tokens) works without
// flags, and the grown conversation gives the same greedy tokens as one sized by hand.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ContextOverflowError, MiniMonkey } from '../lib';
import { documentImage } from '../lib/demo/document-image';
import { planCrops } from '../lib/msac/plan';
import { rewriteGguf, u32 } from './helpers/rewrite-gguf';
import { tempDir, tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
let pair: { model: string; mmproj: string };
let model32k: string;
let mm: MiniMonkey;
let image: string;
let ocrTokens: number;

beforeAll(async () => {
  pair = await tinyPair('f32', 8);
  const dir = fs.mkdtempSync(path.join(tempDir(), 'ctx-'));
  model32k = path.join(dir, 'tiny-32k.gguf');
  await rewriteGguf(pair.model, model32k, { kv: { 'internlm2.context_length': u32(32768) } });
  // The page size whose 'ocr' plan costs the most tokens among a few shapes (more than 8,192).
  const sizes: [number, number][] = [[1600, 1200], [1800, 1200], [2000, 1000], [1200, 1600], [2400, 1000]];
  const [w, h] = sizes.reduce((best, s) => (planCrops(s[0], s[1], 'ocr').imageTokens > planCrops(best[0], best[1], 'ocr').imageTokens ? s : best));
  ocrTokens = planCrops(w, h, 'ocr').imageTokens;
  image = path.join(dir, 'page.png');
  fs.writeFileSync(image, await documentImage({ width: w, height: h, seed: 5 }));
  mm = await MiniMonkey.load({ model: model32k, mmproj: pair.mmproj, threads: 2 });
});

afterAll(() => mm?.dispose());

const question = 'What does the page say?';

describe('context sized from the crop plan', () => {
  it("an 'ocr' image over 8,192 tokens fits a chat with no contextSize, with the tokens of a chat sized by hand", async () => {
    expect(ocrTokens).toBeGreaterThan(8192);
    const auto = await mm.chat();
    expect(auto.contextSize).toBe(8192);
    const r = await auto.ask([{ type: 'image', image }, question], { crop: 'ocr', maxTokens: 4 });
    expect(r.tokens.image).toBe(ocrTokens);
    expect(auto.contextSize).toBeGreaterThanOrEqual(r.tokens.prompt + 1 + 4);
    expect(auto.contextSize).toBeLessThanOrEqual(Math.ceil((r.tokens.prompt + 1 + 4) / 256) * 256 + 256);
    const fixed = await mm.chat({ contextSize: 16384 });
    const f = await fixed.ask([{ type: 'image', image }, question], { crop: 'ocr', maxTokens: 4 });
    expect(r.tokenIds).toEqual(f.tokenIds);
    expect(auto.contextUsed).toBe(fixed.contextUsed);
    auto.dispose();
    fixed.dispose();
  });

  it('a follow-up that needs more grows the context and refills the conversation: the same tokens as one context all along', async () => {
    const auto = await mm.chat();
    const fixed = await mm.chat({ contextSize: 16384 });
    const a1 = await auto.ask('Hello there', { maxTokens: 5 });
    const f1 = await fixed.ask('Hello there', { maxTokens: 5 });
    expect(a1.tokenIds).toEqual(f1.tokenIds);
    expect(auto.contextSize).toBe(8192);
    const a2 = await auto.ask([{ type: 'image', image }, question], { crop: 'ocr', maxTokens: 6 });
    const f2 = await fixed.ask([{ type: 'image', image }, question], { crop: 'ocr', maxTokens: 6 });
    expect(auto.contextSize).toBeGreaterThan(8192);
    expect(a2.tokenIds).toEqual(f2.tokenIds);
    expect(auto.contextUsed).toBe(fixed.contextUsed);
    // And the grown conversation goes on as one.
    const a3 = await auto.ask('And then?', { maxTokens: 5 });
    const f3 = await fixed.ask('And then?', { maxTokens: 5 });
    expect(a3.tokenIds).toEqual(f3.tokenIds);
    auto.dispose();
    fixed.dispose();
  });

  it('a contextSize given is kept (overflow as before); the trained context bounds the growth', async () => {
    const fixed = await mm.chat({ contextSize: 8192 });
    await expect(fixed.ask([{ type: 'image', image }, question], { crop: 'ocr', maxTokens: 4 })).rejects.toThrow(ContextOverflowError);
    expect(fixed.contextSize).toBe(8192);
    fixed.dispose();
    // Four such images need more than the 32,768 the model was trained on.
    const auto = await mm.chat();
    const img = { type: 'image' as const, image, crop: 'ocr' as const };
    const e = await auto.ask([img, img, img, img, question], { maxTokens: 4 }).then(() => undefined, (x: unknown) => x as Error);
    expect(e).toBeInstanceOf(ContextOverflowError);
    expect(e!.message).toMatch(/but this conversation can hold at most 32768 \(the model's trained context\)\. To make it fit: /);
    expect(auto.contextSize).toBe(8192); // nothing was allocated for a turn that cannot fit
    expect(auto.contextUsed).toBe(0);
    auto.dispose();
  });

  it('`minimonkey ask --preset ocr` works with no --context', () => {
    const r = spawnSync(process.execPath, [cli, 'ask', image, question, '--model', model32k, '--mmproj', pair.mmproj, '--threads', '2', '--preset', 'ocr', '-n', '3', '--json'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).tokens.image).toBe(ocrTokens);
  });
});
