// `pullModel` / `minimonkey pull` against a Hugging Face Hub on loopback (helpers/hub-server.ts:
// the hub's URL and API layout as @huggingface/hub requests it, redirects to a CDN path, ranges),
// serving synthetic repos: a GGUF repo (tiny random-weight pairs) and a checkpoint repo (the tiny
// HF checkpoint the converter tests use). Faults: a connection cut mid-file, wrong bytes under the
// right hash, a stalled file stopped with an AbortSignal (and with Ctrl-C), a server that ignores
// Range, a gated repo, a repo too large for the disk.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkey, pullModel, PullProgress } from '../lib';
import { convertCheckpoint } from '../lib/convert/convert';
import { resolvePulledModel } from '../lib/hub/home';
import { planRepo } from '../lib/hub/pull';
import { DownloadProgress } from '../lib/cli/pull';
import { writeHfCheckpoint } from './helpers/hf-checkpoint';
import { HubServer, sha256 } from './helpers/hub-server';
import { tempDir, tinyPair } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const README = Buffer.from('# tiny\nA synthetic repo for tests.\n');

let hub: HubServer;
let files: Record<string, Buffer>;
let n = 0;
const freshHome = () => fs.mkdtempSync(path.join(tempDir(), `home-${++n}-`));
const pull = (home: string, o: Partial<Parameters<typeof pullModel>[0]> = {}) =>
  pullModel({ repo: 'tiny/minimonkey-gguf', endpoint: hub.url, home, ...o });
const fileSha = (f: string) => sha256(fs.readFileSync(f));

async function expectCode(p: Promise<unknown>, code: string, message?: RegExp): Promise<Error> {
  const e = await p.then(() => undefined, (err: Error) => err);
  expect(e).toBeDefined();
  expect((e as { code?: string }).code).toBe(code);
  if (message) expect(e!.message).toMatch(message);
  return e!;
}

/** Every file under `dir`, relative. */
function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

beforeAll(async () => {
  hub = await HubServer.start();
  const a = await tinyPair('f16', 11);
  const b = await tinyPair('f32', 12);
  files = {
    'README.md': README,
    'minimonkey-tiny-Q4_K_M.gguf': fs.readFileSync(a.model),
    'minimonkey-tiny-Q8_0.gguf': fs.readFileSync(b.model),
    'mmproj-minimonkey-tiny-f16.gguf': fs.readFileSync(a.mmproj),
    'mmproj-minimonkey-tiny-f32.gguf': fs.readFileSync(b.mmproj),
  };
  hub.add({ id: 'tiny/minimonkey-gguf', commit: COMMIT, refs: { main: COMMIT, v1: COMMIT }, files });
});

afterAll(async () => {
  await hub?.close();
});

beforeEach(() => {
  hub.faults = {};
  hub.crossOriginCdn = false;
  hub.log.length = 0;
});

