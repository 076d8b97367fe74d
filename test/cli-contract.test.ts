// The CLI's contract, found wanting by hostile testing and held here against the compiled CLI in a
// child process: exit codes (0 ok, 1 failure with the error's code, 2 bad command line, 130
// Ctrl-C), no partial files after Ctrl-C, unknown flags rejected by every command, FIFOs and
// /proc refused at once (never a hang), outputs never written through a symlink, fs errors typed,
// and token ids in tokenizer files bounded before any allocation.
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { convertCheckpoint } from '../lib/convert/convert';
import { MiniMonkeyError } from '../lib/errors';
import { editJson } from './helpers/convert-expect';
import { writeHfCheckpoint, writeSafetensors } from './helpers/hf-checkpoint';
import { tempDir, tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
/** Each run has a deadline, so a command that blocks fails the test instead of hanging it. */
const run = (args: string[], opts: { timeout?: number; nodeArgs?: string[] } = {}) =>
  spawnSync(process.execPath, [...(opts.nodeArgs ?? []), cli, ...args], { encoding: 'utf8', timeout: opts.timeout ?? 60_000 });

let n = 0;
const fresh = (name: string) => {
  const d = path.join(tempDir(), 'contract', `${name}-${++n}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

/** Every entry under `dir`, hidden ones included, recursively. */
function listAll(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

/** Resolves once `dir` holds an entry matching `re` (a temp output appeared). */
function appears(dir: string, re: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (fs.readdirSync(dir).some((f) => re.test(f))) return resolve();
      if (Date.now() > deadline) return reject(new Error(`nothing matching ${re} appeared in ${dir}`));
      setTimeout(poll, 2);
    };
    poll();
  });
}

/**
 * The tiny checkpoint with its embedding and output grown to `rows` rows (zeros past the real
 * vocabulary, which the converter pads with unused tokens), so converting it takes long enough
 * for a signal to land mid-way; the tiny one converts in a few tens of milliseconds.
 */
function slowCheckpoint(dir: string, rows: number): string {
  const c = writeHfCheckpoint(dir, { seed: 5 });
  for (const name of ['language_model.model.tok_embeddings.weight', 'language_model.output.weight']) {
    const t = c.tensors.get(name)!;
    const data = new Float64Array(rows * t.shape[1]);
    data.set(t.data);
    c.tensors.set(name, { shape: [rows, t.shape[1]], data });
  }
  writeSafetensors(path.join(c.dir, 'model.safetensors'), [...c.tensors.keys()], c.tensors);
  editJson(path.join(c.dir, 'config.json'), (j) => {
    j.llm_config.vocab_size = rows;
  });
  return c.dir;
}

let image: string;
let pair: { mmproj: string; model: string };
beforeAll(async () => {
  image = path.join(fresh('img'), 'page.png');
  await sharp({ create: { width: 600, height: 400, channels: 3, background: '#eeeeee' } }).png().toFile(image);
  pair = await tinyPair();
});

describe('unknown flags', () => {
  it('every command rejects an unknown flag with exit 2 and its usage, before doing anything', () => {
    const model = ['--model', pair.model, '--mmproj', pair.mmproj];
    const cases: string[][] = [
      ['ask', image, 'what?', ...model],
      ['chat', ...model],
      ['demo'],
      ['bench'],
      ['bench', 'llm'],
      ['bench', 'vision'],
      ['synth', '--shape', 'tiny', '--out', fresh('synth')],
      ['convert', fresh('ckpt'), '--out', fresh('out')],
      ['pull', 'owner/name', '--out', fresh('pull')],
      ['info', pair.model],
      ['crops', image],
      ['runtime'],
    ];
    for (const args of cases) {
      const r = run([...args, '--bogus'], { timeout: 30_000 });
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(/Unknown option '--bogus'/);
      expect(r.stderr).toMatch(new RegExp(`usage: minimonkey ${args[0]}`));
    }
    // bench passes options through to the benchmark, so it checks them per target
    const wrongTarget = run(['bench', 'llm', '--tiles', '2'], { timeout: 30_000 });
    expect(wrongTarget.status).toBe(2);
    expect(wrongTarget.stderr).toMatch(/Unknown option '--tiles'/);
  });
});

/** Runs the CLI, sends one SIGINT `afterMs` after a temp output appears in `out`, and waits for its exit. */
async function interruptOnce(args: string[], out: string, afterMs: number) {
  const child = spawn(process.execPath, [cli, ...args]);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = exited(child);
  try {
    await appears(out, /partial/, 30_000);
    if (afterMs > 0) await new Promise((r) => setTimeout(r, afterMs)); // some of it written
    expect(child.kill('SIGINT')).toBe(true);
    return { ...(await done), stderr };
  } finally {
    child.kill('SIGKILL'); // never left running when an assertion failed
  }
}

describe('Ctrl-C', () => {
  it('synth: SIGINT while a file is being written exits 130 and leaves nothing', async () => {
    const out = fresh('synth-int');
    // The full-size vision tower in f32: 1.2 GB, far longer than it takes to send the signal.
    const result = await interruptOnce(['synth', '--shape', 'internvl2-2b', '--only', 'vision', '--vision-type', 'f32', '--out', out], out, 300);
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 130, signal: null });
    expect(result.stderr).toMatch(/minimonkey synth: interrupted/);
    expect(listAll(out)).toEqual([]);
  }, 60_000);

  it('convert: SIGINT while the pair is being written exits 130 and leaves nothing', async () => {
    const ckpt = slowCheckpoint(path.join(fresh('ckpt-int'), 'mm'), 1 << 17);
    const out = fresh('convert-int');
    fs.writeFileSync(path.join(out, 'keep.txt'), 'unrelated');
    // The signal is sent the moment the first temp output appears, mid-way through writing.
    const result = await interruptOnce(['convert', ckpt, '--out', out, '--text-type', 'q4_k_m', '--vision-type', 'f16'], out, 0);
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 130, signal: null });
    expect(result.stderr).toMatch(/minimonkey convert: interrupted/);
    expect(listAll(out)).toEqual(['keep.txt']);
  }, 60_000);
});

describe('special files and /proc are refused at once', () => {
  it('a FIFO as the input of info fails fast with an IO error', () => {
    const fifo = path.join(fresh('fifo'), 'model.gguf');
    execFileSync('mkfifo', [fifo]);
    const t = Date.now();
    const r = run(['info', fifo], { timeout: 15_000 });
    expect(r.error).toBeUndefined(); // not killed by the deadline
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/model\.gguf is a FIFO, not a regular file \[IO\]/);
    expect(Date.now() - t).toBeLessThan(15_000);
    // the same for a model given to ask
    const ask = run(['ask', 'hi', '--model', fifo, '--mmproj', pair.mmproj], { timeout: 15_000 });
    expect(ask.status).toBe(1);
    expect(ask.stderr).toMatch(/FIFO.*\[IO\]/);
  });

  it('an output under /proc fails fast with an IO error, for every command that writes', () => {
    const cases: string[][] = [
      ['synth', '--shape', 'tiny', '--out', '/proc/x'],
      ['demo', '--out', '/proc/x'],
      ['crops', image, '-o', '/proc/x'],
      ['convert', writeHfCheckpoint(path.join(fresh('ckpt-proc'), 'mm'), { seed: 6 }).dir, '--out', '/proc/x'],
    ];
    for (const args of cases) {
      const r = run(args, { timeout: 15_000 });
      expect({ args, error: r.error, status: r.status }).toEqual({ args, error: undefined, status: 1 });
      expect(r.stderr).toMatch(/\/proc\/x is on the kernel's proc file system.*\[IO\]/);
    }
    expect(run(['info', '/proc/self/status'], { timeout: 15_000 }).stderr).toMatch(/proc file system.*\[IO\]/);
  });
});

describe('outputs', () => {
  it('crops -o onto a symlink replaces the link with the PNG and leaves its target untouched', async () => {
    const d = fresh('link');
    const target = path.join(d, 'precious.txt');
    fs.writeFileSync(target, 'do not overwrite');
    const link = path.join(d, 'plan.png');
    fs.symlinkSync(target, link);
    const r = run(['crops', image, '-o', link]);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(target, 'utf8')).toBe('do not overwrite');
    expect(fs.lstatSync(link).isFile()).toBe(true);
    expect((await sharp(link).metadata()).format).toBe('png');
    expect(listAll(d)).toEqual(['plan.png', 'precious.txt']);
  });

  it('a folder or a file in the way is a typed IO error naming the path, never a raw EISDIR/EEXIST', () => {
    const d = fresh('eisdir');
    const asDir = path.join(d, 'plan.png');
    fs.mkdirSync(asDir);
    const crops = run(['crops', image, '-o', asDir]);
    expect(crops.status).toBe(1);
    expect(crops.stderr).toMatch(/cannot write .*plan\.png: it is a folder, not a regular file \[IO\]/);
    // synth onto a folder where its output file goes
    const out = fresh('synth-dir');
    fs.mkdirSync(path.join(out, 'mmproj-tiny-f32.gguf'));
    const synth = run(['synth', '--shape', 'tiny', '--out', out]);
    expect(synth.status).toBe(1);
    expect(synth.stderr).toMatch(/mmproj-tiny-f32\.gguf: it is a folder.*\[IO\]/);
    // --out naming a file (mkdir's EEXIST before)
    const file = path.join(d, 'a-file');
    fs.writeFileSync(file, 'x');
    const onFile = run(['synth', '--shape', 'tiny', '--out', file]);
    expect(onFile.status).toBe(1);
    expect(onFile.stderr).toMatch(/a-file: it is a file, not a folder \[IO\]/);
    for (const r of [crops, synth, onFile]) expect(r.stderr).not.toMatch(/EISDIR:|EEXIST:/);
    // info on a folder (the reader's raw EISDIR before)
    const info = run(['info', d]);
    expect(info.status).toBe(1);
    expect(info.stderr).toMatch(/is a folder, not a regular file \[IO\]/);
  });
});

describe('convert: token ids are bounded', () => {
  it('added_tokens.json with id 100000000 is a typed error, fast and in bounded memory', async () => {
    const c = writeHfCheckpoint(path.join(fresh('ckpt-id'), 'mm'), { seed: 7 });
    editJson(path.join(c.dir, 'added_tokens.json'), (j) => {
      j['<huge>'] = 100_000_000;
    });
    const out = fresh('out-id');
    // 128 MB of heap: padding the vocabulary to 100M tokens would run out of it long before.
    const r = run(['convert', c.dir, '--out', out], { timeout: 30_000, nodeArgs: ['--max-old-space-size=128'] });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/token '<huge>' has id 100000000, but the embedding has only \d+ rows.*\[MODEL_LOAD\]/);
    expect(listAll(out)).toEqual([]);
    const e = await convertCheckpoint({ checkpointDir: c.dir, outDir: out }).catch((x) => x);
    expect(e).toBeInstanceOf(MiniMonkeyError);
    expect(e.code).toBe('MODEL_LOAD');
  });
});
