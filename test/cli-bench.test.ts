// `minimonkey bench` runs each benchmark once on the tiny synthetic pair (`--shape tiny`), beside
// llama.cpp's anchors built from the same source, so the commands keep working; README's figures
// come from the full-size shape. Only that both sides ran and the ratio is theirs is asserted here:
// timings on a busy 2-core machine are not a test.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'lib', 'cli', 'main.js');
const bench = (...args: string[]) => spawnSync(process.execPath, [cli, 'bench', ...args, '--shape', 'tiny', '--threads', '2'], { encoding: 'utf8' });

/** The table's data row for `first`, split into cells. */
function row(stdout: string, first: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${first} `));
  if (!line) throw new Error(`no '${first}' row in:\n${stdout}`);
  return line.trim().split(/\s{2,}/);
}

describe('minimonkey bench --shape tiny', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build-tools.mjs'), 'mm-clip-bench', 'llama-bench', 'llama-mtmd-cli'], { cwd: root, stdio: 'ignore' });
  }, 30 * 60 * 1000);

  it('vision: ms per tile of ours and of llama.cpp\'s clip encoder, and their ratio', () => {
    const r = bench('vision', '--types', 'f16', '--tiles', '2');
    expect(r.status).toBe(0);
    const [, tiles, threads, buffer, ours, theirs, ratio] = row(r.stdout, 'f16');
    expect([tiles, threads]).toEqual(['2', '2']);
    expect(['CPU', 'CPU_REPACK', 'AMX']).toContain(buffer);
    // The machine line names the CPU and the ggml variant each side ran.
    expect(r.stdout).toMatch(/^cpu: .+\nminimonkey: ggml cpu variant \S+ \(.*\); llama\.cpp: \S+\n/);
    expect(Number(ours)).toBeGreaterThan(0);
    expect(Number(theirs)).toBeGreaterThan(0);
    // The table rounds ms to whole numbers and the ratio to 0.01; the ratio is of the unrounded
    // times, so it may differ from the cells' ratio by what that rounding allows.
    const a = Number(ours), b = Number(theirs), shown = Number(ratio.replace(/x$/, ''));
    expect(shown).toBeGreaterThanOrEqual((b - 0.5) / (a + 0.5) - 0.005);
    expect(shown).toBeLessThanOrEqual((b + 0.5) / (a - 0.5) + 0.005);
  });

  it('llm: prefill and decode tokens/s of ours and of llama-bench, and their ratios', () => {
    const r = bench('llm', '--types', 'q8_0', '--prompt', '64', '--gen', '8', '--reps', '1');
    expect(r.status).toBe(0);
    const [, , pp, ppTheirs, ppRatio, tg, tgTheirs, tgRatio] = row(r.stdout, 'q8_0').map((c) => c.replace(/x$/, ''));
    for (const v of [pp, ppTheirs, tg, tgTheirs]) expect(Number(v)).toBeGreaterThan(0);
    // As for vision: the ratio is of the unrounded rates, so it may differ from the rounded cells'
    // ratio by what their rounding (half a unit of the last digit shown) allows.
    const half = (cell: string) => 0.5 * 10 ** -(cell.split('.')[1]?.length ?? 0);
    for (const [ours, theirs, ratio] of [[pp, ppTheirs, ppRatio], [tg, tgTheirs, tgRatio]]) {
      const a = Number(ours), b = Number(theirs), shown = Number(ratio);
      expect(shown).toBeGreaterThanOrEqual((a - half(ours)) / (b + half(theirs)) - 0.005);
      expect(shown).toBeLessThanOrEqual((a + half(ours)) / (b - half(theirs)) + 0.005);
    }
    // node-llama-cpp 3.22.1 (its own prebuilt binaries) on the same file: its table follows.
    const nlc = r.stdout.slice(r.stdout.indexOf('node-llama-cpp'));
    const [, , ppOurs, ppNlc, , tgOurs, tgNlc] = row(nlc, 'q8_0').map((c) => c.replace(/x$/, ''));
    expect(ppOurs).toBe(pp);
    expect(tgOurs).toBe(tg);
    for (const v of [ppNlc, tgNlc]) expect(Number(v)).toBeGreaterThan(0);
  });

  it('scm: the same question without and with SCM, which keeps half of the detail tokens', () => {
    const r = bench('scm', '--preset', 'default');
    expect(r.status).toBe(0);
    const without = Number(row(r.stdout, 'without SCM')[1]);
    const withScm = row(r.stdout, 'with SCM')[1];
    const detail = Number(/kept (\d+) of (\d+) detail tokens/.exec(r.stdout)![2]);
    expect(withScm).toBe(`${without - detail / 2} (of ${without})`);
  });

  it('e2e: every stage of one ask without and with SCM, each beside llama.cpp at equal work, and peak RSS', () => {
    const r = bench('e2e', '--vision-types', 'f32', '--text-type', 'f32', '--gen', '4');
    expect(r.status).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('f32 ')).map((l) => l.trim().split(/\s{2,}/));
    const stage = (scm: 'off' | 'on', name: RegExp) => rows.find((c) => c[1] === scm && name.test(c[2]))!;
    for (const scm of ['off', 'on'] as const) {
      const encode = stage(scm, /^encode \d+ tiles$/);
      expect(Number.parseFloat(encode[3])).toBeGreaterThan(0);
      expect(Number.parseFloat(encode[4])).toBeGreaterThan(0); // llama.cpp's clip on the same tiles
      expect(Number.parseFloat(stage(scm, /^prefill \d+ tokens$/)[4])).toBeGreaterThan(0);
      expect(Number.parseFloat(stage(scm, /^peak RSS$/)[3])).toBeGreaterThan(0);
    }
    const tokens = (scm: 'off' | 'on') => Number(/^prefill (\d+) tokens$/.exec(stage(scm, /^prefill/)[2])![1]);
    expect(tokens('on')).toBeLessThan(tokens('off')); // SCM dropped detail tokens
    expect(stage('on', /^SCM pre-pass$/)).toBeDefined();
    expect(Number.parseFloat(stage('off', /^peak RSS$/)[4])).toBeGreaterThan(0); // llama-mtmd-cli ran too
  }, 20 * 60 * 1000);
});
