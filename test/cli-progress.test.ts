// Progress where stderr is not a terminal (a log, a CI job, a pipe): plain lines, throttled, never
// bars. The throttle is MINIMONKEY_PROGRESS_MS (default 10 s); 0 prints every step, so a short run
// on the tiny pair shows each phase.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { documentImage } from '../lib/demo/document-image';
import { BatchProgress, PLAIN_PREFIX, ProgressBar } from '../lib/cli/progress';
import { tempDir, tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');

function collect(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  return { stream: s as unknown as NodeJS.WriteStream, text: () => out };
}

describe('progress off a terminal', () => {
  it('a plain line per interval, none before the first interval has passed', () => {
    const quiet = collect();
    const bar = new ProgressBar(quiet.stream, 60_000);
    for (let i = 0; i <= 10; i++) bar.update('prefill', i / 10);
    expect(quiet.text()).toBe('');
    const every = collect();
    const all = new ProgressBar(every.stream, 0);
    all.update('image encode', 0.5);
    all.update('prefill', 1);
    expect(every.text()).toBe(`${PLAIN_PREFIX} image encode 50%\n${PLAIN_PREFIX} prefill 100%\n`);
    expect(every.text()).not.toMatch(/\r|\x1b/);
    const pages = collect();
    const batch = new BatchProgress(4, pages.stream, 0);
    batch.page(false);
    batch.page(true);
    expect(pages.text().split('\n')[2]).toMatch(new RegExp(`^\\${PLAIN_PREFIX} 2/4 pages, 1 failed [\\d.]+/min`));
  });

  it('`minimonkey ask` and `minimonkey batch` with stderr piped show their phases and pages', async () => {
    const pair = await tinyPair();
    const dir = fs.mkdtempSync(path.join(tempDir(), 'progress-'));
    for (const n of ['a', 'b']) fs.writeFileSync(path.join(dir, `${n}.png`), await documentImage({ width: 300, height: 220, seed: n === 'a' ? 1 : 2 }));
    const env = { ...process.env, MINIMONKEY_PROGRESS_MS: '0' };
    const model = ['--model', pair.model, '--mmproj', pair.mmproj, '--threads', '1', '-n', '2', '-p', 'fast'];
    const ask = spawnSync(process.execPath, [cli, 'ask', path.join(dir, 'a.png'), 'What is it?', ...model], { encoding: 'utf8', env });
    expect(ask.status).toBe(0);
    const phases = ask.stderr.split('\n').filter((l) => l.startsWith(PLAIN_PREFIX)).map((l) => l.slice(PLAIN_PREFIX.length + 1).replace(/ \d+%$/, ''));
    expect(phases).toEqual(expect.arrayContaining(['load text', 'load vision', 'image encode', 'prefill']));
    const batch = spawnSync(process.execPath, [cli, 'batch', dir, '-q', 'What is it?', '--out', path.join(dir, 'out.jsonl'), ...model], { encoding: 'utf8', env });
    expect(batch.status).toBe(0);
    expect(batch.stderr).toMatch(new RegExp(`^\\${PLAIN_PREFIX} 2/2 pages`, 'm'));
  });
});
