// `minimonkey crops` as users run it: the compiled CLI in a child process.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { planCrops } from '../lib/msac/plan';
import { tempDir } from './helpers/models';

const cli = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('minimonkey crops', () => {
  let dir: string;
  let image: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(tempDir(), 'cli-crops-'));
    image = path.join(dir, 'page.png');
    await sharp({ create: { width: 1000, height: 700, channels: 3, background: '#f0f0f0' } }).png().toFile(image);
  });

  it('prints the plan as text and as JSON equal to planCrops', () => {
    const text = run('crops', image);
    expect(text.status).toBe(0);
    const plan = planCrops(1000, 700, 'default');
    expect(text.stdout).toContain(`${image}: 1000x700`);
    expect(text.stdout).toContain(`detail ${plan.detail.cols}x${plan.detail.rows}: ${plan.layers.detail.count} tiles`);
    expect(text.stdout).toContain(`${plan.tileCount} tiles of 448px, ${plan.imageTokens.toLocaleString('en-US')} tokens`);

    const json = run('crops', image, '--preset', 'fast', '--detail', '2-6', '--adaptive', 'off', '--json');
    expect(json.status).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(out.plan).toEqual(planCrops(1000, 700, { detail: { min: 2, max: 6 }, adaptive: false }));
    expect(out.preset).toBe('fast (modified)');
    expect(out.png).toBeNull();
  });

  it('-o writes the drawn plan as a PNG', async () => {
    const png = path.join(dir, 'plan.png');
    const r = run('crops', image, '--preset', 'chart', '-o', png);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote ${png}`);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThanOrEqual(1000);
  });

  it('--help exits 0; usage errors exit 2; a bad image exits 1 with the typed error', () => {
    const help = run('crops', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: minimonkey crops <image>/);
    for (const args of [[], [image, '--preset', 'huge'], [image, '--detail', 'x'], [image, '--detail', '9-3'], [image, '--adaptive', '1-999'], [image, '--bogus']]) {
      const r = run('crops', ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/usage: minimonkey crops/);
    }
    const missing = run('crops', path.join(dir, 'nope.png'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read image file .*no such file \[IMAGE\]/);
    const bad = path.join(dir, 'bad.png');
    fs.writeFileSync(bad, 'not an image');
    expect(run('crops', bad).stderr).toMatch(/unsupported image format \S* ?.*\[IMAGE\]/);
  });
});
