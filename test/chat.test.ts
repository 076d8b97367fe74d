// Chat on the tiny synthetic pair: the prompt is byte-exact to the reference's, greedy replies
// equal those of a harness that drives libllama directly (native/tools/llm_reference.cpp), a
// follow-up turn equals one prefill of the whole history, and abort, overflow, cache, streaming
// and disposal behave.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AbortError, ContextOverflowError, DisposedError, InvalidArgumentError, MiniMonkey } from '../lib';
import { DEFAULT_SYSTEM_MESSAGE, renderPrompt, systemBlock, userTurn } from '../lib/llm/prompt';
import { StopStringMatcher } from '../lib/llm/stop-strings';
import { tempDir, tinyPair } from './helpers/models';
import { noiseImage } from './helpers/noise-image';

const root = path.join(__dirname, '..');
const harness = path.join(root, 'build', 'tools', 'bin', 'mm-llm-reference');

// The reference's string, written out here independently of lib/llm/prompt (facts §3.4).
const SYS = DEFAULT_SYSTEM_MESSAGE;
const firstTurn = (q: string, imageTokens: number) =>
  `<|im_start|>system\n${SYS}<|im_end|><|im_start|>user\n` +
  (imageTokens > 0 ? `<img>${'<IMG_CONTEXT>'.repeat(imageTokens)}</img>\n` : '') +
  `${q}<|im_end|><|im_start|>assistant\n`;

const image = noiseImage;

function runHarness(model: string, prompt: string, embeddings: Float32Array | null, maxNew: number): number[] {
  const dir = fs.mkdtempSync(path.join(tempDir(), 'harness-'));
  fs.writeFileSync(path.join(dir, 'prompt.txt'), prompt);
  let embFile = '-';
  if (embeddings) {
    embFile = path.join(dir, 'emb.f32');
    fs.writeFileSync(embFile, Buffer.from(embeddings.buffer, embeddings.byteOffset, embeddings.byteLength));
  }
  const out = execFileSync(harness, [model, path.join(dir, 'prompt.txt'), embFile, String(maxNew), '2'], { encoding: 'utf8' });
  return out.trim() === '' ? [] : out.trim().split(' ').map(Number);
}

let pair: { model: string; mmproj: string };
let mm: MiniMonkey;

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-tools.mjs'), 'mm-llm-reference'], { cwd: root, stdio: 'ignore' });
  pair = await tinyPair('f32', 3);
  mm = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 2, contextSize: 4096 });
}, 900_000);

afterAll(() => mm?.dispose());

describe('prompt assembly', () => {
  test('the system message is the reference bytes', () => {
    expect(Buffer.byteLength(DEFAULT_SYSTEM_MESSAGE, 'utf8')).toBe(157);
    expect(DEFAULT_SYSTEM_MESSAGE).toContain('InternVL, 是');
  });

  test('first turn with an image equals the reference string byte for byte', () => {
    const pieces = [...systemBlock(SYS), ...userTurn([{ imageTokens: 512 }, { text: 'What is in the table?' }], false)];
    expect(renderPrompt(pieces)).toBe(firstTurn('What is in the table?', 512));
  });

  test('a follow-up turn closes the previous reply with no newline', () => {
    expect(renderPrompt(userTurn([{ text: 'And the total?' }], true))).toBe(
      '<|im_end|><|im_start|>user\nAnd the total?<|im_end|><|im_start|>assistant\n',
    );
  });
});

