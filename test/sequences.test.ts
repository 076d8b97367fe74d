// Several conversations as sequences of one libllama context (load option `parallel`): on the
// tiny synthetic pair, a greedy ask on a sequence gives the token ids of the same ask on a
// session with a context of its own (the path chat.test.ts holds equal to libllama driven
// directly), alone and with 2 and 3 sessions generating at once (one with an image, one aborted
// mid-reply, one with a grammar or sampling of its own); their steps share llama_decode calls; a
// long image prefill lets another session's tokens through between its chunks; abort and
// dispose touch only their own sequence; context accounting is per sequence.
import { AbortError, ContextOverflowError, DisposedError, InvalidArgumentError, MiniMonkey, MiniMonkeyError } from '../lib';
import type { AskOptions, Content } from '../lib/llm/session';
import { LIMITS } from '../lib/limits';
import { defaultSequenceSize } from '../lib/model';
import { FAMILIES } from '../lib/family';
import { tinyPair } from './helpers/models';
import { noiseImage } from './helpers/noise-image';

let pair: { model: string; mmproj: string };
let lone: MiniMonkey; // today's path: a context per session
let shared: MiniMonkey; // parallel: 3

const BATCH = 64; // small prefill chunks, so one image is many of them
const load = (extra: object = {}) => MiniMonkey.load({ ...pair, threads: 2, contextSize: 2048, batchSize: BATCH, ...extra });

beforeAll(async () => {
  pair = await tinyPair('f32', 3);
  lone = await load();
  shared = await load({ parallel: 3 });
}, 300_000);

afterAll(() => {
  lone?.dispose();
  shared?.dispose();
});

const img = noiseImage(96, 64, 5);
const withImage: Content = [{ type: 'image', image: img }, 'What is the total amount?'];
const textQ = 'hello world, what is the date?';

/** The ask alone on a fresh session of the per-session model: tokens and context used after. */
async function alone(content: Content, o: AskOptions = {}): Promise<{ ids: number[]; used: number }> {
  const s = await lone.chat();
  try {
    const r = await s.ask(content, o);
    return { ids: r.tokenIds, used: s.contextUsed };
  } finally {
    s.dispose();
  }
}

describe('one sequence alone', () => {
  test('the same greedy tokens and context accounting as a session of its own, over two turns', async () => {
    const s = await shared.chat();
    expect(s.contextSize).toBe(2048);
    const r1 = await s.ask(withImage, { crop: 'fast', maxTokens: 12 });
    const r2 = await s.ask('And the date?', { maxTokens: 12 });
    const l = await lone.chat();
    const e1 = await l.ask(withImage, { crop: 'fast', maxTokens: 12 });
    const e2 = await l.ask('And the date?', { maxTokens: 12 });
    expect(r1.tokenIds.length).toBeGreaterThan(0);
    expect(r1.tokenIds).toEqual(e1.tokenIds);
    expect(r2.tokenIds).toEqual(e2.tokenIds);
    expect(r1.tokens).toEqual(e1.tokens);
    expect(s.contextUsed).toBe(l.contextUsed);
    await s.reset();
    expect(s.contextUsed).toBe(0);
    s.dispose();
    l.dispose();
  });
});

