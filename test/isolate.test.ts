// MiniMonkey.load({ isolate: 'process' }) on the tiny pair: the model in a child process gives the
// in-process model's greedy tokens, streams, aborts and disposes the same way, and a real death of
// the child (a signal, abort(3), an exit; MINIMONKEY_TEST_CRASH, honoured only by the child entry
// point) at load, encode, prefill and generate is a WORKER error on every pending call while this
// process lives on; the next call starts a fresh child. idleUnloadMs ends the child; a killed
// parent leaves no orphan.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { MiniMonkey, MiniMonkeyError } from '../lib';
import type { IsolatedMiniMonkey } from '../lib/isolate/isolated-model';
import { tinyPair } from './helpers/models';

const W = 640;
const H = 480;
const pixels = (seed: number) => ({ data: new Uint8Array(W * H * 3).map((_, i) => ((i + seed) * 2654435761) >>> 24), width: W, height: H });
const image = pixels(0);
const question = (img = image) => [{ type: 'image' as const, image: img }, 'Describe the image.'];
// Two images: the encode crash lands after the first is encoded, the second still to go.
const twoImages = [{ type: 'image' as const, image }, { type: 'image' as const, image: pixels(7) }, 'Compare them.'];

let pair: { model: string; mmproj: string };
let inProcess: MiniMonkey;
const load = (extra: object = {}) =>
  MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 1, contextSize: 4096, batchSize: 16, isolate: 'process', ...extra });