describe('pull a GGUF repo', () => {
  it('downloads the chosen text GGUF and its mmproj at one commit, verified, and hf:owner/name loads them', async () => {
    const home = freshHome();
    const progress: PullProgress[] = [];
    const r = await pull(home, { onProgress: (p) => progress.push(p) });
    expect(r.kind).toBe('gguf');
    expect(r.commit).toBe(COMMIT);
    expect(r.files.sort()).toEqual(['minimonkey-tiny-Q4_K_M.gguf', 'mmproj-minimonkey-tiny-f16.gguf']);
    expect(path.basename(r.model)).toBe('minimonkey-tiny-Q4_K_M.gguf');
    expect(fileSha(r.model)).toBe(sha256(files['minimonkey-tiny-Q4_K_M.gguf']));
    expect(fileSha(r.mmproj)).toBe(sha256(files['mmproj-minimonkey-tiny-f16.gguf']));
    // 'main' was resolved once; every file request names the commit, and LFS files went through the CDN redirect.
    const fileReqs = hub.log.filter((q) => q.path.includes('/resolve/'));
    expect(fileReqs.length).toBeGreaterThan(0);
    expect(fileReqs.every((q) => q.path.includes(`/resolve/${COMMIT}/`))).toBe(true);
    expect(hub.log.some((q) => q.path.startsWith('/cdn/'))).toBe(true);
    // The tree came in pages (Link: rel="next"), all of them read.
    expect(hub.log.filter((q) => q.path.includes('/tree/')).length).toBeGreaterThan(1);
    // Progress counts bytes up to the total.
    const last = progress[progress.length - 1];
    expect(last.done).toBe(r.bytes);
    expect(r.bytes).toBe(files['minimonkey-tiny-Q4_K_M.gguf'].length + files['mmproj-minimonkey-tiny-f16.gguf'].length);
    expect(progress.every((p, i) => i === 0 || p.done >= progress[i - 1].done)).toBe(true);
    // Nothing left but the pair and the manifest; no partial bytes.
    expect(listTree(path.join(home, 'partial'))).toEqual([]);
    expect(resolvePulledModel('hf:tiny/minimonkey-gguf', home)).toMatchObject({ model: r.model, mmproj: r.mmproj, commit: COMMIT });

    // hf:owner/name loads exactly that pair: the same greedy reply as loading the paths.
    const old = process.env.MINIMONKEY_HOME;
    process.env.MINIMONKEY_HOME = home;
    try {
      const byName = await MiniMonkey.load({ model: 'hf:tiny/minimonkey-gguf', threads: 2, contextSize: 1024 });
      const byPath = await MiniMonkey.load({ model: r.model, mmproj: r.mmproj, threads: 2, contextSize: 1024 });
      const a = await (await byName.chat()).ask('Hello', { maxTokens: 6 });
      const b = await (await byPath.chat()).ask('Hello', { maxTokens: 6 });
      expect(a.tokenIds).toEqual(b.tokenIds);
      byName.dispose();
      byPath.dispose();
      await expectCode(MiniMonkey.load({ model: 'hf:tiny/not-pulled' }), 'MODEL_LOAD', /minimonkey pull tiny\/not-pulled/);
    } finally {
      if (old === undefined) delete process.env.MINIMONKEY_HOME;
      else process.env.MINIMONKEY_HOME = old;
    }
  });

  it('--text-type / --vision-type choose other files; a second pull finds them complete and downloads nothing', async () => {
    const home = freshHome();
    const r = await pull(home, { repo: 'tiny/minimonkey-gguf@v1', textType: 'q8_0', visionType: 'f32' });
    expect(path.basename(r.model)).toBe('minimonkey-tiny-Q8_0.gguf');
    expect(path.basename(r.mmproj)).toBe('mmproj-minimonkey-tiny-f32.gguf');
    expect(r.revision).toBe('v1');
    hub.log.length = 0;
    await pull(home, { repo: 'tiny/minimonkey-gguf@v1', textType: 'q8_0', visionType: 'f32' });
    expect(hub.bodyRequests()).toEqual([]);
    await expectCode(pull(home, { textType: 'q5_k_s' }), 'INVALID_ARGUMENT', /no text GGUF matches --text-type q5_k_s; the repo has: .*Q4_K_M/);
  });

  it('a connection cut mid-file resumes with a range request from the byte it stopped at', async () => {
    const home = freshHome();
    const name = 'minimonkey-tiny-Q4_K_M.gguf';
    const cutAt = 40_000;
    expect(files[name].length).toBeGreaterThan(cutAt * 2);
    hub.faults.cutOnce = { [name]: cutAt };
    const r = await pull(home);
    expect(fileSha(r.model)).toBe(sha256(files[name]));
    const reqs = hub.bodyRequests(sha256(files[name]));
    expect(reqs.length).toBe(2);
    expect(reqs[0].range).toBeUndefined(); // the whole file
    expect(reqs[1].range).toBe(`bytes=${cutAt}-${files[name].length - 1}`);
  });

  it('a wrong checksum deletes the bytes and leaves nothing in place: no file, no partial, no manifest', async () => {
    const home = freshHome();
    hub.faults.corrupt = new Set(['mmproj-minimonkey-tiny-f16.gguf']);
    await expectCode(pull(home), 'CHECKSUM', /mmproj-minimonkey-tiny-f16\.gguf: the downloaded file does not match the hub's hash \(sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\)/);
    const dir = path.join(home, 'models', 'tiny--minimonkey-gguf');
    expect(fs.existsSync(path.join(dir, 'mmproj-minimonkey-tiny-f16.gguf'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'model.json'))).toBe(false);
    expect(listTree(path.join(home, 'partial'))).toEqual([]);
    // The text GGUF before it was verified and kept: the next pull only fetches the mmproj.
    hub.faults = {};
    hub.log.length = 0;
    const r = await pull(home);
    expect(hub.bodyRequests().map((q) => q.path)).toEqual([`/cdn/${sha256(files['mmproj-minimonkey-tiny-f16.gguf'])}`]);
    expect(fileSha(r.mmproj)).toBe(sha256(files['mmproj-minimonkey-tiny-f16.gguf']));
  });

  it('an aborted pull keeps its bytes out of place; the next pull resumes from them (and restarts when the server ignores Range)', async () => {
    const home = freshHome();
    const name = 'minimonkey-tiny-Q4_K_M.gguf';
    const stallAt = 30_000;
    hub.faults.stall = { [name]: stallAt };
    const ac = new AbortController();
    const p = pull(home, { signal: ac.signal, onProgress: (q) => { if (q.file === name && q.fileDone >= stallAt) ac.abort(); } });
    await expectCode(p, 'ABORTED');
    const dest = path.join(home, 'models', 'tiny--minimonkey-gguf', name);
    expect(fs.existsSync(dest)).toBe(false);
    const partial = path.join(home, 'partial', 'tiny--minimonkey-gguf', `${sha256(files[name])}.incomplete`);
    expect(fs.statSync(partial).size).toBe(stallAt);

    hub.faults = {};
    hub.log.length = 0;
    const r = await pull(home);
    expect(fileSha(r.model)).toBe(sha256(files[name]));
    expect(hub.bodyRequests(sha256(files[name])).map((q) => q.range)).toEqual([`bytes=${stallAt}-${files[name].length - 1}`]);
    expect(fs.existsSync(partial)).toBe(false);

    // A server that answers a range with the whole file: the partial bytes are dropped and the file fetched again.
    const home2 = freshHome();
    const partial2 = path.join(home2, 'partial', 'tiny--minimonkey-gguf', `${sha256(files[name])}.incomplete`);
    fs.mkdirSync(path.dirname(partial2), { recursive: true });
    fs.writeFileSync(partial2, files[name].subarray(0, 1000));
    hub.faults.ignoreResumeRange = true;
    hub.log.length = 0;
    const r2 = await pull(home2);
    expect(fileSha(r2.model)).toBe(sha256(files[name]));
    expect(hub.bodyRequests(sha256(files[name])).map((q) => q.range)).toEqual([`bytes=1000-${files[name].length - 1}`, undefined]);
  });

  it('a gated repo needs HF_TOKEN: refused without it (a message that says so), downloaded with it', async () => {
    hub.add({ id: 'tiny/gated', commit: COMMIT, files: { 'README.md': README, 'm-Q4_K_M.gguf': files['minimonkey-tiny-Q4_K_M.gguf'], 'mmproj-m-f16.gguf': files['mmproj-minimonkey-tiny-f16.gguf'] }, token: 'hf_secret' });
    const home = freshHome();
    const saved = process.env.HF_TOKEN;
    delete process.env.HF_TOKEN;
    try {
      const e = await expectCode(pull(home, { repo: 'tiny/gated' }), 'DOWNLOAD', /access refused \(401\).*set HF_TOKEN/);
      expect((e as { status?: number }).status).toBe(401);
      await expectCode(pull(home, { repo: 'tiny/gated', token: 'hf_wrong' }), 'DOWNLOAD', /the token in HF_TOKEN has no access/);
      process.env.HF_TOKEN = 'hf_secret';
      hub.log.length = 0;
      const r = await pull(home, { repo: 'tiny/gated' });
      expect(fileSha(r.model)).toBe(sha256(files['minimonkey-tiny-Q4_K_M.gguf']));
      const hubReqs = hub.log.filter((q) => !q.path.startsWith('/cdn/'));
      expect(hubReqs.length).toBeGreaterThan(3);
      expect(hubReqs.every((q) => q.authorization === 'Bearer hf_secret')).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.HF_TOKEN;
      else process.env.HF_TOKEN = saved;
    }
  });

  it('a CDN on another origin (as the real hub has): the token never goes there, and a cut file still resumes by range', async () => {
    hub.add({ id: 'tiny/gated-cdn', commit: COMMIT, files: { 'README.md': README, 'm-Q4_K_M.gguf': files['minimonkey-tiny-Q4_K_M.gguf'], 'mmproj-m-f16.gguf': files['mmproj-minimonkey-tiny-f16.gguf'] }, token: 'hf_secret' });
    const home = freshHome();
    hub.crossOriginCdn = true;
    const name = 'm-Q4_K_M.gguf';
    hub.faults.cutOnce = { [name]: 25_000 };
    const r = await pull(home, { repo: 'tiny/gated-cdn', token: 'hf_secret' });
    expect(fileSha(r.model)).toBe(sha256(files['minimonkey-tiny-Q4_K_M.gguf']));
    const cdn = hub.log.filter((q) => q.origin === 'cdn');
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((q) => q.authorization === undefined)).toBe(true);
    expect(hub.log.filter((q) => q.origin === 'hub').every((q) => q.authorization === 'Bearer hf_secret')).toBe(true);
    // The resumed request went through the hub's redirect again and reached the CDN with its range.
    const body = cdn.filter((q) => q.range !== 'bytes=0-0' && q.path === `/cdn/${sha256(files['minimonkey-tiny-Q4_K_M.gguf'])}`);
    expect(body.map((q) => q.range)).toEqual([undefined, `bytes=25000-${files['minimonkey-tiny-Q4_K_M.gguf'].length - 1}`]);
  });

  it('checks the disk space before the first byte; unknown repos, revisions and bad names are typed errors', async () => {
    hub.add({ id: 'tiny/huge', commit: COMMIT, files: { 'm-Q4_K_M.gguf': files['minimonkey-tiny-Q4_K_M.gguf'], 'mmproj-m-f16.gguf': files['mmproj-minimonkey-tiny-f16.gguf'] }, listedSize: { 'm-Q4_K_M.gguf': 2 ** 52 } });
    const home = freshHome();
    await expectCode(pull(home, { repo: 'tiny/huge' }), 'IO', /not enough disk space: the pull needs [\d.]+ GiB in .* but [\d.]+ GiB are free/);
    expect(hub.bodyRequests()).toEqual([]);
    expect(hub.log.some((q) => q.path.includes('/resolve/'))).toBe(false);

    await expectCode(pull(home, { repo: 'tiny/nothing' }), 'DOWNLOAD', /not found .*\(404\)/);
    await expectCode(pull(home, { repo: 'tiny/minimonkey-gguf@nope' }), 'DOWNLOAD', /not found .*\(404\)/);
    for (const bad of ['../etc', 'a/b/c', 'tiny', 'tiny/x@../../y', '']) {
      await expectCode(pull(home, { repo: bad }), 'INVALID_ARGUMENT');
    }
    await expectCode(pull(home, { endpoint: 'ftp://example' }), 'INVALID_ARGUMENT', /must be http/);
  });
});

