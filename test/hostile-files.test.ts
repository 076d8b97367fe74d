// Hostile files (issue 26, findings 5, 6, 9): every user-named file goes through one reader that
// refuses FIFOs, devices and /proc files before reading, also behind symlinks; a results file that
// a batch did not write is never cut; a link at --out is replaced, its target untouched; a batch
// folder with a FIFO or a symlink loop is planned at once, each file once. No model is needed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { IoError } from '../lib/errors';
import { doneKeys, JsonlWriter, readJsonl } from '../lib/batch/jsonl';
import { planBatch } from '../lib/batch/plan';
import { readInputFile, readInputFileSync } from '../lib/util/file-kind';
import { tempDir } from './helpers/models';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(tempDir(), 'hostile-files-'));
});

const fifo = (p: string) => execFileSync('mkfifo', [p]);

describe('the one input reader', () => {
  it('refuses a FIFO, /dev/zero and /proc/self/environ behind symlinks at once, with IO', async () => {
    fifo(path.join(dir, 'pipe'));
    fs.symlinkSync(path.join(dir, 'pipe'), path.join(dir, 'pipe.png'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'zero.json'));
    fs.symlinkSync('/proc/self/environ', path.join(dir, 'env.png'));
    for (const f of ['pipe.png', 'zero.json', 'env.png']) {
      const t0 = Date.now();
      await expect(readInputFile(path.join(dir, f), 'image')).rejects.toThrow(IoError);
      expect(() => readInputFileSync(path.join(dir, f), 'image')).toThrow(IoError);
      expect(Date.now() - t0).toBeLessThan(2000);
    }
  });

  it('bounds the bytes read', async () => {
    const f = path.join(dir, 'big.bin');
    fs.writeFileSync(f, Buffer.alloc(4096, 1));
    expect(readInputFileSync(f, 'x', { maxBytes: 4096 })).toHaveLength(4096);
    expect(() => readInputFileSync(f, 'x', { maxBytes: 4095 })).toThrow(/over the limit of 4095/);
    await expect(readInputFile(f, 'x', { maxBytes: 100 })).rejects.toThrow(IoError);
  });
});

describe('the results file', () => {
  it("a user's notes.txt without a trailing newline is refused, naming the file and line, and kept whole", () => {
    const notes = path.join(dir, 'notes.txt');
    fs.writeFileSync(notes, 'buy milk\ncall Anna');
    expect(() => doneKeys(notes)).toThrow(/notes\.txt line 1 is not JSON/);
    expect(() => new JsonlWriter(notes)).toThrow(/notes\.txt line 2 is not JSON/);
    expect(fs.readFileSync(notes, 'utf8')).toBe('buy milk\ncall Anna');
  });

  it('a torn record is cut; a whole record that lost its newline is kept', () => {
    const f = path.join(dir, 'r.jsonl');
    fs.writeFileSync(f, '{"key":"a"}\n{"key":"b"}');
    new JsonlWriter(f).close();
    expect(readJsonl(f).map((r) => r.key)).toEqual(['a', 'b']);
    fs.appendFileSync(f, '{"key":"c","ans');
    const w = new JsonlWriter(f);
    w.append({ key: 'd' });
    w.close();
    expect(fs.readFileSync(f, 'utf8')).toBe('{"key":"a"}\n{"key":"b"}\n{"key":"d"}\n');
  });

  it('a link at --out is replaced by the results file; its target is neither read nor cut', () => {
    const target = path.join(dir, 'precious.txt');
    fs.writeFileSync(target, 'my thesis, no newline at the end');
    const link = path.join(dir, 'out.jsonl');
    fs.symlinkSync(target, link);
    expect(doneKeys(link).size).toBe(0);
    const w = new JsonlWriter(link);
    w.append({ key: 'k' });
    w.close();
    expect(fs.readFileSync(target, 'utf8')).toBe('my thesis, no newline at the end');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(false);
    expect(readJsonl(link).map((r) => r.key)).toEqual(['k']);
  });
});

describe('planning a batch over a hostile folder', () => {
  it('a FIFO is passed over and a /dev/zero link is a failed page (IO), at once; a symlinked loop gives each file once', async () => {
    const docs = path.join(dir, 'docs');
    fs.mkdirSync(path.join(docs, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(docs, 'a.png'), await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer());
    fifo(path.join(docs, 'sub', 'pipe.png'));
    fs.symlinkSync('/dev/zero', path.join(docs, 'zero.png'));
    fs.symlinkSync(docs, path.join(docs, 'sub', 'loop')); // docs/sub/loop -> docs
    const t0 = Date.now();
    const plan = await planBatch([docs], { question: 'q' });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(plan.jobs.map((j) => path.basename(j.file))).toEqual(['a.png']);
    // The folder walk lists files only (tinyglobby's onlyFiles): the FIFO is passed over, never opened;
    // the link to /dev/zero is followed to a file name, and the reader refuses it.
    expect(plan.failed.map((f) => [path.basename(f.file), f.error?.code])).toEqual([['zero.png', 'IO']]);
  });
});
