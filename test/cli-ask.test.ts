// `minimonkey ask` and `minimonkey chat` as users run them: the compiled CLI in a child process on
// the tiny random-weight pair, checked against the library API asked the same greedy questions.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkey } from '../lib';
import { documentImage } from '../lib/demo/document-image';
import { tempDir, tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const run = (args: string[], input?: string) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', input });

let pair: { model: string; mmproj: string };
let mm: MiniMonkey;
let dir: string;
let image: string;
let modelArgs: string[];

beforeAll(async () => {
  pair = await tinyPair('f32', 4);
  dir = fs.mkdtempSync(path.join(tempDir(), 'cli-ask-'));
  image = path.join(dir, 'page.png');
  fs.writeFileSync(image, await documentImage({ width: 800, height: 600, seed: 3 }));
  mm = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 2, contextSize: 4096 });
  modelArgs = ['--model', pair.model, '--mmproj', pair.mmproj, '--threads', '2', '--context', '4096'];
});

afterAll(() => mm?.dispose());

describe('minimonkey ask', () => {
  const question = 'What is the total amount?';

  it('--json gives the token ids and text the library gives, and nothing else on stdout; streaming prints the same text', async () => {
    const lib = await (await mm.chat()).ask([{ type: 'image', image }, question], { crop: 'fast', maxTokens: 12 });
    expect(lib.tokenIds.length).toBeGreaterThan(0);

    const json = run(['ask', image, question, ...modelArgs, '--preset', 'fast', '--max-tokens', '12', '--json']);
    expect(json.status).toBe(0);
    const out = JSON.parse(json.stdout); // the whole of stdout is one JSON object
    expect(out.tokenIds).toEqual(lib.tokenIds);
    expect(out.text).toBe(lib.text);
    expect(out.finishReason).toBe(lib.finishReason);
    expect(out.tokens).toEqual(lib.tokens);
    expect(Object.keys(out.timings).sort()).toEqual(['decode', 'encode', 'generate', 'prefill']);
    const plan = lib.images[0];
    expect(out.images).toHaveLength(1);
    expect(out.images[0]).toMatchObject({ width: 800, height: 600, detail: plan.detail, adaptive: plan.adaptive, imageTokens: plan.imageTokens });
    expect(out.images[0].tiles).toEqual({ detail: plan.layers.detail.count, adaptive: plan.layers.adaptive.count, global: 1, total: plan.tileCount });

    const streamed = run(['ask', image, question, ...modelArgs, '-p', 'fast', '-n', '12']);
    expect(streamed.status).toBe(0);
    expect(streamed.stdout).toBe(`${out.text}\n`);
    expect(streamed.stderr).toContain(`${plan.tileCount} tiles, ${plan.imageTokens.toLocaleString('en-US')} image`);
  });

  it('--scm is passed to the library: its report is in the JSON, with fewer image tokens prefilled', () => {
    const r = run(['ask', image, question, ...modelArgs, '-p', 'default', '-n', '4', '--scm', '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.scm.detailTokens).toBeGreaterThan(0);
    expect(out.scm.tokensBefore - out.scm.tokensAfter).toBe(out.scm.detailTokens - out.scm.detailKept);
    expect(out.tokens.image).toBe(out.images[0].imageTokens - (out.scm.detailTokens - out.scm.detailKept));
    const plain = JSON.parse(run(['ask', image, question, ...modelArgs, '-p', 'fast', '-n', '4', '--json']).stdout);
    expect(plain.scm).toBeUndefined();
    expect(plain.tokens.image).toBe(plain.images[0].imageTokens);
  });

  it('--json is one compact line; SCM scores only behind --scm-scores', () => {
    const brief = run(['ask', image, question, ...modelArgs, '-p', 'default', '-n', '2', '--scm', '--json']);
    expect(brief.status).toBe(0);
    expect(brief.stdout.trimEnd().split('\n')).toHaveLength(1);
    const out = JSON.parse(brief.stdout);
    expect(out.scm.images[0]).toEqual({ image: 0, offset: expect.any(Number), length: out.scm.detailTokens, kept: out.scm.detailKept });
    const full = run(['ask', image, question, ...modelArgs, '-p', 'default', '-n', '2', '--scm', '--json', '--scm-scores']);
    expect(full.status).toBe(0);
    const all = JSON.parse(full.stdout);
    expect(all.scm.images[0].scores).toHaveLength(out.scm.detailTokens);
    expect(all.scm.images[0].kept).toHaveLength(out.scm.detailKept);
    expect(all.text).toBe(out.text);
    expect(run(['ask', image, question, ...modelArgs, '--scm-scores']).status).toBe(2);
  });

  it('asks without an image: one argument, or --text-only', async () => {
    const lib = await (await mm.chat()).ask('Hello, who are you?', { maxTokens: 10 });
    for (const args of [['Hello, who are you?'], ['--text-only', 'Hello, who are you?']]) {
      const r = run(['ask', ...args, ...modelArgs, '-n', '10', '--json']);
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.tokenIds).toEqual(lib.tokenIds);
      expect(out.images).toEqual([]);
    }
  });

  it('--help exits 0; bad options and arguments print the usage and exit 2', () => {
    const help = run(['ask', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: minimonkey ask <image> "<question>"/);
    const bad: string[][] = [
      [image, question, ...modelArgs, '--bogus'],
      [image, question, ...modelArgs, '--max-tokens', '0'],
      [image, question, ...modelArgs, '--max-tokens', 'many'],
      [image, question, ...modelArgs, '--temperature', '-1'],
      [image, question, ...modelArgs, '--preset', 'huge'],
      [image, question, ...modelArgs, '--threads', '0'],
      [image, question, '--mmproj', pair.mmproj], // no --model
      [image, ...modelArgs], // an image with no question
      [...modelArgs], // nothing to ask
      ['a', 'b', 'c', ...modelArgs],
    ];
    for (const args of bad) {
      const r = run(['ask', ...args]);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(/usage: minimonkey ask/);
      expect(r.stdout).toBe('');
    }
  });

  it('a missing model, projector or image file exits 1 naming the file', () => {
    const nope = path.join(dir, 'nope.gguf');
    const cases: [string[], RegExp][] = [
      [['--model', nope, '--mmproj', pair.mmproj], /model file not found: .*nope\.gguf/],
      [['--model', pair.model, '--mmproj', nope], /mmproj file not found: .*nope\.gguf/],
    ];
    for (const [files, message] of cases) {
      const r = run(['ask', image, question, ...files]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    const noImage = run(['ask', path.join(dir, 'missing.png'), question, ...modelArgs]);
    expect(noImage.status).toBe(1);
    expect(noImage.stderr).toMatch(/image file not found: .*missing\.png/);
  });

  it('Ctrl-C (SIGINT) stops generation and exits 130', async () => {
    // Greedy on random weights loops without an end token: this reply would run for minutes.
    const child = spawn(process.execPath, [cli, 'ask', image, question, ...modelArgs, '-p', 'fast', '-n', '100000', '--context', '120000']);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let sent = false;
    child.stdout.once('data', () => {
      sent = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted/);
  });
});

describe('minimonkey chat with piped input', () => {
  it('answers an image question and a follow-up on one conversation, then exits 0 at the end of input', async () => {
    const session = await mm.chat();
    const first = await session.ask([{ type: 'image', image }, 'What is the title?'], { crop: 'fast', maxTokens: 8 });
    const second = await session.ask('And the date?', { crop: 'fast', maxTokens: 8 });
    // The follow-up really depends on the first turn: asked alone it would read a different prompt.
    const alone = await (await mm.chat()).ask('And the date?', { maxTokens: 8 });
    expect(second.tokenIds).not.toEqual(alone.tokenIds);

    const r = run(['chat', ...modelArgs, '-p', 'fast', '-n', '8'], `/image ${image} What is the title?\nAnd the date?\n`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${first.text}\n${second.text}\n`);
  });

  it('@FILE attaches an image, /reset starts over, /exit stops reading; a missing image fails the run (exit 1)', async () => {
    const lib = await (await mm.chat()).ask([{ type: 'image', image }, 'Title?'], { crop: 'fast', maxTokens: 6 });
    const input = [`@${image} Title?`, '/reset', `@${image}`, 'Title?', `@${path.join(dir, 'gone.png')} Why?`, '/exit', 'never asked'].join('\n');
    const r = run(['chat', ...modelArgs, '-p', 'fast', '-n', '6'], `${input}\n`);
    expect(r.status).toBe(1);
    // After /reset the same question on the same image gets the first reply again.
    expect(r.stdout).toBe(`${lib.text}\n${lib.text}\n`);
    expect(r.stderr).toMatch(/conversation reset/);
    expect(r.stderr).toMatch(/image file not found: .*gone\.png/);
  });

  it('--help lists the in-conversation commands; a stray argument exits 2', () => {
    const help = run(['chat', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/\/image FILE/);
    expect(help.stdout).toMatch(/\/reset/);
    expect(run(['chat', 'what?', ...modelArgs]).status).toBe(2);
    expect(run(['chat', '--model', pair.model]).status).toBe(2);
  });
});