describe('generation equals libllama driven directly', () => {
  test('image + question, greedy', async () => {
    const img = image(96, 64, 5);
    const chat = await mm.chat();
    const question = 'What is the total amount?';
    const res = await chat.ask([{ type: 'image', image: img }, question], { crop: 'fast', maxTokens: 24 });
    expect(res.tokens.image).toBe(res.images[0].imageTokens);
    const enc = await mm.encodeImage(img, { crop: 'fast' });
    const expected = runHarness(pair.model, firstTurn(question, enc.plan.imageTokens), enc.embeddings, 24);
    expect(res.tokenIds.length).toBeGreaterThan(0);
    expect(res.tokenIds).toEqual(expected);
    expect(res.tokens.generated).toBe(res.tokenIds.length);
    chat.dispose();
  });

  test('text only, with user text that spells a special token kept as plain text', async () => {
    const chat = await mm.chat();
    const res = await chat.ask('hello world, what is the date?', { maxTokens: 16 });
    expect(res.tokenIds).toEqual(runHarness(pair.model, firstTurn('hello world, what is the date?', 0), null, 16));
    // `<|im_end|>` typed by a user is text, not the control token: the prompt grows by its pieces.
    const a = mm.text.tokenize('say <|im_end|> now');
    expect(Array.from(a)).not.toContain(mm.text.info.special.imEnd);
    chat.dispose();
  });

  test('a follow-up turn equals one prefill of the whole history', async () => {
    const img = image(80, 120, 9);
    const chat = await mm.chat();
    const q1 = 'Read the title.';
    const q2 = 'And the date?';
    const r1 = await chat.ask([{ type: 'image', image: img }, q1], { crop: 'fast', maxTokens: 10 });
    const used = chat.contextUsed;
    const r2 = await chat.ask(q2, { maxTokens: 10 });
    expect(r2.tokens.image).toBe(0);
    expect(chat.contextUsed).toBeGreaterThan(used);

    // The whole history in one prefill: reference strings tokenized whole (special tokens parsed),
    // the image rows, and the first reply's own token ids.
    const enc = await mm.encodeImage(img, { crop: 'fast' });
    const t = mm.text;
    const [before, after] = firstTurn(q1, 1).split('<IMG_CONTEXT>');
    const ctx = await t.createContext({ contextSize: 2048, threads: 2 });
    await ctx.prefill([
      t.tokenize(before, { addBos: true, special: true }),
      enc.embeddings,
      t.tokenize(after, { special: true }),
      Int32Array.from(r1.tokenIds),
      t.tokenize(`<|im_end|><|im_start|>user\n${q2}<|im_end|><|im_start|>assistant\n`, { special: true }),
    ]);
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      const s = await ctx.step();
      if (s.eog) break;
      ids.push(s.token);
    }
    ctx.dispose();
    expect(r2.tokenIds).toEqual(ids);
    chat.dispose();
  });
});

