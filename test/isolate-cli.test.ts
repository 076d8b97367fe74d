// `--isolate` as users type it: `ask`, `chat` and `serve` with the model in a child process give
// the in-process commands' answers; a death of that child is a WORKER error (exit 1 for ask, a
// 500 for the request in flight on serve) while the command's own process lives on, and serve's
// next request gets a fresh child.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { documentImage } from '../lib/demo/document-image';
import { tempDir, tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const run = (args: string[], input?: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', input, env: { ...process.env, ...env } });

let modelArgs: string[];
let image: string;

beforeAll(async () => {
  const pair = await tinyPair('f32', 4);
  const dir = fs.mkdtempSync(path.join(tempDir(), 'isolate-cli-'));
  image = path.join(dir, 'page.png');
  fs.writeFileSync(image, await documentImage({ width: 800, height: 600, seed: 3 }));
  modelArgs = ['--model', pair.model, '--mmproj', pair.mmproj, '--threads', '1', '--context', '4096'];
});

test('ask --isolate answers as ask does; a crash of its child is exit 1 with [WORKER], not a crash of the command', () => {
  const q = ['ask', image, 'What is the total amount?', '--preset', 'fast', '--max-tokens', '12', '--json'];
  const plain = run([...q, ...modelArgs]);
  expect(plain.status).toBe(0);
  const isolated = run([...q, ...modelArgs, '--isolate']);
  expect(isolated.status).toBe(0);
  expect(JSON.parse(isolated.stdout).tokenIds).toEqual(JSON.parse(plain.stdout).tokenIds);

  const crashed = run([...q, ...modelArgs, '--isolate'], undefined, { MINIMONKEY_TEST_CRASH: 'prefill:SIGSEGV' });
  expect(crashed.signal).toBeNull();
  expect(crashed.status).toBe(1);
  expect(crashed.stderr).toMatch(/killed by SIGSEGV during an ask \(prefill\).*\[WORKER\]/);
  // The hook is the child entry point's only: in one process the same variable does nothing.
  expect(run([...q, ...modelArgs], undefined, { MINIMONKEY_TEST_CRASH: 'prefill:SIGSEGV' }).status).toBe(0);
  expect(run(['ask', '--help']).stdout).toContain('--isolate');
});

test('chat --isolate holds the conversation as chat does', () => {
  const input = `/image ${image} What is the title?\nAnd the date?\n`;
  const plain = run(['chat', ...modelArgs, '-p', 'fast', '-n', '8'], input);
  const isolated = run(['chat', ...modelArgs, '-p', 'fast', '-n', '8', '--isolate'], input);
  expect(plain.status).toBe(0);
  expect(isolated.status).toBe(0);
  expect(isolated.stdout).toBe(plain.stdout);
  expect(isolated.stdout.trim().split('\n').length).toBe(2);
});

/** The pid of the one child process of `pid` (Linux: /proc's children list). */
function childOf(pid: number): number | undefined {
  const list = fs.readdirSync(`/proc/${pid}/task`).flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  return list.length > 0 ? Number(list[0]) : undefined;
}

type Reply = { choices: { message: { content: string } }[]; error?: { code: string; message: string } };
type Message = { role: 'user' | 'assistant'; content: string };

test('serve --isolate: a child killed mid-reply is a 500 for that request, /health answers, and the next requests get a fresh child that knows nothing the old one held', async () => {
  const p = spawn(process.execPath, [cli, 'serve', ...modelArgs, '--port', '0', '--isolate']);
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  try {
    const end = Date.now() + 60_000;
    while (!/listening on http/.test(stderr)) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`serve did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1];
    const post = async (messages: Message[], maxTokens = 8) => {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ messages, max_tokens: maxTokens }),
      });
      return { status: res.status, body: (await res.json()) as Reply };
    };
    const text = async (messages: Message[]) => {
      const r = await post(messages);
      expect(r.status).toBe(200);
      return r.body.choices[0].message.content;
    };
    const u = (content: string): Message => ({ role: 'user', content });
    const a = (content: string): Message => ({ role: 'assistant', content });

    // A conversation of three turns; the third's reply with the first two in the slot's context.
    const a1 = await text([u('Hello.')]);
    const b = await text([u('Hello.'), a(a1), u('Who are you?')]);
    const c = await text([u('Hello.'), a(a1), u('Who are you?'), a(b), u('And where?')]);

    // Killed mid-reply: that request fails with the signal in its message.
    const child = childOf(p.pid!)!;
    expect(child).toBeGreaterThan(0);
    const long = post([u('Write a very long story about the sea')], 3000);  // seconds of generation on the tiny pair
    await new Promise((r) => setTimeout(r, 300));
    process.kill(child, 'SIGSEGV');
    const failed = await long;
    expect(failed.status).toBe(500);
    expect(failed.body.error).toMatchObject({ code: 'worker', message: expect.stringContaining('SIGSEGV') });
    expect((await fetch(`${url}/health`)).status).toBe(200);

    // A fresh child: the same answers, also for a conversation the old child held two turns of.
    expect(await text([u('Hello.')])).toBe(a1);
    expect(await text([u('Hello.'), a(a1), u('Who are you?')])).toBe(b);
    const second = childOf(p.pid!)!;
    expect(second).not.toBe(child);
    process.kill(second, 'SIGKILL');  // while idle, as the OOM killer might
    await new Promise((r) => setTimeout(r, 200));
    expect(await text([u('Hello.'), a(a1), u('Who are you?'), a(b), u('And where?')])).toBe(c);
    expect(p.exitCode).toBeNull();
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.on('close', r));
  }
}, 120_000);
