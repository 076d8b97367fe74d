// Batches: model.batch and `minimonkey batch` over files, folders and globs of images and PDF
// pages, on the tiny random-weight pair (greedy, so every page's answer is the library's own answer
// to the same question), written to a JSONL that a re-run resumes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import sharp from 'sharp';
import { MiniMonkey } from '../lib';
import { doneKeys, JsonlWriter, readJsonl } from '../lib/batch/jsonl';
import { planBatch } from '../lib/batch/plan';
import { BatchResult, runPage } from '../lib/batch/task';
import { documentImage } from '../lib/demo/document-image';
import { tempDir, tinyPair } from './helpers/models';
import { makePdf } from './helpers/pdfs';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

let pair: { model: string; mmproj: string };
let mm: MiniMonkey;
let dir: string;
let docs: string;
let modelArgs: string[];
const question = 'What is the total?';
const opts = { question, crop: 'fast' as const, maxTokens: 5 };

/** A small 3-page PDF (small pages: quick to render and encode). */
const smallPdf = () => makePdf([
  { size: [200, 260], text: ['Page one'], shapes: true },
  { size: [260, 200], shapes: true },
  { size: [200, 260], rotate: 90, text: ['Page three'] },
]);

beforeAll(async () => {
  pair = await tinyPair('f32', 4);
  dir = fs.mkdtempSync(path.join(tempDir(), 'batch-'));
  docs = path.join(dir, 'docs');
  fs.mkdirSync(path.join(docs, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(docs, 'a.png'), await documentImage({ width: 320, height: 240, seed: 1 }));
  fs.writeFileSync(path.join(docs, 'sub', 'b.jpg'), await sharp(await documentImage({ width: 240, height: 320, seed: 2 })).jpeg().toBuffer());
  fs.writeFileSync(path.join(docs, 'c.pdf'), await smallPdf());
  fs.writeFileSync(path.join(docs, 'notes.txt'), 'not an image');
  mm = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096 });
  modelArgs = ['--model', pair.model, '--mmproj', pair.mmproj, '--threads', '2', '--context', '4096'];
});

afterAll(() => mm?.dispose());

async function direct(image: string | { pdf: string; page: number }) {
  const s = await mm.chat();
  try {
    return await s.ask([{ type: 'image', image }, question], { crop: 'fast', maxTokens: 5 });
  } finally {
    s.dispose();
  }
}

describe('model.batch', () => {
  it('a folder: every image and PDF page once, in order, each the answer a direct ask gives', async () => {
    const results: BatchResult[] = [];
    for await (const r of mm.batch([docs], opts)) results.push(r);
    const where = results.map((r) => [path.relative(docs, r.file), r.page]);
    expect(where).toEqual([['a.png', null], ['c.pdf', 1], ['c.pdf', 2], ['c.pdf', 3], ['sub/b.jpg', null]]);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      const ref = await direct(r.page === null ? r.file : { pdf: r.file, page: r.page });
      expect(r.answer).toBe(ref.text);
      expect(r.tokens).toEqual(ref.tokens);
      expect(r.timings!.total).toBeGreaterThan(0);
    }
    expect(new Set(results.map((r) => r.key)).size).toBe(5);
  });

  it('keys follow content, page, question and options, not the path', async () => {
    const copy = path.join(dir, 'copy-of-a.png');
    fs.copyFileSync(path.join(docs, 'a.png'), copy);
    const a = (await planBatch([path.join(docs, 'a.png')], opts)).jobs[0].key;
    expect((await planBatch([copy], opts)).jobs[0].key).toBe(a);
    expect((await planBatch([copy], { ...opts, question: 'Other?' })).jobs[0].key).not.toBe(a);
    expect((await planBatch([copy], { ...opts, maxTokens: 6 })).jobs[0].key).not.toBe(a);
    const pages = (await planBatch([path.join(docs, 'c.pdf')], opts, { pages: '3,1' })).jobs;
    expect(pages.map((j) => j.page)).toEqual([3, 1]);
    expect(pages[0].key).not.toBe(pages[1].key);
    // pages past the end: one failure for the file, not one per page of the range
    const long = await planBatch([path.join(docs, 'c.pdf')], opts, { pages: '2-99999' });
    expect(long.jobs.map((j) => j.page)).toEqual([2, 3]);
    expect(long.failed.map((f) => [f.page, f.error?.code])).toEqual([[4, 'PDF']]);
    expect(long.failed[0].error!.message).toMatch(/has 3 pages: 99996 of the pages asked for \(4-99999\) not in it/);
  });

  it('a schema: each value validates, or the page says its JSON was incomplete', async () => {
    const schema = { type: 'object', properties: { total: { type: 'string', maxLength: 6 } }, required: ['total'], additionalProperties: false };
    const validate = new Ajv().compile(schema);
    let values = 0;
    for await (const r of mm.batch([path.join(docs, 'a.png'), path.join(docs, 'c.pdf')], { json: schema, crop: 'fast', maxTokens: 48, pages: '2' })) {
      if (r.error) expect(r.error.code).toBe('INCOMPLETE');
      else {
        expect(validate(r.value)).toBe(true);
        expect(JSON.parse(r.answer!)).toEqual(r.value);
        values++;
      }
    }
    expect(values).toBeGreaterThan(0);
  });
});