describe('sessions at once', () => {
  test('2 sessions generating together: each gets its lone tokens, in shared steps', async () => {
    const want = [await alone(textQ, { maxTokens: 20 }), await alone('Tell me about cats', { maxTokens: 20 })];
    const [a, b] = [await shared.chat(), await shared.chat()];
    const before = shared.sequences!;
    const got = await Promise.all([a.ask(textQ, { maxTokens: 20 }), b.ask('Tell me about cats', { maxTokens: 20 })]);
    const after = shared.sequences!;
    expect(got.map((g) => g.tokenIds)).toEqual(want.map((w) => w.ids));
    expect([a.contextUsed, b.contextUsed]).toEqual(want.map((w) => w.used));
    // Fewer llama_decode steps than tokens: they were batched.
    const steps = after.steps - before.steps;
    const tokens = after.stepTokens - before.stepTokens;
    expect(tokens).toBeGreaterThanOrEqual(got[0].tokenIds.length + got[1].tokenIds.length);
    expect(steps).toBeLessThan(tokens);
    a.dispose();
    b.dispose();
  });

  test('3 at once — an image, a text question, one aborted mid-reply — each as alone; the aborted one rolls back only itself', async () => {
    const wantImage = await alone(withImage, { crop: 'fast', maxTokens: 16 });
    const wantText = await alone(textQ, { maxTokens: 16 });
    const [a, b, c] = [await shared.chat(), await shared.chat(), await shared.chat()];
    await c.ask('first', { maxTokens: 4 });
    const used = c.contextUsed;
    const ac = new AbortController();
    let n = 0;
    const aborted = c.ask('second', { maxTokens: 400, signal: ac.signal, onToken: () => ++n === 3 && ac.abort() });
    const [ra, rb, rc] = await Promise.allSettled([a.ask(withImage, { crop: 'fast', maxTokens: 16 }), b.ask(textQ, { maxTokens: 16 }), aborted]);
    expect(rc.status).toBe('rejected');
    expect((rc as PromiseRejectedResult).reason).toBeInstanceOf(AbortError);
    expect(c.contextUsed).toBe(used);
    expect((ra as PromiseFulfilledResult<{ tokenIds: number[] }>).value.tokenIds).toEqual(wantImage.ids);
    expect((rb as PromiseFulfilledResult<{ tokenIds: number[] }>).value.tokenIds).toEqual(wantText.ids);
    expect([a.contextUsed, b.contextUsed]).toEqual([wantImage.used, wantText.used]);
    // The aborted conversation goes on as if the abort never happened.
    const l = await lone.chat();
    await l.ask('first', { maxTokens: 4 });
    const again = await c.ask('second', { maxTokens: 8 });
    expect(again.tokenIds).toEqual((await l.ask('second', { maxTokens: 8 })).tokenIds);
    l.dispose();
    for (const s of [a, b, c]) s.dispose();
  });

  test('each keeps its own sampling: a grammar, a seeded temperature and greedy with a penalty, together', async () => {
    const opts: AskOptions[] = [
      { json: { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] }, maxTokens: 24 },
      { temperature: 0.9, topK: 40, seed: 7, maxTokens: 16 },
      { repeatPenalty: 1.3, repeatLastN: 16, maxTokens: 16 },
    ];
    const want = [];
    for (const o of opts) want.push((await alone(textQ, o)).ids);
    const sessions = [await shared.chat(), await shared.chat(), await shared.chat()];
    const got = await Promise.all(sessions.map((s, i) => s.ask(textQ, opts[i])));
    expect(got.map((g) => g.tokenIds)).toEqual(want);
    for (const s of sessions) s.dispose();
  });

  test('an SCM ask (its pre-pass on the model queue) beside a plain one: both as alone, the follow-up too', async () => {
    const scmImage: Content = [{ type: 'image', image: noiseImage(500, 300, 8) }, 'What is the total amount?']; // 512 detail tokens
    const l = await lone.chat();
    const e1 = await l.ask(scmImage, { crop: 'fast', scm: true, maxTokens: 8 });
    const e2 = await l.ask('And the date?', { crop: 'fast', scm: true, maxTokens: 8 });
    l.dispose();
    const want = await alone(textQ, { maxTokens: 16 });
    const [a, b] = [await shared.chat(), await shared.chat()];
    const [r1, rb] = await Promise.all([a.ask(scmImage, { crop: 'fast', scm: true, maxTokens: 8 }), b.ask(textQ, { maxTokens: 16 })]);
    const r2 = await a.ask('And the date?', { crop: 'fast', scm: true, maxTokens: 8 });
    expect(r1.scm!.tokensAfter).toBeLessThan(r1.scm!.tokensBefore);
    expect([r1.tokenIds, r2.tokenIds, rb.tokenIds]).toEqual([e1.tokenIds, e2.tokenIds, want.ids]);
    expect(r2.scm!.tokensAfter).toBe(e2.scm!.tokensAfter);
    expect(a.contextUsed).toBe(r1.tokens.prompt + r1.tokenIds.length + r2.tokens.prompt + r2.tokenIds.length);
    a.dispose();
    b.dispose();
  });

  test("a long image prefill lets another session's tokens through between its chunks", async () => {
    const wantLong = await alone('Tell me a long story', { maxTokens: 60 });
    const wantImage = await alone(withImage, { crop: 'fast', maxTokens: 4 });
    const [gen, pre] = [await shared.chat(), await shared.chat()];
    const events: string[] = [];
    let started!: () => void;
    const first = new Promise<void>((r) => (started = r));
    const long = gen.ask('Tell me a long story', { maxTokens: 60, onToken: () => (events.push('token'), started()) });
    await first;
    const image = pre.ask(withImage, {
      crop: 'fast', maxTokens: 4,
      onProgress: (p) => p.phase === 'prefill' && events.push(`chunk ${p.done}/${p.total}`),
    });
    const [rl, ri] = await Promise.all([long, image]);
    expect(rl.tokenIds).toEqual(wantLong.ids);
    expect(ri.tokenIds).toEqual(wantImage.ids);
    const chunks = events.map((e, i) => (e.startsWith('chunk') ? i : -1)).filter((i) => i >= 0);
    expect(chunks.length).toBeGreaterThan(4); // the image is many chunks of 64
    // Between the first and the last chunk, the other session kept generating.
    const between = events.slice(chunks[0], chunks[chunks.length - 1]).filter((e) => e === 'token').length;
    // (steps and chunks take turns: one token between any two chunks while it still generates)
    expect(between).toBeGreaterThanOrEqual(Math.min(chunks.length - 1, rl.tokenIds.length) / 2);
    gen.dispose();
    pre.dispose();
  });
});

