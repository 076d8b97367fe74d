// The page cache: image embeddings kept on disk under MINIMONKEY_HOME/page-cache, reused by the
// next process. Real `minimonkey ask` child processes on the tiny pair (the suite turns the
// cache off with MINIMONKEY_PAGE_CACHE=off; these tests give each child its own home with it on),
// and the library on the same pair for eviction and the stored numbers.
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkey } from '../lib';
import { documentImage } from '../lib/demo/document-image';
import { PageCache } from '../lib/page-cache/page-cache';
import { tempDir, tinyPair } from './helpers/models';
import { minimonkey } from './helpers/page-cache-cli';

let pair: { model: string; mmproj: string };
let other: { model: string; mmproj: string };
let work: string;
let image: string;
let modelArgs: string[];
const question = 'What is the total amount?';
const followUp = 'Who signed it?';

beforeAll(async () => {
  pair = await tinyPair('f32', 4);
  other = await tinyPair('f32', 5); // same shapes, other weights
  work = fs.mkdtempSync(path.join(tempDir(), 'page-cache-'));
  image = path.join(work, 'page.png');
  fs.writeFileSync(image, await documentImage({ width: 800, height: 600, seed: 3 }));
  modelArgs = ['--model', pair.model, '--mmproj', pair.mmproj, '--threads', '2', '--context', '4096', '-p', 'fast', '-n', '8'];
});

const newHome = () => fs.mkdtempSync(path.join(work, 'home-'));
/** The embeddings entries (a first turn's prompt KV state, kind "kv", sits beside them: page-cache-prefix.test.ts). */
const entries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.mmpc') && !isStateEntry(path.join(dir, n))).sort() : []);
function isStateEntry(file: string): boolean {
  const b = fs.readFileSync(file);
  try {
    return (JSON.parse(b.subarray(16, 16 + b.readUInt32LE(12)).toString('utf8')) as { kind?: string }).kind === 'kv';
  } catch {
    return false; // not whole: a test made it so
  }
}
const temporaries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith('.tmp-')) : []);

async function ask(home: string, q = question, extra: string[] = [], env: NodeJS.ProcessEnv = {}, args = modelArgs) {
  const r = await minimonkey(['ask', image, q, ...args, ...extra, '--json'], home, env);
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  return { ...(JSON.parse(r.stdout) as { tokenIds: number[]; imageCacheHits: number; pageCacheHits: number; timings: { encode: number } }), stderr: r.stderr };
}

