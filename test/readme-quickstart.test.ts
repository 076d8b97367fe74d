// README's quick start, run exactly as written: the blocks between `<!-- quickstart -->` and
// `<!-- /quickstart -->` are read from README.md, so editing the README changes what runs here.
// The ```sh block goes through bash line for line in an empty folder, with `npx minimonkey`
// standing for the compiled CLI (dist/lib/cli/main.js); the ```ts block is transpiled to CommonJS
// with the TypeScript API and run by node in that folder, where `minimonkey` resolves to this
// package (its package.json `main`, dist/lib/index.js). Real files, real computation.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { planCrops } from '../lib/msac/plan';
import { tempDir } from './helpers/models';

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'lib', 'cli', 'main.js');

/** The fenced blocks of the README's quick start, by language. */
function quickstartBlocks(readme: string): { lang: string; code: string }[] {
  const start = readme.indexOf('<!-- quickstart -->');
  const end = readme.indexOf('<!-- /quickstart -->');
  if (start < 0 || end < start) throw new Error('README.md has no <!-- quickstart --> ... <!-- /quickstart --> section');
  const blocks: { lang: string; code: string }[] = [];
  for (const m of readme.slice(start, end).matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) blocks.push({ lang: m[1], code: m[2] });
  return blocks;
}

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = quickstartBlocks(readme);
const dir = fs.mkdtempSync(path.join(tempDir(), 'readme-quickstart-'));

describe("README's quick start", () => {
  it('is one shell block and one TypeScript block, at most about 20 lines', () => {
    expect(blocks.map((b) => b.lang)).toEqual(['sh', 'ts']);
    const lines = blocks.reduce((n, b) => n + b.code.trimEnd().split('\n').length, 0);
    expect(lines).toBeLessThanOrEqual(20);
  });

  it('the shell commands run as a user types them (npx minimonkey = the compiled CLI)', () => {
    // Only `npx minimonkey ...` is provided: any other command the README adds fails the test.
    const shim = `npx() { if [ "$1" != minimonkey ]; then echo "not in the test: npx $1" >&2; return 99; fi; shift; node ${JSON.stringify(cli)} "$@"; }\n`;
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', shim + blocks[0].code], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
    // demo reports its stages and says the reply is meaningless; synth wrote the pair the ts block loads.
    expect(r.stdout).toContain('minimonkey demo: the whole pipeline');
    expect(r.stdout).toMatch(/reply is meaningless/);
    const code = blocks[1].code;
    for (const m of code.matchAll(/'([\w./-]+\.(?:gguf|png))'/g)) expect([m[1], fs.existsSync(path.join(dir, m[1]))]).toEqual([m[1], true]);
  }, 300_000);

  it('the TypeScript block, transpiled to CommonJS, loads the pair, asks about the image and prints an answer', () => {
    const js = ts.transpileModule(blocks[1].code, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    // CommonJS has no top-level await: the program runs in an async function, failures exit 1.
    fs.writeFileSync(path.join(dir, 'quickstart.js'), `(async () => {\n${js}\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    const link = path.join(dir, 'node_modules', 'minimonkey');
    if (!fs.existsSync(link)) fs.symlinkSync(root, link, 'dir');
    expect(require.resolve('minimonkey', { paths: [dir] })).toBe(path.join(fs.realpathSync(root), 'dist', 'lib', 'index.js'));

    const r = spawnSync(process.execPath, ['quickstart.js'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    expect([r.status, r.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
    // The streamed answer, then the summary line the block prints.
    const m = /^([\s\S]*)\n(end|maxTokens): (\d+) image tokens, (\d+) generated/m.exec(r.stdout);
    expect(m).not.toBeNull();
    const [, answer, , image, generated] = m!;
    expect(answer.length).toBeGreaterThan(0);
    expect(Number(generated)).toBeGreaterThanOrEqual(1);
    // The image went through MSAC with the block's preset: its tokens are the crop plan's.
    const preset = /crop: '(\w+)'/.exec(blocks[1].code)?.[1] ?? 'default';
    expect(Number(image)).toBe(planCrops(1344, 896, preset as 'fast').imageTokens);
  }, 300_000);
});
