// The page cache's second half: the KV state of a first turn's prompt up to the end of its last
// image (lib/page-cache/prompt-prefix.ts), stored beside the page's embeddings and restored by the
// next process that asks about the page, whatever its question. Real `minimonkey ask` child
// processes on the tiny pair (the suite turns the cache off; each test gives its children a home
// of their own with it on), and the library on the same pair for the next logits and eviction.
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkey } from '../lib';
import { documentImage } from '../lib/demo/document-image';
import { encodeStateEntry } from '../lib/page-cache/entry';
import type { ChatSession } from '../lib/llm/session';
import type { LlmSequence } from '../lib/llm/sequence';
import { tempDir, tinyPair } from './helpers/models';
import { minimonkey } from './helpers/page-cache-cli';


interface Asked { tokenIds: number[]; pageCacheHits: number; restoredTokens: number; tokens: { prompt: number }; stderr: string }

let pair: { model: string; mmproj: string };
let other: { model: string; mmproj: string };
let work: string;
let image: string;
const question = 'What is the total amount?';
const followUp = 'Who signed it?';
const files = (p: { model: string; mmproj: string }) => ['--model', p.model, '--mmproj', p.mmproj, '--threads', '2', '--context', '4096', '-p', 'fast', '-n', '8'];

beforeAll(async () => {
  pair = await tinyPair('f32', 4);
  other = await tinyPair('f32', 5); // same shapes, other weights
  work = fs.mkdtempSync(path.join(tempDir(), 'page-cache-prefix-'));
  image = path.join(work, 'page.png');
  fs.writeFileSync(image, await documentImage({ width: 800, height: 600, seed: 3 }));
});

const newHome = () => fs.mkdtempSync(path.join(work, 'home-'));

async function ask(home: string, q: string, extra: string[] = [], p = pair): Promise<Asked> {
  const r = await minimonkey(['ask', image, q, ...files(p), ...extra, '--json'], home);
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  return { ...(JSON.parse(r.stdout) as Omit<Asked, 'stderr'>), stderr: r.stderr };
}

/** The entries of a cache folder by kind: 'kv' (a prompt's KV state) or 'embeddings', from each header. */
function kinds(dir: string): { kv: string[]; embeddings: string[] } {
  const out = { kv: [] as string[], embeddings: [] as string[] };
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.mmpc')).sort()) {
    const b = fs.readFileSync(path.join(dir, name));
    const header = JSON.parse(b.subarray(16, 16 + b.readUInt32LE(12)).toString('utf8')) as { kind?: string };
    (header.kind === 'kv' ? out.kv : out.embeddings).push(path.join(dir, name));
  }
  return out;
}

/** The text tokens of the prompt after the image: what a restored ask still prefills. */
const tail = (a: Asked) => a.tokens.prompt - a.restoredTokens;

