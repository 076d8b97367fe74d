// SCM's heatmap: result.scm carries, per image, the kept token offsets and every scored token's
// score (kept = the top floor(H * keep) by score); the geometry puts each token on its 1/256 of
// its tile's pixels; `ask --scm-heatmap` draws exactly that over the image.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { MiniMonkey } from '../lib';
import { loadImage } from '../lib/image/load';
import { heatColour, scmHeatmapCells } from '../lib/llm/scm-heatmap';
import { pageImage } from './helpers/server';
import { tempDir, tinyPair } from './helpers/models';

let mm: MiniMonkey;
let pair: { model: string; mmproj: string };
let img: Awaited<ReturnType<typeof pageImage>>;
beforeAll(async () => {
  pair = await tinyPair('f32', 4);
  mm = await MiniMonkey.load({ ...pair, threads: 2, contextSize: 4096 });
  img = await pageImage(800, 600);
});
afterAll(() => mm?.dispose());

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('result.scm: per image the kept offsets are the top-scored tokens of the detail block', async () => {
  const r = await (await mm.chat()).ask([{ type: 'image', image: img.bytes }, 'Total?'], { scm: { keep: 0.25 }, maxTokens: 2 });
  const plan = r.images[0];
  const H = plan.layers.detail.tokenCount;
  expect(H).toBeGreaterThan(0);
  expect(r.scm!.images).toHaveLength(1);
  const b = r.scm!.images[0];
  expect(b).toMatchObject({ image: 0, offset: plan.layers.detail.firstToken, length: H });
  expect(b.scores).toHaveLength(H);
  expect(b.kept).toHaveLength(Math.floor(H * 0.25));
  expect([...b.kept].sort((x, y) => x - y)).toEqual(b.kept);
  // The top-K by score, ties to the earlier token: the pre-pass's own rule.
  const order = [...b.scores.keys()].sort((x, y) => b.scores[y] - b.scores[x] || x - y);
  expect(b.kept).toEqual(order.slice(0, b.kept.length).sort((x, y) => x - y));
  expect(new Set(b.scores).size).toBeGreaterThan(H / 4); // real scores, not a constant
});

test('the cells: 256 a detail tile, tiling the image exactly, kept as the report says', async () => {
  const r = await (await mm.chat()).ask([{ type: 'image', image: img.bytes }, 'Total?'], { scm: true, maxTokens: 1 });
  const plan = r.images[0];
  const b = r.scm!.images[0];
  const cells = scmHeatmapCells(plan, b);
  expect(cells).toHaveLength(b.length);
  expect(cells.filter((c) => c.kept)).toHaveLength(b.kept.length);
  const area = cells.reduce((n, c) => n + c.width * c.height, 0);
  expect(area).toBeCloseTo(800 * 600, 3);
  for (const c of cells) {
    expect(c.x).toBeGreaterThanOrEqual(0);
    expect(c.y).toBeGreaterThanOrEqual(0);
    expect(c.x + c.width).toBeLessThanOrEqual(800 + 1e-9);
    expect(c.y + c.height).toBeLessThanOrEqual(600 + 1e-9);
  }
  // Token 17 of tile 0 is row 1, column 1 of that tile's 16x16 grid.
  const tw = 800 / plan.detail.cols;
  const th = 600 / plan.detail.rows;
  expect(cells[17]).toMatchObject({ x: tw / 16, y: th / 16, width: tw / 16, height: th / 16 });
  // The second tile starts one tile width to the right.
  expect(cells[256].x).toBeCloseTo(tw, 9);
  expect(() => scmHeatmapCells(plan, { ...b, scores: b.scores.slice(1) })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
});

test('ask --scm-heatmap (and crops --scm-heatmap): a PNG of the image with kept tokens coloured by score and dropped ones greyed', async () => {
  const dir = fs.mkdtempSync(path.join(tempDir(), 'heatmap-'));
  const out = path.join(dir, 'heat.png');
  const r = await run(['ask', img.file, 'Total?', '--model', pair.model, '--mmproj', pair.mmproj, '-t', '2', '--context', '4096', '-n', '2', '--scm-heatmap', out, '--json', '--scm-scores']);
  expect(r.stderr).toContain(`wrote ${out}`);
  expect(r.status).toBe(0);
  const res = JSON.parse(r.stdout);
  const b = res.scm.images[0];
  const cells = scmHeatmapCells(mm.planCrops(800, 600, 'default'), b); // the plan the CLI used (its --json prints a summary)
  // crops --scm-heatmap with the same question draws the same picture, byte for byte.
  const viaCrops = path.join(dir, 'crops-heat.png');
  const c = await run(['crops', img.file, '--scm-heatmap', viaCrops, '--question', 'Total?', '--model', pair.model, '--mmproj', pair.mmproj, '-t', '2']);
  expect(c.status).toBe(0);
  expect(c.stdout).toContain(`scm: kept ${res.scm.detailKept} of ${res.scm.detailTokens} detail tokens\nwrote ${viaCrops}`);
  expect(fs.readFileSync(viaCrops).equals(fs.readFileSync(out))).toBe(true);
  const png = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  expect([png.info.width, png.info.height]).toEqual([800, 600]);
  const orig = await loadImage(img.file);
  const at = (buf: Uint8Array, channels: number, x: number, y: number) => [0, 1, 2].map((c) => buf[(y * 800 + x) * channels + c]);
  const top = Math.max(...cells.map((c) => c.score));
  for (const c of [cells.find((x) => x.kept)!, cells.find((x) => !x.kept)!]) {
    const x = Math.floor(c.x + c.width / 2);
    const y = Math.floor(c.y + c.height / 2);
    const o = at(orig.data, 3, x, y);
    const overlay = c.kept ? heatColour(c.score / top) : [70, 70, 70];
    const alpha = c.kept ? 0.55 : 0.6;
    const expected = o.map((v, i) => alpha * overlay[i] + (1 - alpha) * v);
    at(png.data, png.info.channels, x, y).forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(6));
  }
}, 120_000);

test('ask --scm-heatmap needs an image (exit 2); a plan without detail tiles has nothing to draw (exit 1, no file)', async () => {
  const dir = fs.mkdtempSync(path.join(tempDir(), 'heatmap-'));
  const out = path.join(dir, 'heat.png');
  const args = ['--model', pair.model, '--mmproj', pair.mmproj, '-t', '2', '-n', '1', '--scm-heatmap', out];
  const stray = await run(['crops', img.file, '--model', pair.model]);
  expect(stray.status).toBe(2);
  expect(stray.stderr).toContain('go with --scm-heatmap');
  const noImage = await run(['ask', '--text-only', 'hi', ...args]);
  expect(noImage.status).toBe(2);
  expect(noImage.stderr).toContain('--scm-heatmap needs an image');
  const small = await pageImage(300, 300, 9);
  expect(mm.planCrops(300, 300, 'fast').detail).toEqual({ cols: 1, rows: 1 });
  const none = await run(['ask', small.file, 'hi', ...args, '-p', 'fast']);
  expect(none.status).toBe(1);
  expect(none.stderr).toContain('[UNSUPPORTED]');
  expect(fs.existsSync(out)).toBe(false);
}, 120_000);