describe('which files a repo gives', () => {
  const f = (path: string, size = 10) => ({ path, size });
  it('quantization names match whole words (f16 is not bf16), split GGUFs and weightless repos are refused', () => {
    const repo = [f('X-BF16.gguf'), f('X-F16.gguf'), f('X-Q4_K_M.gguf'), f('mmproj-X-bf16.gguf'), f('mmproj-X-f16.gguf')];
    expect(planRepo(repo, 'f16', undefined).text!.path).toBe('X-F16.gguf');
    expect(planRepo(repo, 'bf16', 'bf16').mmproj!.path).toBe('mmproj-X-bf16.gguf');
    expect(planRepo(repo, undefined, undefined)).toMatchObject({ kind: 'gguf', text: { path: 'X-Q4_K_M.gguf' }, mmproj: { path: 'mmproj-X-f16.gguf' } });
    expect(() => planRepo([f('X-Q4_K_M-00001-of-00002.gguf'), f('mmproj-X-f16.gguf')], undefined, undefined)).toThrow(/split GGUF/);
    expect(() => planRepo([f('X-Q4_K_M.gguf')], undefined, undefined)).toThrow(/no mmproj GGUF/);
    expect(() => planRepo([f('config.json'), f('pytorch_model.bin')], undefined, undefined)).toThrow(/only PyTorch \.bin weights/);
    const ckpt = planRepo([f('config.json'), f('model-1.safetensors', 100), f('model-2.safetensors', 50), f('sub/x.safetensors'), f('train.py')], 'f32', undefined);
    expect(ckpt.files.map((x) => x.path)).toEqual(['config.json', 'model-1.safetensors', 'model-2.safetensors']);
    expect(ckpt.outputBytes).toBe(300); // f32 output: twice the bf16 weights
  });
});

