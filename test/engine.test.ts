// One conversation engine: every chat session runs on a sequence of the one native context type.
// A lone chat's context holds one sequence, so its whole prompt goes to native in one call (the
// chunks are cut in C++); with `parallel` the batcher hands native one chunk at a time. Either way
// an abort in the middle of a prompt rolls the turn back to where it began, with nothing of it left
// in the KV cells: the next turn answers as it would had the aborted one never been asked. On the
// tiny synthetic pair, with prefill chunks of 8 positions so that a prompt is a couple of hundred.
import { AbortError, MiniMonkey } from '../lib';
import type { ChatSession } from '../lib/llm/session';
import { tinyPair } from './helpers/models';

let lone: MiniMonkey;
let shared: MiniMonkey;

beforeAll(async () => {
  const pair = await tinyPair('f32', 3);
  const load = (extra: object) => MiniMonkey.load({ ...pair, threads: 1, contextSize: 4096, batchSize: 8, ...extra });
  lone = await load({});
  shared = await load({ parallel: 2 });
}, 300_000);

afterAll(() => {
  lone?.dispose();
  shared?.dispose();
});

const LONG = 'the quick brown fox jumps over the lazy dog. '.repeat(40); // about 1,500 tokens: 190 chunks

/** The generated ids of 'second' after 'first', on a fresh session of `model`. */
async function reference(model: MiniMonkey): Promise<number[]> {
  const chat = await model.chat();
  try {
    await chat.ask('first', { maxTokens: 4 });
    return (await chat.ask('second', { maxTokens: 6 })).tokenIds;
  } finally {
    chat.dispose();
  }
}

/** Asks LONG and aborts it at its first prefill progress: the prefill positions seen by then, and how far it got. */
async function abortMidPrefill(chat: ChatSession): Promise<{ error: unknown; done: number; total: number }> {
  const ac = new AbortController();
  let done = -1;
  let total = 0;
  const error = await chat
    .ask(LONG, {
      maxTokens: 4,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.phase !== 'prefill' || done >= 0) return;
        done = p.done;
        total = p.total;
        ac.abort();
      },
    })
    .then(() => null, (e: unknown) => e);
  return { error, done, total };
}

describe.each([
  ['a lone chat (one-sequence context, chunks cut natively)', () => lone],
  ['a sequence of a shared context (chunks cut by the batcher)', () => shared],
])('%s', (_name, model) => {
  test('an abort mid-prefill rolls the turn back and the next turn answers as if it had never been asked', async () => {
    const want = await reference(model());
    const chat = await model().chat();
    await chat.ask('first', { maxTokens: 4 });
    const used = chat.contextUsed;
    const r = await abortMidPrefill(chat);
    expect(r.error).toBeInstanceOf(AbortError);
    // It stopped inside the prompt: progress came for the first chunk of many.
    expect(r.done).toBeGreaterThan(0);
    expect(r.done).toBeLessThan(r.total);
    expect(r.total).toBeGreaterThan(100);
    expect(chat.contextUsed).toBe(used);
    expect((await chat.ask('second', { maxTokens: 6 })).tokenIds).toEqual(want);
    chat.dispose();
    chat.dispose();
  });
});

test('a lone chat and a shared sequence answer a many-chunk prompt alike', async () => {
  const ask = async (model: MiniMonkey) => {
    const chat = await model.chat();
    try {
      return (await chat.ask(LONG, { maxTokens: 8 })).tokenIds;
    } finally {
      chat.dispose();
    }
  };
  expect(await ask(shared)).toEqual(await ask(lone));
});