describe('across processes', () => {
  it('a second process asking about the same page reads its embeddings from the cache and answers with the same tokens', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    const first = await ask(home);
    expect(first.pageCacheHits).toBe(0);
    expect(first.imageCacheHits).toBe(0);
    expect(entries(cache)).toHaveLength(1);
    expect(temporaries(cache)).toEqual([]);

    const again = await ask(home);
    expect(again.pageCacheHits).toBe(1);
    expect(again.imageCacheHits).toBe(1);
    expect(again.tokenIds).toEqual(first.tokenIds);

    // A new question about the seen page: from the cache, the tokens an uncached process gives.
    const cached = await ask(home, followUp);
    const uncached = await ask(newHome(), followUp, ['--no-page-cache']);
    expect(cached.pageCacheHits).toBe(1);
    expect(uncached.pageCacheHits).toBe(0);
    expect(cached.tokenIds).toEqual(uncached.tokenIds);
    expect(entries(cache)).toHaveLength(1);
  });

  it('two processes storing the same entry at once both succeed, leave one whole entry and no temporary file', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    const [a, b] = await Promise.all([ask(home), ask(home)]);
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(entries(cache)).toHaveLength(1);
    expect(temporaries(cache)).toEqual([]);
    const third = await ask(home);
    expect(third.pageCacheHits).toBe(1);
    expect(third.stderr).not.toContain('page cache:');
    expect(third.tokenIds).toEqual(a.tokenIds);
  });

  it('a truncated entry is ignored with a warning, removed, and written again whole', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    const first = await ask(home);
    const [name] = entries(cache);
    const file = path.join(cache, name);
    const whole = fs.readFileSync(file);
    fs.truncateSync(file, Math.floor(whole.length / 2));

    const r = await ask(home);
    expect(r.pageCacheHits).toBe(0);
    expect(r.stderr).toContain(`page cache: ignored and removed ${file}: truncated`);
    expect(r.tokenIds).toEqual(first.tokenIds);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);
    expect((await ask(home)).pageCacheHits).toBe(1);
  });

  it('a corrupt entry (one payload byte changed) and a foreign file under an entry name are misses with a warning; other files are left alone', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    const first = await ask(home);
    const [name] = entries(cache);
    const file = path.join(cache, name);
    const whole = fs.readFileSync(file);
    const notes = path.join(cache, 'notes.txt');
    fs.writeFileSync(notes, 'not ours');

    const flipped = Buffer.from(whole);
    flipped[flipped.length - 5] ^= 0x40;
    fs.writeFileSync(file, flipped);
    const r1 = await ask(home);
    expect(r1.pageCacheHits).toBe(0);
    expect(r1.stderr).toContain(`page cache: ignored and removed ${file}: checksum mismatch`);
    expect(r1.tokenIds).toEqual(first.tokenIds);

    fs.writeFileSync(file, Buffer.alloc(whole.length, 0x5a));
    const r2 = await ask(home);
    expect(r2.pageCacheHits).toBe(0);
    expect(r2.stderr).toContain(`page cache: ignored and removed ${file}: not a minimonkey page-cache entry`);
    expect(r2.tokenIds).toEqual(first.tokenIds);
    expect(fs.readFileSync(file).equals(whole)).toBe(true);
    expect(fs.readFileSync(notes, 'utf8')).toBe('not ours');
  });

  it('the same image with another mmproj is a miss; the same mmproj bytes at another path or with a new mtime are hits', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    await ask(home);
    const mixed = ['--model', pair.model, '--mmproj', other.mmproj, '--threads', '2', '--context', '4096', '-p', 'fast', '-n', '8'];
    const otherProjector = await ask(home, question, [], {}, mixed);
    expect(otherProjector.pageCacheHits).toBe(0);
    expect(entries(cache)).toHaveLength(2);

    const copy = path.join(work, 'copy-of-mmproj.gguf');
    fs.copyFileSync(pair.mmproj, copy);
    fs.utimesSync(copy, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    const copied = await ask(home, question, [], {}, ['--model', pair.model, '--mmproj', copy, '--threads', '2', '--context', '4096', '-p', 'fast', '-n', '8']);
    expect(copied.pageCacheHits).toBe(1);
    expect(entries(cache)).toHaveLength(2);
  });

  it('--no-page-cache and MINIMONKEY_PAGE_CACHE=off neither read nor write it', async () => {
    const home = newHome();
    const cache = path.join(home, 'page-cache');
    const off = await ask(home, question, ['--no-page-cache']);
    expect(off.pageCacheHits).toBe(0);
    expect(fs.existsSync(cache)).toBe(false);
    const envOff = await ask(home, question, [], { MINIMONKEY_PAGE_CACHE: 'off' });
    expect(envOff.pageCacheHits).toBe(0);
    expect(fs.existsSync(cache)).toBe(false);

    await ask(home); // stored now
    expect(entries(cache)).toHaveLength(1);
    expect((await ask(home, question, ['--no-page-cache'])).pageCacheHits).toBe(0); // and not read
  });
});