describe('across processes', () => {
  it('a second process asking a new question about a seen page restores the prompt up to the image and answers as an uncached process does', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    const first = await ask(home, question);
    expect(first.restoredTokens).toBe(0);
    expect(kinds(cache).kv).toHaveLength(1);
    expect(kinds(cache).embeddings).toHaveLength(1);

    const second = await ask(home, followUp);
    const uncached = await ask(newHome(), followUp, ['--no-page-cache']);
    expect(second.pageCacheHits).toBe(1);
    // The image's 2,048 rows and the tokens before them came from the cache; only the question's are prefilled.
    expect(second.restoredTokens).toBeGreaterThan(2048);
    expect(tail(second)).toBeLessThan(32);
    expect(second.tokens.prompt).toBe(uncached.tokens.prompt);
    expect(second.tokenIds.length).toBeGreaterThan(0);
    expect(second.tokenIds).toEqual(uncached.tokenIds);
    expect(second.stderr).not.toContain('page cache:');
    // The same prefix, so no new entry.
    expect(kinds(cache).kv).toHaveLength(1);

    // And the first question again: restored too, the same reply as the first time.
    const again = await ask(home, question);
    expect(again.restoredTokens).toBe(second.restoredTokens);
    expect(again.tokenIds).toEqual(first.tokenIds);
  });

  it('another text model with the same image and mmproj is a miss for the prompt (its embeddings still hit)', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    await ask(home, question);
    const mixed = { model: other.model, mmproj: pair.mmproj };
    const r = await ask(home, followUp, [], mixed);
    expect(r.pageCacheHits).toBe(1);
    expect(r.restoredTokens).toBe(0);
    expect(kinds(cache).kv).toHaveLength(2);
    const uncached = await ask(newHome(), followUp, ['--no-page-cache'], mixed);
    expect(r.tokenIds).toEqual(uncached.tokenIds);
    // Its own entry serves it from now on, and the first model's is still there for it.
    expect((await ask(home, question, [], mixed)).restoredTokens).toBeGreaterThan(2048);
    expect((await ask(home, question)).restoredTokens).toBeGreaterThan(2048);
  });

  it('SCM on is another key than SCM off; with SCM the same question restores its own prefix', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    await ask(home, question);
    const scm = await ask(home, question, ['--scm']);
    expect(scm.restoredTokens).toBe(0);
    expect(kinds(cache).kv).toHaveLength(2);
    const scmAgain = await ask(home, question, ['--scm']);
    expect(scmAgain.restoredTokens).toBeGreaterThan(0);
    expect(scmAgain.tokenIds).toEqual(scm.tokenIds);
    const uncached = await ask(newHome(), question, ['--scm', '--no-page-cache']);
    expect(scmAgain.tokenIds).toEqual(uncached.tokenIds);
    expect(scmAgain.tokens.prompt).toBe(uncached.tokens.prompt);
  });

  it('a truncated or corrupt KV entry is ignored with a warning, removed, computed again and written whole', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    const first = await ask(home, question);
    const [file] = kinds(cache).kv;
    const whole = fs.readFileSync(file);

    fs.truncateSync(file, Math.floor(whole.length / 2));
    const r1 = await ask(home, followUp);
    expect(r1.restoredTokens).toBe(0);
    expect(r1.pageCacheHits).toBe(1); // the embeddings entry is untouched
    expect(r1.stderr).toContain(`page cache: ignored and removed ${file}: truncated`);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);

    const flipped = Buffer.from(whole);
    flipped[flipped.length - 100] ^= 0x10;
    fs.writeFileSync(file, flipped);
    const r2 = await ask(home, question);
    expect(r2.restoredTokens).toBe(0);
    expect(r2.stderr).toContain(`page cache: ignored and removed ${file}: checksum mismatch`);
    expect(r2.tokenIds).toEqual(first.tokenIds);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);

    // A whole entry (right key, length and checksum) whose bytes are not a KV state of this model:
    // the addon refuses it before libllama reads it, and the ask computes the prompt instead.
    const header = JSON.parse(whole.subarray(16, 16 + whole.readUInt32LE(12)).toString('utf8')) as { key: string; positions: number };
    fs.writeFileSync(file, Buffer.concat(await encodeStateEntry(header.key, Buffer.alloc(4096, 0x33), header.positions)));
    const r3 = await ask(home, question);
    expect(r3.restoredTokens).toBe(0);
    expect(r3.stderr).toContain(`page cache: ignored and removed ${file}: libllama did not take the KV state (not a KV state of this model`);
    expect(r3.tokenIds).toEqual(first.tokenIds);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);
    const r4 = await ask(home, followUp);
    expect(r4.restoredTokens).toBeGreaterThan(2048);
    expect(r4.tokenIds).toEqual(r1.tokenIds);
  });

  it('--no-page-cache neither reads nor writes the prompt states', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    expect((await ask(home, question, ['--no-page-cache'])).restoredTokens).toBe(0);
    expect(fs.existsSync(cache)).toBe(false);
    await ask(home, question);
    const stored = kinds(cache).kv;
    expect(stored).toHaveLength(1);
    const before = fs.statSync(stored[0]).mtimeMs;
    expect((await ask(home, followUp, ['--no-page-cache'])).restoredTokens).toBe(0);
    expect(fs.statSync(stored[0]).mtimeMs).toBe(before); // not even touched
  });
});

