// The `minimonkey` command as users run it: the compiled CLI in a child process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('minimonkey CLI', () => {
  it('prints usage with --help and exits 2 on an unknown command', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: minimonkey <command>/);
    const bad = run('frobnicate');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('a mistyped command or flag gets a "did you mean", a far one none', () => {
    const cmd = run('rutnime');
    expect([cmd.status, cmd.stderr.split('\n')[0]]).toEqual([2, "minimonkey: unknown command 'rutnime'; did you mean 'runtime'?"]);
    const flag = run('runtime', '--jsno');
    expect([flag.status, flag.stderr.split('\n')[0]]).toEqual([2, "minimonkey runtime: Unknown option '--jsno'; did you mean '--json'?"]);
    const ask = run('ask', 'a.png', 'q', '--thread=2');
    expect(ask.stderr.split('\n')[0]).toBe("minimonkey ask: Unknown option '--thread'; did you mean '--threads'?");
    expect(run('zzzzzzzz').stderr.split('\n')[0]).toBe("minimonkey: unknown command 'zzzzzzzz'");
  });

  it('runtime prints the llama.cpp commit and the thread default', () => {
    const r = run('runtime');
    expect(r.status).toBe(0);
    const info = JSON.parse(run('runtime', '--json').stdout);
    expect(r.stdout).toContain(`llama.cpp ${info.llamaCommit.slice(0, 10)}, from node-llama-cpp's v0.5.0 bundle`);
    expect(r.stdout).toContain(`threads: ${info.threads.default} by default (physical cores), at most ${info.threads.max}`);
  });

  it('runtime --json reports the addon and CPU features', () => {
    const r = run('runtime', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.llamaRelease).toBe('v0.5.0');
    expect(fs.existsSync(info.addonPath)).toBe(true);
  });

  it('synth writes the tiny pair, deterministically, and rejects bad options with exit 2', () => {
    const out = path.join(tempDir(), 'cli-synth');
    const r = run('synth', '--shape', 'tiny', '--out', out, '--seed', '3', '--vision-type', 'q8_0');
    expect(r.status).toBe(0);
    const files = r.stdout.trim().split('\n');
    expect(files.map((f) => path.basename(f))).toEqual(['mmproj-tiny-q8_0.gguf', 'model-tiny-f32.gguf']);
    files.forEach((f) => expect(fs.statSync(f).size).toBeGreaterThan(1000));
    expect(run('synth', '--shape', 'huge', '--out', out).status).toBe(2);
    expect(run('synth', '--shape', 'tiny').status).toBe(2);
    expect(run('synth', '--shape', 'tiny', '--out', out, '--vision-type', 'q2').status).toBe(2);
  });
});

describe('minimonkey info', () => {
  it('summarizes a GGUF file, as text and JSON, and fails cleanly on a bad file', () => {
    const out = path.join(tempDir(), 'cli-info');
    const files = run('synth', '--shape', 'tiny', '--out', out).stdout.trim().split('\n');
    const text = run('info', files[0]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/architecture clip/);
    expect(text.stdout).toMatch(/clip\.projector_type = "internvl"/);
    const json = JSON.parse(run('info', files[1], '--json', '--tensors').stdout);
    expect(json.architecture).toBe('internlm2');
    expect(json.tensorList.map((t: { name: string }) => t.name)).toContain('blk.0.attn_q.weight');
    const bad = path.join(out, 'bad.gguf');
    fs.writeFileSync(bad, 'nope');
    const r = run('info', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a valid GGUF file/);
    expect(run('info').status).toBe(2);
  });
});