describe('pull a checkpoint repo', () => {
  it('downloads the files the converter reads and converts them: the same GGUF bytes as converting the folder', async () => {
    const src = path.join(tempDir(), 'ckpt-src', 'tiny-ckpt');
    writeHfCheckpoint(src, { seed: 5, sharded: true });
    const repoFiles: Record<string, Buffer> = {};
    for (const f of listTree(src)) repoFiles[f] = fs.readFileSync(path.join(src, f));
    repoFiles['README.md'] = README;
    repoFiles['modeling_internvl.py'] = Buffer.from('# remote code the converter does not need\n');
    hub.add({ id: 'tiny/tiny-ckpt', commit: COMMIT, files: repoFiles });

    const home = freshHome();
    const out = path.join(home, 'elsewhere');
    const r = await pull(home, { repo: 'tiny/tiny-ckpt', outDir: out, textType: 'q8_0' });
    expect(r.kind).toBe('checkpoint');
    expect(r.files).not.toContain('README.md');
    expect(r.files).not.toContain('modeling_internvl.py');
    expect(r.files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors.index.json', 'tokenizer.model']));
    expect(path.dirname(r.model)).toBe(out);

    const ref = await convertCheckpoint({ checkpointDir: src, outDir: path.join(tempDir(), 'ckpt-ref'), textType: 'q8_0', name: 'tiny-ckpt' });
    expect(path.basename(r.model)).toBe(path.basename(ref.model));
    expect(fileSha(r.model)).toBe(fileSha(ref.model));
    expect(fileSha(r.mmproj)).toBe(fileSha(ref.mmproj));
    // The downloads stay in the cache at their commit, each byte-equal to the repo's.
    for (const f of r.files) expect(fileSha(path.join(home, 'downloads', 'tiny--tiny-ckpt', COMMIT, f))).toBe(sha256(repoFiles[f]));
    await expectCode(pull(home, { repo: 'tiny/tiny-ckpt', textType: 'q5_k' }), 'INVALID_ARGUMENT', /textType must be one of/);
  });
});

/** Runs the CLI in a child (async: the hub is in this process). */
function runCli(args: string[], env: Record<string, string>, onSpawn?: (child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('minimonkey pull', () => {
  it('the terminal bar shows bytes done / total, the rate and the ETA', () => {
    let text = '';
    const out = { isTTY: true, write: (s: string) => ((text = s), true) } as unknown as NodeJS.WriteStream;
    let now = 1_000;
    const bar = new DownloadProgress(out, () => now);
    const mb = 1024 ** 2;
    bar.onProgress({ phase: 'download', file: 'model.safetensors', done: 0, total: 100 * mb, fileDone: 0, fileTotal: 100 * mb });
    now += 5_000;
    bar.onProgress({ phase: 'download', file: 'model.safetensors', done: 25 * mb, total: 100 * mb, fileDone: 25 * mb, fileTotal: 100 * mb });
    expect(text).toBe(`\r[######..................] 25.0 MiB / 100.0 MiB  5.0 MiB/s  ETA 0:15  model.safetensors\x1b[K`);
  });

  it('HF_ENDPOINT and MINIMONKEY_HOME: pulls, prints the pair, and `ask --model hf:owner/name` answers', async () => {
    const home = freshHome();
    const env = { HF_ENDPOINT: hub.url, MINIMONKEY_HOME: home };
    const r = await runCli(['pull', 'tiny/minimonkey-gguf'], env);
    expect(r.stderr).toContain(`pulled tiny/minimonkey-gguf at ${COMMIT.slice(0, 12)}`);
    expect(r.code).toBe(0);
    const [mmproj, model] = r.stdout.trim().split('\n');
    expect(fileSha(model)).toBe(sha256(files['minimonkey-tiny-Q4_K_M.gguf']));
    expect(fileSha(mmproj)).toBe(sha256(files['mmproj-minimonkey-tiny-f16.gguf']));
    expect(r.stderr).toMatch(/minimonkey-tiny-Q4_K_M\.gguf: [\d.]+ MiB/); // not a terminal: a line per file

    const ask = await runCli(['ask', 'Hello', '--text-only', '--model', 'hf:tiny/minimonkey-gguf', '-n', '4', '--threads', '2', '--json'], env);
    expect(ask.code).toBe(0);
    expect(JSON.parse(ask.stdout).tokens.generated).toBeGreaterThan(0);
    const missing = await runCli(['ask', 'Hello', '--text-only', '--model', 'hf:tiny/other'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('run `minimonkey pull tiny/other` first');
    const usage = await runCli(['pull'], env);
    expect(usage.code).toBe(2);
  });

  it('--response-timeout and --idle-timeout: a hub that hangs or stalls fails with DOWNLOAD, exit 1, naming the flag', async () => {
    const home = freshHome();
    const env = { HF_ENDPOINT: hub.url, MINIMONKEY_HOME: home };
    hub.faults.noAnswer = /\/tree\//; // the listing never answers
    let t0 = Date.now();
    const hung = await runCli(['pull', 'tiny/minimonkey-gguf', '--response-timeout', '300'], env);
    expect(hung.stderr).toMatch(/^minimonkey pull: .*the hub did not answer within 300 ms \(--response-timeout\) \[DOWNLOAD\]$/m);
    expect(hung.code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);

    hub.faults = { stall: { 'minimonkey-tiny-Q4_K_M.gguf': 20_000 } };
    t0 = Date.now();
    const stalled = await runCli(['pull', 'tiny/minimonkey-gguf', '--idle-timeout', '300'], env);
    expect(stalled.stderr).toMatch(/^minimonkey pull: .*sent under 16384 bytes in 300 ms \(--idle-timeout\) \[DOWNLOAD\]$/m);
    expect(stalled.code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(20_000); // five tries of 300 ms and the back-off between them
    expect(fs.existsSync(path.join(home, 'models', 'tiny--minimonkey-gguf', 'minimonkey-tiny-Q4_K_M.gguf'))).toBe(false);
  });

  it('timeout flags outside HUB_LIMITS and mistyped ones are usage errors (exit 2) before any request', async () => {
    const env = { HF_ENDPOINT: hub.url, MINIMONKEY_HOME: freshHome() };
    for (const [flag, value] of [['--response-timeout', '0'], ['--idle-timeout', '3600001'], ['--idle-timeout', '1.5'], ['--response-timeout', 'soon']]) {
      const r = await runCli(['pull', 'tiny/minimonkey-gguf', flag, value], env);
      expect([r.code, r.stderr.split('\n')[0]]).toEqual([2, `minimonkey pull: ${flag} must be an integer from 1 to 3600000, got '${value}'`]);
    }
    const typo = await runCli(['pull', 'tiny/minimonkey-gguf', '--idle-timout', '5'], env);
    expect([typo.code, typo.stderr.split('\n')[0]]).toEqual([2, "minimonkey pull: Unknown option '--idle-timout'; did you mean '--idle-timeout'?"]);
    expect(hub.log).toEqual([]);
    const help = await runCli(['pull', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--response-timeout MS .*\n.*default 30000, 1-3600000/);
    expect(help.stdout).toMatch(/--idle-timeout MS .*\n.*default 60000, 1-3600000/);
  });

  it('Ctrl-C stops it with exit 130, nothing at the destination; the next pull resumes', async () => {
    const home = freshHome();
    const env = { HF_ENDPOINT: hub.url, MINIMONKEY_HOME: home };
    const name = 'minimonkey-tiny-Q4_K_M.gguf';
    hub.faults.stall = { [name]: 20_000 };
    const partial = path.join(home, 'partial', 'tiny--minimonkey-gguf', `${sha256(files[name])}.incomplete`);
    // SIGINT once the stalled bytes are on disk.
    const poll = setInterval(() => {
      if (fs.existsSync(partial) && fs.statSync(partial).size === 20_000 && child) {
        clearInterval(poll);
        child.kill('SIGINT');
      }
    }, 50);
    let child: ReturnType<typeof spawn> | undefined;
    const r = await runCli(['pull', 'tiny/minimonkey-gguf'], env, (c) => (child = c));
    clearInterval(poll);
    expect(r.code).toBe(130);
    expect(fs.existsSync(path.join(home, 'models', 'tiny--minimonkey-gguf', name))).toBe(false);
    expect(fs.statSync(partial).size).toBe(20_000);
    hub.faults = {};
    hub.log.length = 0;
    const again = await runCli(['pull', 'tiny/minimonkey-gguf'], env);
    expect(again.code).toBe(0);
    expect(hub.bodyRequests(sha256(files[name])).map((q) => q.range)).toEqual([`bytes=20000-${files[name].length - 1}`]);
    expect(crypto.createHash('sha256').update(fs.readFileSync(again.stdout.trim().split('\n')[1])).digest('hex')).toBe(sha256(files[name]));
  });
});