describe('the library', () => {
  /** The session's own context (internal), to read its next logits. */
  const contextOf = (s: ChatSession) => (s as unknown as { ctx: LlmSequence }).ctx;

  it('after a restore the context holds the same positions and gives the same next logits as a run without the cache', async () => {
    const dir = path.join(newHome(), 'cache');
    const plain = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096 });
    const writer = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096, pageCache: { dir } });
    const reader = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096, pageCache: { dir } });
    try {
      const content = (q: string) => [{ type: 'image' as const, image }, q];
      const w = await writer.chat();
      expect((await w.ask(content(question), { crop: 'fast', maxTokens: 2 })).restoredTokens).toBe(0);
      expect(writer.pageCache!.prompts).toEqual({ hits: 0, misses: 1, writes: 1 });

      const a = await plain.chat();
      const b = await reader.chat();
      const ra = await a.ask(content(followUp), { crop: 'fast', maxTokens: 6 });
      const rb = await b.ask(content(followUp), { crop: 'fast', maxTokens: 6 });
      expect(reader.pageCache!.prompts).toEqual({ hits: 1, misses: 0, writes: 0 });
      expect(rb.restoredTokens).toBeGreaterThan(2048);
      expect(rb.tokenIds).toEqual(ra.tokenIds);
      expect(b.contextUsed).toBe(a.contextUsed);
      // The prompt is prefilled in the same chunks either way (a chunk never crosses the image's
      // end), so the numbers agree bit for bit; allowed: 1e-5 of the largest logit, in case a
      // backend ever sums in another order.
      const la = contextOf(a).logits();
      const lb = contextOf(b).logits();
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < la.length; i++) {
        worst = Math.max(worst, Math.abs(la[i] - lb[i]));
        scale = Math.max(scale, Math.abs(la[i]));
      }
      expect(worst).toBeLessThanOrEqual(1e-5 * scale);
      // A follow-up turn in the restored conversation is as in the other.
      const fa = await a.ask('And the date?', { maxTokens: 6 });
      const fb = await b.ask('And the date?', { maxTokens: 6 });
      expect(fb.restoredTokens).toBe(0);
      expect(fb.tokenIds).toEqual(fa.tokenIds);
    } finally {
      plain.dispose();
      writer.dispose();
      reader.dispose();
    }
  });

  it('an abort in the prompt\'s prefill stores no state and leaves no temporary file; the next ask stores it, the one after restores', async () => {
    const dir = path.join(newHome(), 'cache');
    const mm = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096, batchSize: 64, pageCache: { dir } });
    try {
      const content = (q: string) => [{ type: 'image' as const, image }, q];
      const ac = new AbortController();
      const chat = await mm.chat();
      // Aborted once the prefill has begun (several chunks of 64 positions to go).
      const aborted = chat.ask(content(question), { crop: 'fast', maxTokens: 2, signal: ac.signal, onProgress: (p) => p.phase === 'prefill' && ac.abort() });
      await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
      expect(kinds(dir).kv).toHaveLength(0);
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
      expect((await chat.ask(content(question), { crop: 'fast', maxTokens: 2 })).restoredTokens).toBe(0);
      expect(kinds(dir).kv).toHaveLength(1);
      const again = await mm.chat();
      expect((await again.ask(content(followUp), { crop: 'fast', maxTokens: 2 })).restoredTokens).toBeGreaterThan(0);
    } finally {
      mm.dispose();
    }
  });

  it('a text model file removed after the load is a miss with a warning, not a failed ask', async () => {
    const dir = path.join(newHome(), 'cache');
    const copy = path.join(work, 'gone-model.gguf');
    fs.copyFileSync(pair.model, copy);
    const mm = await MiniMonkey.load({ model: copy, mmproj: pair.mmproj, threads: 2, contextSize: 4096, pageCache: { dir } });
    // Watched, not replaced: the warning still goes out as it would.
    const emitted = jest.spyOn(process, 'emitWarning');
    try {
      fs.rmSync(copy); // the loaded weights stay mapped; only the hash for the key is lost
      const r = await (await mm.chat()).ask([{ type: 'image', image }, question], { crop: 'fast', maxTokens: 2 });
      const warnings = emitted.mock.calls.map((c) => String(c[0]));
      expect(r.restoredTokens).toBe(0);
      expect(r.tokenIds.length).toBeGreaterThan(0);
      expect(warnings.filter((m) => m.startsWith(`page cache: cannot hash ${copy}`))).toHaveLength(1);
      expect(kinds(dir).kv).toEqual([]);
    } finally {
      emitted.mockRestore();
      mm.dispose();
    }
  });

  it('eviction by size counts the KV states: a second page pushes out the first page\'s entries, least recently used first', async () => {
    const dir = path.join(newHome(), 'cache');
    const pages = await Promise.all([21, 22].map(async (seed) => {
      const file = path.join(work, `prefix-page-${seed}.png`);
      fs.writeFileSync(file, await documentImage({ width: 800, height: 600, seed }));
      return file;
    }));
    const probeDir = path.join(dir, '..', 'probe');
    const probe = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096, imageCacheBytes: 0, pageCache: { dir: probeDir } });
    const s = await probe.chat();
    await s.ask([{ type: 'image', image: pages[0] }, question], { crop: 'fast', maxTokens: 1 });
    probe.dispose();
    const sizeOf = (files: string[]) => files.reduce((n, f) => n + fs.statSync(f).size, 0);
    const k = kinds(probeDir);
    const kvBytes = sizeOf(k.kv);
    const embBytes = sizeOf(k.embeddings);
    expect(kvBytes).toBeGreaterThan(embBytes); // the KV state is the larger part of a page

    // Room for one page and a half: the second page's entries push out the first page's.
    const maxBytes = Math.floor((kvBytes + embBytes) * 1.5);
    const mm = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096, imageCacheBytes: 0, pageCache: { dir, maxBytes } });
    try {
      const one = async (page: string) => (await mm.chat()).ask([{ type: 'image', image: page }, question], { crop: 'fast', maxTokens: 1 });
      await one(pages[0]);
      const firstPage = kinds(dir);
      expect(firstPage.kv).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 20));
      await one(pages[1]);
      const after = kinds(dir);
      const all = [...after.kv, ...after.embeddings];
      expect(sizeOf(all)).toBeLessThanOrEqual(maxBytes);
      expect(fs.existsSync(firstPage.kv[0])).toBe(false); // the oldest and largest went
      expect(after.kv).toHaveLength(1);
      expect(after.kv[0]).not.toBe(firstPage.kv[0]);
    } finally {
      mm.dispose();
    }
  });
});