describe('streaming, cache, stop strings', () => {
  test('pieces join to the text, which is the UTF-8 of the generated tokens', async () => {
    const chat = await mm.chat();
    const onToken: string[] = [];
    const reply = chat.ask('write something', { maxTokens: 40, temperature: 1.5, seed: 11, onToken: (p) => onToken.push(p) });
    const pieces: string[] = [];
    for await (const p of reply) pieces.push(p);
    const res = await reply;
    expect(pieces.join('')).toBe(res.text);
    expect(onToken.join('')).toBe(res.text);
    const bytes = Buffer.concat(res.tokenIds.map((id) => Buffer.from(mm.text.tokenBytes(id))));
    expect(res.text).toBe(new TextDecoder().decode(bytes));
    chat.dispose();
  });

  test('the same seed gives the same sampled reply; another seed another', async () => {
    const chat = await mm.chat();
    const a = await chat.ask('tell me', { maxTokens: 12, temperature: 1, seed: 3 });
    await chat.reset();
    const b = await chat.ask('tell me', { maxTokens: 12, temperature: 1, seed: 3 });
    await chat.reset();
    const c = await chat.ask('tell me', { maxTokens: 12, temperature: 1, seed: 4 });
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
    chat.dispose();
  });

  test('a second question about the same image skips the vision tower', async () => {
    const img = image(50, 70, 21);
    const chat = await mm.chat({ contextSize: 8192 });
    const r1 = await chat.ask([{ type: 'image', image: img }, 'one'], { crop: 'fast', maxTokens: 2 });
    const r2 = await chat.ask([{ type: 'image', image: img }, 'two'], { crop: 'fast', maxTokens: 2 });
    const r3 = await chat.ask([{ type: 'image', image: img }, 'three'], { crop: { detail: { min: 1, max: 2 }, adaptive: { min: 1, max: 2 } }, maxTokens: 2 });
    expect(r1.imageCacheHits).toBe(0);
    expect(r2.imageCacheHits).toBe(1);
    expect(r3.imageCacheHits).toBe(0); // other crop options, other tiles
    chat.dispose();
  });

  test('explicit crop layers take the vision tower\'s tokens per tile, in the prompt as in the tiles (one plan per image)', async () => {
    const img = image(60, 44, 9);
    const layers = { detail: { min: 1, max: 2 }, adaptive: { min: 1, max: 2 } };
    const tower = mm.vision.info.tokensPerTile;
    const chat = await mm.chat({ contextSize: 8192 });
    const right = await chat.ask([{ type: 'image', image: img }, 'one'], { crop: layers, maxTokens: 4 });
    await chat.reset();
    // A tokensPerTile the tower does not make: the prompt is still sized by what the tower makes.
    const wrong = await chat.ask([{ type: 'image', image: img }, 'one'], { crop: { ...layers, tokensPerTile: tower + 7 }, maxTokens: 4 });
    expect(right.tokens.image % tower).toBe(0);
    expect(wrong.tokens.image).toBe(right.tokens.image);
    expect(wrong.tokenIds).toEqual(right.tokenIds);
    chat.dispose();
  });

  test('a stop string ends the reply before it, even split across tokens', async () => {
    const chat = await mm.chat();
    const full = await chat.ask('list', { maxTokens: 30 });
    await chat.reset();
    const stop = full.text.slice(6, 9);
    expect(stop.length).toBe(3);
    const res = await chat.ask('list', { maxTokens: 30, stop: [stop] });
    expect(res.finishReason).toBe('stopString');
    expect(res.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    chat.dispose();
  });

  test('StopStringMatcher holds back a possible start of a stop string', () => {
    const m = new StopStringMatcher(['END']);
    expect(m.push('abc E')).toEqual({ text: 'abc ', stopped: false });
    expect(m.push('N')).toEqual({ text: '', stopped: false });
    expect(m.push('X')).toEqual({ text: 'ENX', stopped: false });
    expect(m.push('xxEN')).toEqual({ text: 'xx', stopped: false });
    expect(m.push('Dmore')).toEqual({ text: '', stopped: true });
    expect(new StopStringMatcher([]).push('E')).toEqual({ text: 'E', stopped: false });
  });
});

describe('abort, overflow, disposal, bad options', () => {
  test('abort during generation rejects, rolls the turn back, and the session goes on', async () => {
    const chat = await mm.chat();
    await chat.ask('first', { maxTokens: 4 });
    const used = chat.contextUsed;
    const ac = new AbortController();
    let n = 0;
    const reply = chat.ask('second', { maxTokens: 400, signal: ac.signal, onToken: () => ++n === 3 && ac.abort() });
    await expect(reply).rejects.toBeInstanceOf(AbortError);
    expect(chat.contextUsed).toBe(used);
    const again = await chat.ask('second', { maxTokens: 4 });
    expect(again.tokens.generated).toBeGreaterThan(0);
    chat.dispose();
  });

  test('an already aborted signal does no work', async () => {
    const chat = await mm.chat();
    await expect(chat.ask('x', { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(chat.contextUsed).toBe(0);
    chat.dispose();
  });

  test('context overflow is reported before any work, with the numbers', async () => {
    const chat = await mm.chat({ contextSize: 512 });
    const err = await chat.ask([{ type: 'image', image: image(40, 40, 1) }, 'q'], { crop: 'fast' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ContextOverflowError);
    expect((err as Error).message).toMatch(/needs \d+ tokens \(\d+ image \+ \d+ text\)/);
    expect(chat.contextUsed).toBe(0);
    chat.dispose();
  });

  test('generation stops when the context is full', async () => {
    const chat = await mm.chat({ contextSize: 128 });
    const res = await chat.ask('go', { maxTokens: 500 });
    expect(res.finishReason).toBe('contextFull');
    // libllama rounds the context up to its padding (256).
    expect(chat.contextSize).toBeGreaterThanOrEqual(128);
    expect(chat.contextUsed).toBe(chat.contextSize);
    chat.dispose();
  });

  test('bad options and content are typed errors', async () => {
    const chat = await mm.chat();
    await expect(chat.ask('x', { maxTokens: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(chat.ask('x', { temperature: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(chat.ask('x', { topP: 2 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(chat.ask([{ type: 'nope' } as never])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(chat.ask('x', { scm: { keep: 0 } })).rejects.toBeInstanceOf(InvalidArgumentError);
    chat.dispose();
  });

  test('the event loop keeps running during a reply', async () => {
    const chat = await mm.chat();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const res = await chat.ask([{ type: 'image', image: image(300, 200, 2) }, 'q'], { crop: 'fast', maxTokens: 30 });
    clearInterval(timer);
    expect(res.tokens.generated).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(5);
    chat.dispose();
  });

  test('asks on one model queue; dispose twice is safe; use after dispose is a typed error', async () => {
    const m2 = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 1, contextSize: 1024 });
    const [a, b] = [await m2.chat(), await m2.chat()];
    const [ra, rb] = await Promise.all([a.ask('one', { maxTokens: 5 }), b.ask('one', { maxTokens: 5 })]);
    expect(rb.tokenIds).toEqual(ra.tokenIds);
    m2.dispose();
    m2.dispose();
    expect(a.disposed).toBe(true);
    await expect(a.ask('x')).rejects.toBeInstanceOf(DisposedError);
    await expect(m2.chat()).rejects.toBeInstanceOf(DisposedError);
  });
});
