// Regressions of issue 14's hostile-testing table: each input used to abort, terminate or hang the
// host (a GGML_ASSERT in libllama or gguf.cpp, a C++ exception through N-API, a bad_alloc, 1,000
// spinning threads). Each is now a typed error before any heavy work, or finishes in bounded time.
// Every bad file is made here from the tiny model by our own GGUF writer; nothing is committed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ContextOverflowError, DisposedError, InvalidArgumentError, loadImage, MiniMonkey, MiniMonkeyError, ModelLoadError, TextModel, VisionEncoder } from '../lib';
import { GgmlType, GgufValueType } from '../lib/gguf/constants';
import { readGgufHeader } from '../lib/gguf/reader';
import { DEFAULTS, LIMITS, limitRange, machineCores } from '../lib/limits';
import { native } from '../lib/native';
import { tempDir, tinyPair } from './helpers/models';
import { f32, rewriteGguf, str, strings, u32 } from './helpers/rewrite-gguf';

let pair: { model: string; mmproj: string };
let n = 0;
const out = () => path.join(tempDir(), `hard-${n++}.gguf`);

beforeAll(async () => {
  pair = await tinyPair('f32');
});

async function textLoadFails(edits: Parameters<typeof rewriteGguf>[2], message: RegExp): Promise<void> {
  const f = out();
  await rewriteGguf(pair.model, f, edits);
  const err = await TextModel.load(f).then((m) => (m.dispose(), undefined), (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelLoadError);
  expect((err as Error).message).toMatch(message);
}

test('the unmodified rewrite loads and answers: the edits below are the only difference', async () => {
  const f = out();
  await rewriteGguf(pair.model, f, {});
  const m = await TextModel.load(f);
  const l = await m.logits([m.tokenize('price in €?', { addBos: true })]);
  expect(l.length).toBe(m.info.vocabSize);
  m.dispose();
});

test('#1 an SPM vocabulary without <0xXX> byte tokens is refused at load (libllama would throw out_of_range on "€")', async () => {
  const { kv } = await readGgufHeader(pair.model);
  const tokens = (kv.get('tokenizer.ggml.tokens')!.value as string[]).map((t) => (/^<0x[0-9A-F]{2}>$/.test(t) ? `<byte ${t.slice(3, 5)}>` : t));
  await textLoadFails({ kv: { 'tokenizer.ggml.tokens': strings(tokens) } }, /lacks 256 of the 256 byte-fallback tokens/);
});

test.each([0, 1000, 2 ** 32 - 1])('#2 block_count %d is a typed error (libllama asserts 1..512)', async (count) => {
  await textLoadFails({ kv: { 'internlm2.block_count': u32(count) } }, /block_count' = \d+ is outside 1\.\.512/);
});

test('#3 a negative rms epsilon is refused at load, not at the first ask (ggml_rms_norm asserts eps >= 0)', async () => {
  await textLoadFails({ kv: { 'internlm2.attention.layer_norm_rms_epsilon': f32(-1) } }, /layer_norm_rms_epsilon' = -1\.0+ must be in \[0, 1\)/);
});

test('#4 a norm weight stored as i32 is refused at load (ggml binary ops assert on it)', async () => {
  await textLoadFails({ tensorType: { 'blk.0.attn_norm.weight': GgmlType.I32 } }, /'blk\.0\.attn_norm\.weight' is i32: weights must be a float or quantized type/);
});

test('other hyperparameters libllama asserts or divides by: head counts, MoE keys, rope scaling, rope dims', async () => {
  await textLoadFails({ kv: { 'internlm2.attention.head_count': u32(0) } }, /head_count' = 0 is outside/);
  await textLoadFails({ kv: { 'internlm2.attention.head_count_kv': u32(3) } }, /not a multiple of 3 KV heads/);
  await textLoadFails({ kv: { 'internlm2.expert_count': u32(8) } }, /dense architecture/);
  await textLoadFails({ kv: { 'internlm2.rope.scaling.type': str('sideways') } }, /is not none, linear, yarn or longrope/);
  await textLoadFails({ kv: { 'internlm2.rope.dimension_count': u32(1000) } }, /dimension_count' = 1000 must be even/);
  await textLoadFails({ kv: { 'internlm2.rope.freq_base': f32(0) } }, /freq_base' = 0\.0+ must be > 0/);
});

test('#5 an mmproj whose image_mean is a string array is a ModelLoadError (gguf.cpp asserted)', async () => {
  const f = out();
  await rewriteGguf(pair.mmproj, f, { kv: { 'clip.vision.image_mean': strings(['0.5', '0.5', '0.5']) } });
  await expect(VisionEncoder.load(f)).rejects.toThrow(/image_mean' is not a float array/);
});

describe('options at the API edge: one range each, from lib/limits.ts', () => {
  let model: MiniMonkey;
  beforeAll(async () => {
    model = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 2048 });
  });
  afterAll(() => model.dispose());

  test('#6 repeatLastN 2^31-1 with a repeat penalty is refused (libllama would allocate its ring: bad_alloc)', async () => {
    const chat = await model.chat();
    const err = await chat.ask('hi', { repeatLastN: 2147483647, repeatPenalty: 1.1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe(`repeatLastN must be an integer from 0 to ${LIMITS.repeatLastN.max} (got 2147483647)`);
    // At the limit it runs.
    const r = await chat.ask('hi', { repeatLastN: LIMITS.repeatLastN.max, repeatPenalty: 1.1, maxTokens: 4 });
    expect(r.tokens.generated).toBeGreaterThan(0);
    chat.dispose();
  });

  test('#9 threads beyond the logical CPUs are refused with the range; at the limit an ask finishes', async () => {
    const max = limitRange('threads').max;
    expect(max).toBe(Math.min(machineCores(), 512));
    for (const threads of [machineCores() + 1, 64, 1024]) {
      if (threads <= max) continue;
      await expect(MiniMonkey.load({ ...pair, threads })).rejects.toThrow(`threads must be an integer from 1 to ${max} (got ${threads})`);
    }
    const m = await MiniMonkey.load({ ...pair, threads: max, contextSize: LIMITS.contextSize.min * 8 });
    const t0 = Date.now();
    const r = await (await m.chat()).ask('hello', { maxTokens: 8 });
    expect(r.tokens.generated).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(60_000);
    m.dispose();
  });

  test('contextSize, topK, maxTokens, seed: out of range (no silent 32-bit wrap) and at both ends', async () => {
    await expect(MiniMonkey.load({ ...pair, contextSize: 2 ** 32 + 64 })).rejects.toThrow(`contextSize must be an integer from 64 to ${LIMITS.contextSize.max}`);
    await expect(model.chat({ contextSize: 16 })).rejects.toBeInstanceOf(InvalidArgumentError);
    const chat = await model.chat();
    await expect(chat.ask('x', { topK: 2 ** 31 })).rejects.toThrow(`topK must be an integer from 0 to ${LIMITS.topK.max} (got 2147483648)`);
    await expect(chat.ask('x', { maxTokens: 0 })).rejects.toThrow(/maxTokens must be an integer from 1/);
    await expect(chat.ask('x', { seed: 2 ** 32 })).rejects.toThrow(/seed must be an integer from 0 to 4294967295/);
    const r = await chat.ask('x', { topK: LIMITS.topK.max, temperature: 1, seed: LIMITS.seed.max, maxTokens: 2 });
    expect(r.tokens.generated).toBeGreaterThan(0);
    chat.dispose();
    const small = await model.chat({ contextSize: LIMITS.contextSize.min });
    expect(small.contextSize).toBeGreaterThanOrEqual(LIMITS.contextSize.min);
    small.dispose();
    const big = await model.chat({ contextSize: LIMITS.contextSize.max });
    expect(big.contextSize).toBe(LIMITS.contextSize.max);
    big.dispose();
  });

  test('the addon re-checks the same numbers (runtimeInfo().limits equals lib/limits.ts)', () => {
    const l = native().runtimeInfo().limits;
    expect(l).toEqual({
      maxThreads: 512,
      minContext: LIMITS.contextSize.min,
      maxContext: LIMITS.contextSize.max,
      maxBatch: LIMITS.batchSize.max,
      maxTopK: LIMITS.topK.max,
      maxRepeatLastN: LIMITS.repeatLastN.max,
      maxGpuLayers: LIMITS.gpuLayers.max,
      maxDeviceName: LIMITS.deviceName.max,
      maxParallel: LIMITS.parallel.max,
      contextStep: DEFAULTS.contextStep,
    });
    // And the addon does not wrap what it is given directly.
    expect(() => native().createContext(model.text.live(), 2 ** 32 + 64, 512, 1)).toThrow(/contextSize must be an integer from 64 to 131072/);
  });

  test('a 250 KB question is CONTEXT_OVERFLOW (it overflowed the stack in prompt layout)', async () => {
    const chat = await model.chat();
    const err = await chat.ask('word '.repeat(50_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextOverflowError);
    expect(chat.contextUsed).toBe(0);
    chat.dispose();
  });

  test('signal: {}, ask(x, null), chat(null), onToken: 1 are InvalidArgumentErrors, not TypeErrors', async () => {
    const chat = await model.chat();
    await expect(chat.ask('x', { signal: {} as AbortSignal })).rejects.toThrow(InvalidArgumentError);
    await expect(chat.ask('x', null as never)).rejects.toThrow(InvalidArgumentError);
    await expect(chat.ask('x', { onToken: 1 as never })).rejects.toThrow(InvalidArgumentError);
    await expect(model.chat(null as never)).rejects.toThrow(InvalidArgumentError);
    await expect(model.encodeImage('x.png', null as never)).rejects.toThrow(InvalidArgumentError);
    await expect(MiniMonkey.load({ ...pair, signal: 'stop' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(loadImage('x.png', null as never)).rejects.toThrow(InvalidArgumentError);
    chat.dispose();
  });
});

test('chat() racing dispose() rejects with DisposedError instead of a live-looking session on a dead model', async () => {
  const m = await MiniMonkey.load({ ...pair, threads: 1, contextSize: 512 });
  const pending = m.chat();
  m.dispose();
  await expect(pending).rejects.toBeInstanceOf(DisposedError);
});

test('a disposed session leaves the model: nothing it held stays reachable', async () => {
  const m = await MiniMonkey.load({ ...pair, threads: 1, contextSize: 512 });
  const sessions = (m as unknown as { sessions: Set<unknown> }).sessions;
  const chat = await m.chat();
  await chat.ask('hello', { maxTokens: 2 });
  expect(sessions.size).toBe(1);
  chat.dispose();
  chat.dispose();
  expect(sessions.size).toBe(0);
  m.dispose();
});

test('process.exit() while native work is in flight exits with its own code, not a signal', () => {
  const lib = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
  const script = `
    const { MiniMonkey } = require(${JSON.stringify(lib)});
    (async () => {
      const m = await MiniMonkey.load({ model: ${JSON.stringify(pair.model)}, mmproj: ${JSON.stringify(pair.mmproj)}, threads: 2 });
      const chat = await m.chat();
      chat.ask('tell me a long story', { maxTokens: 10000 }).catch(() => {});
      setTimeout(() => process.exit(7), 150);
    })();`;
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 7, signal: null, stderr: '' });
  }
}, 120_000);

test('every failure above is a MiniMonkeyError with a code (the typed-error contract)', async () => {
  const f = out();
  await rewriteGguf(pair.model, f, { kv: { 'internlm2.block_count': { type: GgufValueType.UINT32, value: 0 } } });
  const err = await TextModel.load(f).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MiniMonkeyError);
  expect((err as MiniMonkeyError).code).toBe('MODEL_LOAD');
});

test("README's limits table says the numbers lib/limits.ts enforces", () => {
  const readme = require('node:fs').readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8') as string;
  // The "### Limits" section, up to the next heading of any level.
  const start = readme.indexOf('\n### Limits');
  expect(start).toBeGreaterThan(-1);
  const next = readme.slice(start + 1).search(/\n#{1,3} /);
  const section = readme.slice(start, next < 0 ? undefined : start + 1 + next);
  const rows = new Map<string, [string, string, string]>();
  for (const m of section.matchAll(/^\| `(\w+)` \| (-?\d+) \| ([^|]+) \| ([^|]+) \|/gm)) rows.set(m[1], [m[2], m[3].trim(), m[4].trim()]);
  for (const name of Object.keys(LIMITS) as (keyof typeof LIMITS)[]) {
    const r = limitRange(name);
    const row = rows.get(name);
    expect([name, row?.[0]]).toEqual([name, String(r.min)]);
    if (name === 'threads') expect(row?.[1]).toBe('logical CPUs, at most 512');
    else expect([name, row?.[1]]).toEqual([name, String(r.max)]);
    // The default column says DEFAULTS (threads: the physical cores; deviceName: the device option's default).
    const dflt = name === 'threads' ? 'the physical cores' : name === 'deviceName' ? `\`${DEFAULTS.device}\`` : String(DEFAULTS[name]);
    expect([name, row?.[2].split(',')[0]]).toEqual([name, dflt]);
  }
  expect(rows.get('contextSize')?.[2]).toContain(`steps of ${DEFAULTS.contextStep}`);
});

test('a FIFO given as a model file fails fast in the library too, never blocks on open', async () => {
  const fifo = path.join(tempDir(), 'model.fifo');
  spawnSync('mkfifo', [fifo]);
  const t0 = Date.now();
  await expect(TextModel.load(fifo)).rejects.toThrow(/not a regular file/);
  await expect(MiniMonkey.load({ model: pair.model, mmproj: fifo })).rejects.toBeInstanceOf(ModelLoadError);
  await expect(readGgufHeader(fifo)).rejects.toThrow(/not a regular file/);
  expect(Date.now() - t0).toBeLessThan(10_000);
});

/** A hand-made GGUF header: what our writer refuses to make, ggml's parser must never see. */
function rawGguf(o: { keyType?: number; arrayType?: number; dims?: bigint[]; tensorType?: number }): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); parts.push(b); };
  const s = (t: string) => { u64(BigInt(Buffer.byteLength(t))); parts.push(Buffer.from(t)); };
  u32(0x46554747); u32(3); u64(o.dims ? 1n : 0n); u64(1n);
  s('general.architecture');
  if (o.arrayType !== undefined) { u32(GgufValueType.ARRAY); u32(o.arrayType); u64(1n); u32(0); }
  else { u32(o.keyType ?? GgufValueType.STRING); s('clip'); }
  if (o.dims) {
    s('t'); u32(o.dims.length); for (const d of o.dims) u64(d); u32(o.tensorType ?? 0); u64(0n);
  }
  parts.push(Buffer.alloc(256));
  return Buffer.concat(parts);
}

test.each([
  ['a tensor shape whose element count overflows int64 (UB inside ggml_nelements)', { dims: [32n, 8142508126285856800n] }, /more elements than int64 holds/],
  ['a negative dimension', { dims: [-5n & 0xffffffffffffffffn] }, /negative dimension/],
  ['five dimensions', { dims: [1n, 1n, 1n, 1n, 1n] }, /has 5 dimensions/],
  ['a key type code out of the enum (UB loading gguf_type)', { keyType: 1918971500 }, /key 0 has unknown type 1918971500/],
  ['an array of arrays', { arrayType: GgufValueType.ARRAY }, /array of unknown type/],
  ['a tensor type code out of the enum', { dims: [4n], tensorType: 4000 }, /unknown type 4000/],
])('the header pre-scan refuses %s before ggml parses it (UBSan/libFuzzer findings)', async (_what, o, message) => {
  const f = out();
  require('node:fs').writeFileSync(f, rawGguf(o));
  await expect(VisionEncoder.load(f)).rejects.toThrow(message);
  await expect(TextModel.load(f)).rejects.toThrow(message);
});