describe('sequences are taken and given back', () => {
  test('all taken: BUSY, or wait for the next one freed; a freed sequence is clean and answers the same', async () => {
    const one = await load({ parallel: 1 });
    try {
      const s1 = await one.chat();
      await s1.ask('Tell me a long story', { maxTokens: 30 });
      expect(s1.contextUsed).toBeGreaterThan(0);
      const busy = await one.chat().catch((e: unknown) => e);
      expect(busy).toBeInstanceOf(MiniMonkeyError);
      expect((busy as MiniMonkeyError).code).toBe('BUSY');
      const ac = new AbortController();
      const gaveUp = one.chat({ wait: true, signal: ac.signal });
      ac.abort();
      await expect(gaveUp).rejects.toBeInstanceOf(AbortError);
      await expect(one.chat({ wait: true, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
      const waiting = one.chat({ wait: true });
      expect(one.sequences!.waiting).toBe(1);
      s1.dispose();
      s1.dispose();
      const s2 = await waiting;
      expect(s2.contextUsed).toBe(0);
      const r = await s2.ask(textQ, { maxTokens: 16 });
      expect(r.tokenIds).toEqual((await alone(textQ, { maxTokens: 16 })).ids);
      s2.dispose();
      expect(one.sequences!.free).toBe(1);
    } finally {
      one.dispose();
    }
  });

  test('extract with a bad option fails at once when every sequence is taken: its options are settled before it waits for one', async () => {
    const held = [await shared.chat(), await shared.chat(), await shared.chat()];
    try {
      expect(shared.sequences!.free).toBe(0);
      const schema = { type: 'object', properties: { total: { type: 'number' } } } as const;
      const bad = [{ maxTokens: 0 }, { scm: { keep: 2 } }, { instructions: 7 as unknown as string }];
      for (const o of bad) {
        // Before, extract waited for a free sequence and only then checked its ask: this never settled.
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([
          shared.extract(img, schema, o).then(() => 'answered', (e: unknown) => e),
          new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting'), 2000))),
        ]);
        clearTimeout(timer);
        expect(r).toBeInstanceOf(InvalidArgumentError);
        expect(shared.sequences!.waiting).toBe(0);
      }
    } finally {
      for (const s of held) s.dispose();
    }
    expect(shared.sequences!.free).toBe(3);
  });

  test('a session disposed mid-reply: its ask rejects, the other goes on unchanged, its sequence is reused clean', async () => {
    const want = await alone(textQ, { maxTokens: 24 });
    const [a, b] = [await shared.chat(), await shared.chat()];
    let n = 0;
    const doomed = b.ask('Tell me a long story', { maxTokens: 200, onToken: () => ++n === 3 && b.dispose() });
    const [ra, rb] = await Promise.allSettled([a.ask(textQ, { maxTokens: 24 }), doomed]);
    expect((ra as PromiseFulfilledResult<{ tokenIds: number[] }>).value.tokenIds).toEqual(want.ids);
    expect(rb.status).toBe('rejected');
    expect((rb as PromiseRejectedResult).reason).toBeInstanceOf(DisposedError);
    await expect(b.ask('x')).rejects.toBeInstanceOf(DisposedError);
    const c = await shared.chat();
    expect(c.contextUsed).toBe(0);
    expect((await c.ask(textQ, { maxTokens: 24 })).tokenIds).toEqual(want.ids);
    a.dispose();
    c.dispose();
    expect(shared.sequences!.free).toBe(3);
  });

  test('model dispose while sessions generate: their asks reject, nothing crashes, dispose twice is safe', async () => {
    const m = await load({ parallel: 2 });
    const [a, b] = [await m.chat(), await m.chat()];
    let n = 0;
    const asks = [a.ask('Tell me a long story', { maxTokens: 300, onToken: () => ++n === 5 && m.dispose() }), b.ask(textQ, { maxTokens: 300 })];
    const res = await Promise.allSettled(asks);
    expect(res.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of res) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(DisposedError);
    m.dispose();
    await expect(m.chat()).rejects.toBeInstanceOf(DisposedError);
  });
});

describe('context accounting per sequence', () => {
  test('a smaller contextSize per chat: overflow before any work, contextFull at its end; larger than a sequence is refused', async () => {
    const s = await shared.chat({ contextSize: 128 });
    expect(s.contextSize).toBe(128);
    const err = await s.ask(withImage, { crop: 'fast' }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ContextOverflowError);
    expect((err as Error).message).toMatch(/needs \d+ tokens \(\d+ image \+ \d+ text\)/);
    expect(s.contextUsed).toBe(0);
    const r = await s.ask('go', { maxTokens: 500 });
    expect(r.finishReason).toBe('contextFull');
    expect(s.contextUsed).toBe(128);
    s.dispose();
    await expect(shared.chat({ contextSize: 4096 })).rejects.toThrow(/more than the 2048 tokens each sequence holds/);
  });

  test('parallel is checked against lib/limits.ts, and all sequences together against the largest context', async () => {
    await expect(load({ parallel: 0 })).rejects.toThrow(`parallel must be an integer from 1 to ${LIMITS.parallel.max} (got 0)`);
    await expect(load({ parallel: 1.5 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(load({ parallel: 64, contextSize: 4096 })).rejects.toThrow(/parallel 64 x 4096 tokens per sequence is over 131072/);
  });

  test('the default sequence size: the largest default-preset image + maxTokens + text room, up to the trained context', () => {
    expect(defaultSequenceSize(FAMILIES.internvl2, 32768)).toBe(8448); // 30 tiles x 256 + 512 + 256
    expect(defaultSequenceSize(FAMILIES.internvl2, 4096)).toBe(4096);
  });
});