describe('the library', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('is off unless asked for: pageCache false or absent writes nothing under MINIMONKEY_HOME', async () => {
    const home = newHome();
    const saved = process.env.MINIMONKEY_HOME;
    process.env.MINIMONKEY_HOME = home;
    try {
      for (const pageCache of [undefined, false] as const) {
        const mm = await MiniMonkey.load({ ...pair, threads: 2, pageCache });
        try {
          await mm.encodeImage(image, { crop: 'fast' });
          expect(mm.pageCache).toBeUndefined();
        } finally {
          mm.dispose();
        }
      }
      expect(fs.readdirSync(home)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.MINIMONKEY_HOME;
      else process.env.MINIMONKEY_HOME = saved;
    }
  });

  it('stores exactly the embeddings the vision tower gives, and a second model reads them back bit for bit', async () => {
    const dir = path.join(newHome(), 'cache');
    const plain = await MiniMonkey.load({ ...pair, threads: 2 });
    const a = await MiniMonkey.load({ ...pair, threads: 2, pageCache: { dir } });
    const b = await MiniMonkey.load({ ...pair, threads: 2, pageCache: { dir } });
    try {
      const want = (await plain.encodeImage(image, { crop: 'fast' })).embeddings;
      const stored = (await a.encodeImage(image, { crop: 'fast' })).embeddings;
      expect(a.pageCache).toMatchObject({ dir, hits: 0, misses: 1, writes: 1 });
      const read = (await b.encodeImage(image, { crop: 'fast' })).embeddings;
      expect(b.pageCache).toMatchObject({ hits: 1, misses: 0, writes: 0 });
      expect(Buffer.from(stored.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      expect(Buffer.from(read.buffer).equals(Buffer.from(want.buffer))).toBe(true);
      // Another crop plan of the same pixels is another entry.
      await b.encodeImage(image, { crop: 'default' });
      expect(b.pageCache).toMatchObject({ hits: 1, misses: 1, writes: 1 });
      expect(entries(dir)).toHaveLength(2);
    } finally {
      plain.dispose();
      a.dispose();
      b.dispose();
    }
  });

  it('keeps at most maxBytes, evicting the least recently used entry (a hit counts as a use)', async () => {
    const dir = path.join(newHome(), 'cache');
    const pages = await Promise.all([11, 12, 13].map(async (seed) => {
      const file = path.join(work, `page-${seed}.png`);
      fs.writeFileSync(file, await documentImage({ width: 800, height: 600, seed }));
      return file;
    }));
    // Measure one entry, then allow two and a half of them; the memory cache is off, so every
    // encode goes to the disk.
    const probe = await MiniMonkey.load({ ...pair, threads: 2, imageCacheBytes: 0, pageCache: { dir: path.join(dir, '..', 'probe') } });
    await probe.encodeImage(pages[0], { crop: 'fast' });
    const size = fs.statSync(path.join(dir, '..', 'probe', entries(path.join(dir, '..', 'probe'))[0])).size;
    probe.dispose();

    const mm = await MiniMonkey.load({ ...pair, threads: 2, imageCacheBytes: 0, pageCache: { dir, maxBytes: Math.floor(size * 2.5) } });
    try {
      const added: string[] = [];
      const encode = async (file: string) => {
        const before = new Set(entries(dir));
        await mm.encodeImage(file, { crop: 'fast' });
        added.push(...entries(dir).filter((n) => !before.has(n)));
        await sleep(20); // distinct mtimes
      };
      await encode(pages[0]);
      await encode(pages[1]);
      const [a, b] = added;
      expect(entries(dir)).toEqual([a, b].sort());
      await encode(pages[0]); // a hit: A is now the most recently used
      expect(mm.pageCache).toMatchObject({ hits: 1, writes: 2 });
      await encode(pages[2]);
      const c = added[2];
      expect(entries(dir)).toEqual([a, c].sort()); // B went
      expect(fs.existsSync(path.join(dir, b))).toBe(false);
      await encode(pages[1]); // B again: a miss, and now A is the oldest use
      expect(mm.pageCache).toMatchObject({ hits: 1, writes: 4 });
      expect(entries(dir)).toEqual([c, added[3]].sort());
    } finally {
      mm.dispose();
    }
  });

  it('two caches storing and reading one key at once never read a torn entry', async () => {
    const dir = path.join(newHome(), 'cache');
    const x = new PageCache(dir, 1 << 30);
    const y = new PageCache(dir, 1 << 30);
    const key = 'ab'.repeat(32);
    const values = Float32Array.from({ length: 1 << 18 }, (_, i) => Math.sin(i));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const reads: (Float32Array | undefined)[] = [];
      await Promise.all([
        ...Array.from({ length: 6 }, () => x.put(key, values)),
        ...Array.from({ length: 6 }, () => y.put(key, values)),
        ...Array.from({ length: 12 }, async () => reads.push(await y.get(key, values.length))),
      ]);
      await sleep(10); // warnings are emitted on the next tick
      expect(warnings).toEqual([]);
      for (const r of reads) if (r) expect(Buffer.from(r.buffer).equals(Buffer.from(values.buffer))).toBe(true);
      expect(x.writes + y.writes).toBe(12);
      expect(entries(dir)).toEqual([`${key}.mmpc`]);
      expect(temporaries(dir)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('rejects bad options before loading anything', async () => {
    await expect(MiniMonkey.load({ ...pair, pageCache: { maxBytes: -1 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(MiniMonkey.load({ ...pair, pageCache: { dir: '' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(MiniMonkey.load({ ...pair, pageCache: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