describe('finding 9: wrong or unclear batch results (issue 26)', () => {
  it('(a) a file edited after the plan: its answer is stored under the key of the content that was read, never the old key', async () => {
    const f = path.join(dir, 'edited.png');
    fs.writeFileSync(f, await documentImage({ width: 320, height: 240, seed: 7 }));
    const [job] = (await planBatch([f], opts)).jobs;
    fs.writeFileSync(f, await documentImage({ width: 240, height: 320, seed: 8 }));
    const newKey = (await planBatch([f], opts)).jobs[0].key;
    expect(newKey).not.toBe(job.key);
    const r = await runPage(mm, job, opts);
    expect(r.error).toBeUndefined();
    expect(r.key).toBe(newKey);
    expect(r.answer).toBe((await direct(f)).text);
  });

  it('(b) one unreadable file (mode 000) fails its own page; the other pages are planned', () => {
    // Root reads any file, so the plan runs as an unprivileged user when the tests run as root.
    const folder = fs.mkdtempSync('/tmp/minimonkey-unreadable-');
    try {
      fs.chmodSync(folder, 0o755);
      fs.copyFileSync(path.join(docs, 'a.png'), path.join(folder, 'ok.png'));
      fs.copyFileSync(path.join(docs, 'a.png'), path.join(folder, 'secret.png'));
      fs.chmodSync(path.join(folder, 'ok.png'), 0o644);
      fs.chmodSync(path.join(folder, 'secret.png'), 0o000);
      const plan = path.join(__dirname, '..', 'dist', 'lib', 'batch', 'plan.js');
      const script = `require(${JSON.stringify(plan)}).planBatch([${JSON.stringify(folder)}], {question: 'q'}).then((p) => console.log(JSON.stringify(p)), (e) => { console.log(JSON.stringify({thrown: e.code ?? e.message})); })`;
      const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', ...asUser });
      expect(out.stderr).toBe('');
      const p = JSON.parse(out.stdout);
      expect(p.thrown).toBeUndefined();
      expect(p.jobs.map((j: { file: string }) => path.basename(j.file))).toEqual(['ok.png']);
      expect(p.failed.map((f: BatchResult) => [path.basename(f.file), f.error?.code])).toEqual([['secret.png', 'IO']]);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('(e) disposing the model mid-batch stops the batch with DISPOSED; the remaining pages are not recorded, and a resume does them', async () => {
    const other = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096 });
    const out = path.join(dir, 'disposed.jsonl');
    const seen: BatchResult[] = [];
    const e = await (async () => {
      for await (const r of other.batch([docs], { ...opts, out })) {
        seen.push(r);
        if (seen.length === 2) other.dispose();
      }
    })().then(() => undefined, (err: Error & { code?: string }) => err);
    expect(e?.code).toBe('DISPOSED');
    expect(seen.length).toBe(2);
    const lines = readJsonl(out);
    expect(lines.map((l) => l.key)).toEqual(seen.map((r) => r.key));
    expect(lines.every((l) => (l as BatchResult).error === undefined)).toBe(true);
    const rest: BatchResult[] = [];
    for await (const r of mm.batch([docs], { ...opts, out })) rest.push(r);
    expect(rest.length).toBe(3);
    expect(readJsonl(out).length).toBe(5);
  });
});

describe('the results file', () => {
  it('reads back whole lines; a torn last line is skipped, and cut off before the next append', () => {
    const f = path.join(dir, 'torn.jsonl');
    const w = new JsonlWriter(f);
    w.append({ key: 'k1', answer: 'x' });
    w.append({ key: 'k2', error: { code: 'PDF', message: 'no' } });
    w.close();
    fs.appendFileSync(f, '{"key":"k3","ans'); // a crash mid-write
    expect(readJsonl(f).map((r) => r.key)).toEqual(['k1', 'k2']);
    expect([...doneKeys(f)]).toEqual(['k1']); // failed pages are not done
    const w2 = new JsonlWriter(f);
    w2.append({ key: 'k3', answer: 'y' });
    w2.close();
    expect(fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).key)).toEqual(['k1', 'k2', 'k3']);
    fs.appendFileSync(f, 'garbage\n{"key":"k4"}\n');
    expect(() => readJsonl(f)).toThrow(/line 4 is not JSON/); // a bad whole line is not silently dropped
  });
});