/** Whether a process with this pid exists (a reaped child does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function rejection(p: PromiseLike<unknown>): Promise<MiniMonkeyError> {
  try {
    await p;
  } catch (e) {
    return e as MiniMonkeyError;
  }
  throw new Error('it did not fail');
}

beforeAll(async () => {
  pair = await tinyPair('f32', 4);
  inProcess = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 1, contextSize: 4096, batchSize: 16 });
});

afterAll(() => {
  delete process.env.MINIMONKEY_TEST_CRASH;
  inProcess?.dispose();
});

afterEach(() => {
  delete process.env.MINIMONKEY_TEST_CRASH;
});

describe("isolate: 'process'", () => {
  let model: IsolatedMiniMonkey;
  beforeAll(async () => {
    const phases = new Set<string>();
    model = await load({ onProgress: (p: { phase: string }) => phases.add(p.phase) });
    expect([...phases].sort()).toEqual(['text', 'vision']);
  });
  afterAll(() => model?.dispose());

  it('runs in another process and gives the in-process greedy tokens, streamed piece by piece', async () => {
    expect(model.pid).toBeGreaterThan(0);
    expect(model.pid).not.toBe(process.pid);
    expect(model.family).toEqual(inProcess.family);
    const want = await (await inProcess.chat()).ask(question(), { crop: 'fast', maxTokens: 16 });

    const session = await model.chat();
    const tokens: string[] = [];
    const progress = new Set<string>();
    const reply = session.ask(question(), { crop: 'fast', maxTokens: 16, onToken: (t) => tokens.push(t), onProgress: (p) => progress.add(p.phase) });
    const pieces: string[] = [];
    for await (const piece of reply) pieces.push(piece);
    const got = await reply;
    expect(got.tokenIds).toEqual(want.tokenIds);
    expect(got.text).toBe(want.text);
    expect(got.tokens).toEqual(want.tokens);
    expect(got.images).toEqual(want.images);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe(want.text);
    expect(tokens).toEqual(pieces);
    expect([...progress]).toEqual(expect.arrayContaining(['decode', 'encode', 'prefill']));
    expect(session.contextUsed).toBe(want.tokens.prompt + want.tokens.generated);
    expect(session.contextSize).toBeGreaterThanOrEqual(4096);

    session.dispose();
    session.dispose();
    expect(await rejection(session.ask('again'))).toMatchObject({ code: 'DISPOSED' });
  });

  it('encodes an image to the in-process embeddings; planCrops runs here; typed errors keep their class', async () => {
    const want = await inProcess.encodeImage(image, { crop: 'fast' });
    const got = await model.encodeImage(image, { crop: 'fast' });
    // (another realm's Float32Array under jest: compared by tag and content)
    expect(Object.prototype.toString.call(got.embeddings)).toBe('[object Float32Array]');
    expect(Array.from(got.embeddings)).toEqual(Array.from(want.embeddings));
    expect(got.plan).toEqual(want.plan);
    expect(model.planCrops(1600, 1200, 'fast')).toEqual(inProcess.planCrops(1600, 1200, 'fast'));

    const session = await model.chat();
    const missing = await rejection(session.ask([{ type: 'image', image: '/nonexistent/page.png' }, 'x'], { crop: 'fast' }));
    const local = await rejection((await inProcess.chat()).ask([{ type: 'image', image: '/nonexistent/page.png' }, 'x'], { crop: 'fast' }));
    expect(missing.constructor).toBe(local.constructor);
    expect(missing).toMatchObject({ code: local.code, message: local.message, reason: (local as { reason?: string }).reason });
    expect(await rejection(session.ask('x', { maxTokens: -1 }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await rejection(session.ask('x', { onToken: 3 as never }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => model.batch()).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
    session.dispose();
  });

  it('an abort mid-generation ends the ask with ABORTED and leaves the conversation as it was', async () => {
    const session = await model.chat();
    const first = await session.ask('Hello.', { maxTokens: 4 });
    const used = session.contextUsed;
    const ac = new AbortController();
    let seen = 0;
    const err = await rejection(session.ask(question(), { crop: 'fast', maxTokens: 400, signal: ac.signal, onToken: () => ++seen === 3 && ac.abort() }));
    expect(err.code).toBe('ABORTED');
    expect(seen).toBeLessThan(50);
    expect(session.contextUsed).toBe(used);
    const again = await session.ask('Hello.', { maxTokens: 4 });
    expect(again.finishReason).toBeDefined();
    expect(first.text.length).toBeGreaterThanOrEqual(0);
    session.dispose();
  });
});

describe('a crash of the child', () => {
  // Each phase with a different real death: a signal, abort(3), an exit code.
  const cases: [phase: 'encode' | 'prefill' | 'generate', how: string, says: string][] = [
    ['encode', 'SIGSEGV', 'SIGSEGV'],
    ['prefill', 'abort', 'SIGABRT'],
    ['generate', 'SIGSEGV', 'SIGSEGV'],
    ['generate', 'exit', 'exited with code 70'],
  ];
  it.each(cases)('at %s (%s) rejects every pending call with WORKER; the next call starts a fresh child', async (phase, how, says) => {
    const want = await (await inProcess.chat()).ask(twoImages, { crop: 'fast', maxTokens: 8 });
    process.env.MINIMONKEY_TEST_CRASH = `${phase}:${how}`;
    const model = await load();
    try {
      const pid = model.pid!;
      const a = await model.chat();
      const b = await model.chat();
      // Two asks in flight: one running, one queued behind it in the child.
      const [ea, eb] = await Promise.all([rejection(a.ask(twoImages, { crop: 'fast', maxTokens: 8 })), rejection(b.ask('Hello.', { maxTokens: 4 }))]);
      for (const e of [ea, eb]) {
        expect(e).toBeInstanceOf(MiniMonkeyError);
        expect(e.code).toBe('WORKER');
        expect(e.message).toContain(says);
        expect(e.message).toContain(`pid ${pid}`);
      }
      expect(ea.message).toContain(`(${phase})`);
      expect(alive(pid)).toBe(false);
      expect(model.pid).toBeUndefined();

      delete process.env.MINIMONKEY_TEST_CRASH;
      const got = await a.ask(twoImages, { crop: 'fast', maxTokens: 8 });
      expect(model.pid).not.toBe(pid);
      expect(got.tokenIds).toEqual(want.tokenIds);
      expect(a.contextUsed).toBe(want.tokens.prompt + want.tokens.generated);
    } finally {
      model.dispose();
    }
  });

  it('at load is a WORKER error from load(), and on a reload from the call that needed it', async () => {
    process.env.MINIMONKEY_TEST_CRASH = 'load:SIGSEGV';
    const e = await rejection(load());
    expect(e).toMatchObject({ code: 'WORKER' });
    expect(e.message).toMatch(/killed by SIGSEGV while loading/);

    delete process.env.MINIMONKEY_TEST_CRASH;
    const model = await load();
    try {
      const session = await model.chat();
      const pid = model.pid!;
      // Killed from outside, as the OOM killer does, mid-generation.
      const killed = await rejection(session.ask('Hello.', { maxTokens: 400, onToken: () => process.kill(pid, 'SIGKILL') }));
      expect(killed.message).toContain('SIGKILL');
      expect(killed.code).toBe('WORKER');
      process.env.MINIMONKEY_TEST_CRASH = 'load:abort';
      expect(await rejection(session.ask('Hello.', { maxTokens: 4 }))).toMatchObject({ code: 'WORKER', message: expect.stringContaining('SIGABRT') });
      delete process.env.MINIMONKEY_TEST_CRASH;
      const ok = await session.ask('Hello.', { maxTokens: 4 });
      expect(ok.tokens.generated).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });
});

describe('the child process lifetime', () => {
  it('dispose ends the child, twice is safe, and calls after it are DISPOSED', async () => {
    const model = await load();
    const pid = model.pid!;
    const session = await model.chat();
    const inFlight = session.ask('Hello.', { maxTokens: 400 });
    model.dispose();
    model.dispose();
    expect(await rejection(inFlight)).toMatchObject({ code: 'DISPOSED' });
    await until(() => !alive(pid));
    await expect(model.chat()).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('idleUnloadMs ends an idle child; the next call starts it again', async () => {
    const model = await load({ idleUnloadMs: 300 });
    try {
      const session = await model.chat();
      await session.ask('Hello.', { maxTokens: 4 });
      const pid = model.pid!;
      expect(session.contextUsed).toBeGreaterThan(0);
      await until(() => model.pid === undefined);
      await until(() => !alive(pid));
      expect(session.contextUsed).toBe(0);  // the conversation went with the child
      const again = await session.ask('Hello.', { maxTokens: 4 });
      expect(again.tokens.generated).toBeGreaterThan(0);
      expect(model.pid).not.toBe(pid);
    } finally {
      model.dispose();
    }
    expect(await rejection(MiniMonkey.load({ ...pair, idleUnloadMs: 5 } as never))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await rejection(load({ idleUnloadMs: -1 }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a parent killed with SIGKILL leaves no child behind', async () => {
    const dist = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
    const script = `
      const mm = require(${JSON.stringify(dist)});
      mm.MiniMonkey.load({ model: ${JSON.stringify(pair.model)}, mmproj: ${JSON.stringify(pair.mmproj)}, threads: 1, isolate: 'process' })
        .then(async (m) => { const s = await m.chat(); console.log('child ' + m.pid); s.ask('Hello.', { maxTokens: 100000 }); setInterval(() => {}, 1000); });`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d) => (out += d));
    await until(() => /child \d+/.test(out), 30_000);
    const child = Number(/child (\d+)/.exec(out)![1]);
    expect(alive(child)).toBe(true);
    parent.kill('SIGKILL');
    await until(() => !alive(child), 10_000);
  });

  it('an idle model does not keep the parent process alive', async () => {
    const dist = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
    const script = `
      const mm = require(${JSON.stringify(dist)});
      mm.MiniMonkey.load({ model: ${JSON.stringify(pair.model)}, mmproj: ${JSON.stringify(pair.mmproj)}, threads: 1, isolate: 'process' })
        .then(async (m) => { const r = await (await m.chat()).ask('Hello.', { maxTokens: 4 }); console.log('child ' + m.pid + ' ' + r.tokens.generated); });`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d) => (out += d));
    const code = await new Promise((r) => parent.on('exit', r));
    expect(code).toBe(0);
    const child = Number(/child (\d+) [1-9]/.exec(out)![1]);
    await until(() => !alive(child), 5000);
  });
});
