// One sequence's KV cells saved and restored (native/core/sequence_state.cpp), on the tiny
// synthetic text model: a restored prefix continues exactly as the computed one (the same next
// logits, bit for bit, after the same suffix), across a one-sequence context and a shared one; bytes that are not
// a whole state of this model (truncated, flipped header, another model's, a foreign buffer) are
// a typed INVALID_ARGUMENT error and leave the context empty and usable, never an abort.
import { native } from '../lib/native';
import { TextModel } from '../lib/llm/text-model';
import { tinyPair } from './helpers/models';

let text: TextModel;
let other: TextModel;

beforeAll(async () => {
  text = await TextModel.load((await tinyPair('f32', 4)).model);
  other = await TextModel.load((await tinyPair('f32', 5)).model);
}, 300_000);

afterAll(() => {
  text?.dispose();
  other?.dispose();
});

const width = () => text.info.embeddingWidth;
/** A prefix like a page's: tokens, then image-like embedding rows; then a question's tokens. */
function prompt(): { prefix: (Int32Array | Float32Array)[]; suffix: Int32Array[] } {
  const rows = Float32Array.from({ length: 40 * width() }, (_, i) => Math.sin(i * 0.37) * 0.5);
  return { prefix: [text.tokenize('system: read the page', { addBos: true }), rows], suffix: [text.tokenize('What is the total?')] };
}
const positions = (parts: (Int32Array | Float32Array)[]) => parts.reduce((n, p) => n + (p instanceof Float32Array ? p.length / width() : p.length), 0);
const ctxOf = (m: TextModel) => m.createContext({ contextSize: 512, batchSize: 16, threads: 2 });

test('a restored prefix gives the same next logits as the computed one, bit for bit, in a one-sequence context and a shared one', async () => {
  const { prefix, suffix } = prompt();
  const n = positions(prefix);
  const computed = await ctxOf(text);
  const restored = await ctxOf(text);
  const seqs = await native().createSequenceContext(text.live(), 512, 3, 16, 2);
  try {
    expect(await computed.prefill(prefix)).toBe(n);
    const state = await computed.saveState!();
    expect(state.length).toBeGreaterThan(n * 64);
    await computed.prefill(suffix);
    const want = computed.logits();

    expect(await restored.loadState!(state, n)).toBe(n);
    expect(restored.position()).toBe(n);
    expect(await restored.prefill(suffix)).toBe(n + suffix[0].length);
    expect(Buffer.from(restored.logits().buffer).equals(Buffer.from(want.buffer))).toBe(true);

    // Into sequence 2 of a shared context (three KV streams) and back out of it.
    expect(await seqs.loadState(2, state, n)).toBe(n);
    expect(seqs.position(2)).toBe(n);
    const again = await seqs.saveState(2);
    expect(again.length).toBe(state.length); // the same cells (each names its sequence, 2 here)
    await seqs.prefill(2, suffix, true);
    expect(Buffer.from(seqs.logits(2).buffer).equals(Buffer.from(want.buffer))).toBe(true);
    const back = await ctxOf(text);
    try {
      await back.loadState!(again, n);
      await back.prefill(suffix);
      expect(Buffer.from(back.logits().buffer).equals(Buffer.from(want.buffer))).toBe(true);
    } finally {
      back.dispose();
    }
  } finally {
    computed.dispose();
    restored.dispose();
    seqs.dispose();
  }
});

test('bytes that are not a whole state of this model are INVALID_ARGUMENT, and the context stays empty and usable', async () => {
  const { prefix, suffix } = prompt();
  const n = positions(prefix);
  const src = await ctxOf(text);
  const foreignSrc = await ctxOf(other);
  const ctx = await ctxOf(text);
  try {
    await src.prefill(prefix);
    const state = await src.saveState!();
    // Another model of other shapes would differ in layers or widths; this one differs only in
    // weights, so its state loads (the page cache's key, not these bytes, tells them apart).
    await foreignSrc.prefill([text.tokenize('abc', { addBos: true })]);
    const short = await foreignSrc.saveState!();
    const bad: [string, Uint8Array, number][] = [
      ['truncated', state.subarray(0, Math.floor(state.length / 2)), n],
      ['one byte short', state.subarray(0, state.length - 1), n],
      ['trailing bytes', Buffer.concat([state, Buffer.alloc(8)]), n],
      ['wrong magic', Buffer.concat([Buffer.from('XXXX'), state.subarray(4)]), n],
      ['another position count', state, n - 1],
      ['another state under this count', short, n],
      ['zeros', Buffer.alloc(state.length), n],
      ['random', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 255)), n],
    ];
    // A cell count near 2^32 (libllama would size a batch by it) and a layer count far off.
    const huge = Buffer.from(state);
    huge.writeUInt32LE(0xfffffff0, 12);
    bad.push(['huge cell count', huge, n]);
    const streams = Buffer.from(state);
    streams.writeUInt32LE(3, 8); // claims three streams, holds one
    bad.push(['stream count', streams, n]);
    const positionsOff = Buffer.from(state);
    positionsOff.writeInt32LE(5, 16); // the first cell claims position 5: two cells at 5
    bad.push(['duplicate position', positionsOff, n]);
    for (const [why, bytes, count] of bad) {
      await expect(ctx.loadState!(bytes, count)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect({ why, position: ctx.position() }).toEqual({ why, position: 0 });
    }
    expect(() => ctx.loadState!(state, 100000)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // Still usable: the real state loads, and then a second load is refused (not empty).
    expect(await ctx.loadState!(state, n)).toBe(n);
    await expect(ctx.loadState!(state, n)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await ctx.prefill(suffix)).toBe(n + suffix[0].length);
    // An empty context has nothing to save.
    const empty = await ctxOf(text);
    await expect(empty.saveState!()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    empty.dispose();
  } finally {
    src.dispose();
    foreignSrc.dispose();
    ctx.dispose();
  }
});

test('a state with random bytes changed either loads whole or is INVALID_ARGUMENT: never an abort, never a partial sequence', async () => {
  const { prefix } = prompt();
  const n = positions(prefix);
  const src = await ctxOf(text);
  const ctx = await ctxOf(text);
  try {
    await src.prefill(prefix);
    const state = await src.saveState!();
    // The structure sits in the header, the cells' metadata and each layer's type and row size;
    // most changes go there (the rest land in K/V rows, which load as numbers).
    const meta = 16 + 12 * n + 8;
    let seed = 0x9e3779b9;
    const rand = (m: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % m;
    };
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(state);
      for (let k = 1 + rand(3); k > 0; k--) {
        const at = rand(4) === 0 ? rand(b.length) : rand(meta);
        b[at] = rand(256);
      }
      try {
        expect(await ctx.loadState!(b, n)).toBe(n);
        ctx.truncate(0);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('INVALID_ARGUMENT');
        refused++;
      }
      expect(ctx.position()).toBe(0);
    }
    expect(refused).toBeGreaterThan(100);
    expect(await ctx.loadState!(state, n)).toBe(n); // and the context is still whole
  } finally {
    src.dispose();
    ctx.dispose();
  }
});
