// `minimonkey demo` as README's quick start runs it (the compiled CLI in a child process): the
// figures it reports agree with the crop plan of the page it drew, and it says the reply is
// meaningless. Also `bench --help` and the main usage.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { documentPixels } from '../lib/demo/document-image';
import { planCrops } from '../lib/msac/plan';
import { cropPlanCaption } from '../lib/msac/render';
import { tempDir } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('minimonkey demo', () => {
  it('--json reports tiles and tokens equal to the crop plan of the page it drew', async () => {
    const out = path.join(fs.mkdtempSync(path.join(tempDir(), 'cli-demo-')), 'demo');
    const r = run('demo', '--json', '--threads', '2', '--out', out);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);

    // The page: a lossless PNG of the procedural document, 1344x896.
    const { data, info } = await sharp(j.files.image).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([1344, 896, 3]);
    expect(Buffer.compare(data, Buffer.from(documentPixels().data))).toBe(0);
    const dark = data.filter((v) => v < 100).length / data.length;
    expect(dark).toBeGreaterThan(0.05); // text lines, not a blank page
    expect(dark).toBeLessThan(0.6);

    const plan = planCrops(info.width, info.height, 'default');
    expect(j.plan.detail).toEqual(plan.detail);
    expect(j.plan.adaptive).toEqual(plan.adaptive);
    expect(j.plan.tiles).toEqual({ detail: plan.layers.detail.count, adaptive: plan.layers.adaptive.count, global: 1, total: plan.tileCount });
    expect(j.plan.imageTokens).toBe(plan.imageTokens);
    expect(j.result.images).toEqual([j.plan]);
    // SCM keeps half of the detail tokens and nothing else is dropped.
    expect(j.scm).toMatchObject({ detailTokens: plan.layers.detail.tokenCount, detailKept: plan.layers.detail.tokenCount / 2 });
    expect(j.result.tokens.image).toBe(plan.imageTokens - plan.layers.detail.tokenCount / 2);
    expect(j.result.tokens.prompt).toBeGreaterThan(j.result.tokens.image);
    expect(j.result.tokens.generated).toBe(j.result.tokenIds.length);
    expect(j.result.tokens.generated).toBeGreaterThan(0);
    expect(j.result.tokens.generated).toBeLessThanOrEqual(16);
    for (const phase of ['synthesize', 'load', 'encode', 'prefill', 'generate']) expect(j.timings[phase]).toBeGreaterThan(0);
    expect(j.warning).toMatch(/random.*meaningless/);
    // --out keeps the pair and the page.
    expect(j.kept).toBe(true);
    for (const f of [j.files.model, j.files.mmproj, j.files.image]) expect(path.dirname(f)).toBe(out);
    for (const f of [j.files.model, j.files.mmproj]) expect(fs.statSync(f).size).toBeGreaterThan(0);
  });

  it('the report shows the grids, tiles and tokens and says the text is meaningless; the temp folder is removed', () => {
    const r = run('demo', '--threads', '2', '--max-tokens', '4');
    expect(r.status).toBe(0);
    const plan = planCrops(1344, 896, 'default');
    for (const line of cropPlanCaption(plan)) expect(r.stdout).toContain(line);
    expect(r.stdout).toContain(`vision tower    ${plan.tileCount} tiles`);
    expect(r.stdout).toMatch(/generate +\d tokens/);
    expect(r.stdout).toMatch(/SCM +kept/);
    expect(r.stdout).toMatch(/The weights are random, so the reply is meaningless text/);
    const model = /(\S+model-tiny-f32\.gguf)/.exec(r.stdout)?.[1];
    expect(model).toBeDefined();
    expect(fs.existsSync(path.dirname(model!))).toBe(false);
  });

  it('--help exits 0; bad options exit 2', () => {
    const help = run('demo', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: minimonkey demo/);
    for (const args of [['--bogus'], ['--threads', '0'], ['--max-tokens', 'x'], ['extra']]) {
      const r = run('demo', ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/usage: minimonkey demo/);
    }
  });
});

describe('minimonkey bench and the main usage', () => {
  it('bench --help names both benchmarks; an unknown one exits 2', () => {
    const help = run('bench', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/vision/);
    expect(help.stdout).toMatch(/llm/);
    expect(run('bench', 'gpu').status).toBe(2);
  });

  it('the main usage lists ask, chat, demo and bench', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    for (const c of ['ask', 'chat', 'demo', 'bench']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });
});