describe('minimonkey batch', () => {
  it('writes one line per page, the same as model.batch; a re-run skips them; a lost and a torn line are redone', async () => {
    const out = path.join(dir, 'cli.jsonl');
    const lib: BatchResult[] = [];
    for await (const r of mm.batch([path.join(docs, '*.png'), path.join(docs, 'c.pdf')], { ...opts, pages: '1-2' })) lib.push(r);
    const args = ['batch', path.join(docs, '*.png'), path.join(docs, 'c.pdf'), '--pages', '1-2', '-q', question, '--out', out, '-p', 'fast', '-n', '5', ...modelArgs];
    const first = run(args);
    expect(first.stderr).toMatch(/3 pages, 3 answered, 0 failed/);
    expect(first.status).toBe(0);
    const recs = readJsonl(out) as unknown as BatchResult[];
    expect(recs.map((r) => [r.key, r.file, r.page, r.answer, r.tokens])).toEqual(lib.map((r) => [r.key, r.file, r.page, r.answer, r.tokens]));
    for (const r of recs) expect(Object.keys(r.timings!).sort()).toEqual(['decode', 'encode', 'generate', 'prefill', 'total']);

    const again = run(args);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/3 pages already done/);
    expect(readJsonl(out)).toHaveLength(3);

    // Lose the last line and tear the one before: both pages are done again, nothing else.
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(out, `${lines[0]}\n${lines[1].slice(0, 20)}`);
    const resumed = run(args);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toMatch(/1 page already done/);
    const after = readJsonl(out) as unknown as BatchResult[];
    expect(after.map((r) => r.key)).toEqual(recs.map((r) => r.key));
    expect(after.map((r) => r.answer)).toEqual(recs.map((r) => r.answer));
  });

  it('a broken PDF is a failed line (code PDF), the others are answered, exit 1; --json-schema works from the CLI', () => {
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'broken.pdf'), Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(300, 0x20)]));
    fs.copyFileSync(path.join(docs, 'a.png'), path.join(bad, 'a.png'));
    const schema = path.join(dir, 'schema.json');
    fs.writeFileSync(schema, JSON.stringify({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }));
    const out = path.join(dir, 'bad.jsonl');
    const r = run(['batch', bad, '--json-schema', schema, '--out', out, '-p', 'fast', '-n', '24', ...modelArgs]);
    expect(r.status).toBe(1);
    const recs = readJsonl(out) as unknown as BatchResult[];
    expect(recs.map((x) => [path.basename(x.file), x.error?.code])).toEqual([['broken.pdf', 'PDF'], ['a.png', recs[1].error?.code]]);
    if (!recs[1].error) expect(Number.isInteger((recs[1].value as { n: number }).n)).toBe(true);
    else expect(recs[1].error.code).toBe('INCOMPLETE');
  });

  it('Ctrl-C mid-batch exits 130 with whole lines; the re-run does only the rest', async () => {
    const many = path.join(dir, 'many');
    fs.mkdirSync(many);
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(many, `p${i}.png`), await documentImage({ width: 320, height: 240, seed: 10 + i }));
    const out = path.join(dir, 'int.jsonl');
    const args = ['batch', many, '-q', question, '--out', out, '-p', 'fast', '-n', '5', ...modelArgs];
    const child = spawn(process.execPath, [cli, ...args]);
    const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const t0 = Date.now();
      while (!(fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('\n').length > 2) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGINT');
      expect(await done).toBe(130);
    } finally {
      child.kill('SIGKILL');
    }
    const partial = readJsonl(out);
    expect(partial.length).toBeGreaterThanOrEqual(2);
    expect(partial.length).toBeLessThan(6);
    expect(fs.readFileSync(out, 'utf8').endsWith('\n')).toBe(true);
    const rest = run(args);
    expect(rest.status).toBe(0);
    const all = readJsonl(out);
    expect(all).toHaveLength(6);
    expect(new Set(all.map((r) => r.key)).size).toBe(6);
  });

  it('bad command lines exit 2', () => {
    for (const [args, msg] of [
      [['batch', docs, '--out', 'x.jsonl', ...modelArgs], /give a question/],
      [['batch', docs, '-q', 'x', ...modelArgs], /--out is required/],
      [['batch', '-q', 'x', '--out', 'x.jsonl', ...modelArgs], /give the files/],
      [['batch', docs, '-q', 'x', '--out', 'x.jsonl', '--pages', '3-1', ...modelArgs], /runs backwards/],
      [['batch', docs, '-q', 'x', '--out', 'x.jsonl', '--workers', '0', ...modelArgs], /--workers must be an integer/],
      [['batch', docs, '-q', 'x', '--out', 'x.jsonl', '--queue', 'http://x'], /--queue must be a redis/],
    ] as [string[], RegExp][]) {
      const r = run(args);
      expect([r.status, r.stderr]).toEqual([2, expect.stringMatching(msg)]);
    }
  });
});
