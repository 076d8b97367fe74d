// `minimonkey serve` as a user starts it: the command line's checks (exit 2), the listening line,
// one log line per request (status, tokens, ms), and SIGTERM: the reply in flight is finished
// (its stream ends with [DONE]), no new connection is taken, and the process exits 143.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
let pair: { model: string; mmproj: string };
beforeAll(async () => {
  pair = await tinyPair('f32', 4);
});

test('bad flags are usage errors (exit 2) before any model is read', () => {
  for (const bad of [['--parallel', '0'], ['--port', 'x'], ['--max-waiting', '-1'], ['--queue', '-1'], ['--queue', 'x'], ['--api-key', ' ']]) {
    const r = spawnSync(process.execPath, [cli, 'serve', '--model', pair.model, '--mmproj', pair.mmproj, ...bad], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: minimonkey serve');
    // --queue is --max-waiting's old name (kept one minor version): said so once its value is read.
    if (bad[0] === '--queue' && bad[1] === 'x') expect(r.stderr).toContain('--queue N is now --max-waiting N');
  }
  expect(spawnSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' }).stdout).toContain('--api-key KEY');
});

test('SIGTERM drains: the stream in flight ends with [DONE], then the process exits 143; each request is one log line', async () => {
  const p = spawn(process.execPath, [cli, 'serve', '--model', pair.model, '--mmproj', pair.mmproj, '-t', '2', '--context', '16384', '--port', '0', '--max-tokens-limit', '12000']);
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]);
    }, 50);
    exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
    exited.finally(() => clearInterval(t));
    setTimeout(() => clearInterval(t), 60_000).unref();
  });
  const health = await (await fetch(`${url}/health`)).json();
  expect(health).toEqual({ status: 'ok', slots: 1, busy: 0, queued: 0 });

  let body = '';
  let firstData!: () => void;
  const started = new Promise<void>((r) => (firstData = r));
  const done = new Promise<void>((resolve, reject) => {
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        firstData();
      });
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    // A reply of seconds: greedy on the tiny pair this prompt runs far past 300 tokens.
    req.end(JSON.stringify({ messages: [{ role: 'user', content: 'Write a very long story about the sea' }], max_tokens: 300, stream: true }));
  });
  await started;
  p.kill('SIGTERM');
  await done;
  expect(body).toContain('"finish_reason":"length"');
  expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
  expect(await exited).toBe(143);
  // The stop was announced while the reply was still being generated, and the reply then finished.
  const stopping = stderr.indexOf('stopping: finishing requests in flight');
  const line = / POST \/v1\/chat\/completions 200 \d+ms stream slot=0 prompt=\d+ \(0 image, 0 cached\) completion=(\d+) maxTokens\n/.exec(stderr);
  expect(stopping).toBeGreaterThan(0);
  expect(line).not.toBeNull();
  expect(line!.index).toBeGreaterThan(stopping);
  expect(Number(line![1])).toBe(300);
  expect(stderr).toMatch(/ GET \/health 200 \d+ms\n/);
  expect(stderr.indexOf('minimonkey serve: stopped')).toBeGreaterThan(line!.index);
  await expect(fetch(`${url}/health`)).rejects.toThrow();
}, 120_000);

test('the page ships in the package (package.json "files"), beside the compiled server', () => {
  const root = path.join(__dirname, '..');
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(0);
  const files = (JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['lib/server/page/index.html', 'lib/server/page/page.js', 'lib/server/page/page.css', 'dist/lib/server/server.js', 'dist/lib/cli/serve.js']));
  expect(files.filter((f) => f.startsWith('lib/') && !f.startsWith('lib/server/page/'))).toEqual([]);
});

test('serve --preset/--scm set what a plain OpenAI request gets; --alias or the file name is the model id; progress chunks before the first token', async () => {
  const start = async (extra: string[]) => {
    const p = spawn(process.execPath, [cli, 'serve', '--model', pair.model, '--mmproj', pair.mmproj, '-t', '2', '--context', '8192', '--port', '0', ...extra]);
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setInterval(() => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m) resolve(m[1]);
      }, 50);
      p.on('close', () => reject(new Error(`serve exited: ${stderr}`)));
      setTimeout(() => clearInterval(t), 60_000).unref();
    }).finally(() => undefined);
    return { p, url, log: () => stderr };
  };
  const { documentImage } = await import('../lib/demo/document-image');
  const image = `data:image/png;base64,${(await documentImage({ width: 900, height: 640, seed: 5 })).toString('base64')}`;
  const messages = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: 'What is it?' }] }];
  const { planCrops } = await import('../lib');

  const tuned = await start(['--preset', 'fast', '--scm', '--alias', 'my-reader']);
  try {
    expect(tuned.log()).toContain('preset fast, SCM on unless a request says otherwise');
    expect((await (await fetch(`${tuned.url}/v1/models`)).json() as any).data.map((m: { id: string }) => m.id)).toEqual(['my-reader']);
    const plain = await (await fetch(`${tuned.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: 'my-reader', messages, max_tokens: 2 }) })).json() as any;
    expect(plain.minimonkey.images[0].detail).toEqual(planCrops(900, 640, 'fast').detail);
    expect(plain.minimonkey.scm).toBeDefined();
    // A request that says otherwise gets what it says.
    const own = await (await fetch(`${tuned.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ messages, max_tokens: 2, minimonkey: { crop: 'default', scm: false } }) })).json() as any;
    expect(own.minimonkey.images[0].detail).toEqual(planCrops(900, 640, 'default').detail);
    expect(own.minimonkey.scm).toBeUndefined();
    // Streaming: progress chunks (an empty delta with our extension) come before the first piece of text.
    const sse = await (await fetch(`${tuned.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ messages, max_tokens: 2, stream: true }) })).text();
    const chunks = sse.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
    const progress = chunks.filter((c) => c.minimonkey?.progress).map((c) => c.minimonkey.progress.phase);
    expect(progress).toEqual(expect.arrayContaining(['encode', 'scm', 'prefill']));
    const firstText = chunks.findIndex((c) => c.choices[0]?.delta?.content);
    const lastProgress = chunks.map((c) => Boolean(c.minimonkey?.progress)).lastIndexOf(true);
    expect(lastProgress).toBeLessThan(firstText);
    for (const c of chunks.filter((x) => x.minimonkey?.progress)) expect(c.choices[0].delta).toEqual({});
  } finally {
    tuned.p.kill('SIGTERM');
  }
  const named = await start([]);
  try {
    expect((await (await fetch(`${named.url}/v1/models`)).json() as any).data[0].id).toBe(path.basename(pair.model, '.gguf'));
  } finally {
    named.p.kill('SIGTERM');
  }
  expect(spawnSync(process.execPath, [cli, 'serve', '--model', pair.model, '--mmproj', pair.mmproj, '--preset', 'fsat'], { encoding: 'utf8' }).stderr)
    .toContain("unknown preset 'fsat'; did you mean 'fast'?");
}, 180_000);
