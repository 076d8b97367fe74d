// MSAC batch assembly against Pillow + numpy (the reference's own preprocessing), and the
// whole image path through the vision tower.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { VisionEncoder } from '../lib/vision/encoder';
import { encodeImage, TILES_PER_CALL } from '../lib/vision/encode-image';
import { preprocessRgb, RgbImage } from '../lib/vision/preprocess';
import { relError, tempDir, tinyPair } from './helpers/models';

const PYTHON = '/usr/bin/python3'; // Debian's, with python3-pil and python3-numpy (scripts/setup-system.sh)

function testImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const i = (y * width + x) * 3;
      // edges, gradients and noise: every resampling tap matters
      data[i] = (x * 255) / width + ((s >>> 24) & 31);
      data[i + 1] = (x + y) % 64 < 32 ? 230 : 20;
      data[i + 2] = (s >>> 16) & 255;
    }
  }
  return { data, width, height };
}

async function pillowTiles(img: RgbImage, tiles: number[][], size: number): Promise<Float32Array> {
  const dir = fs.mkdtempSync(path.join(tempDir(), 'pillow-'));
  const png = path.join(dir, 'image.png');
  await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toFile(png);
  const req = path.join(dir, 'request.json');
  fs.writeFileSync(req, JSON.stringify({ image: png, tiles, size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }));
  const out = path.join(dir, 'tiles.f32');
  execFileSync(PYTHON, [path.join(__dirname, 'helpers', 'pillow_tiles.py'), req, out]);
  const buf = fs.readFileSync(out);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
}

describe('tile batch vs Pillow + numpy', () => {
  it.each([
    [300, 200, 'fast'],
    [1000, 700, 'photo'],
    [61, 997, 'fast'],
    [1344, 896, 'chart'],
  ] as const)('%ix%i with the %s preset: every tile within 1e-6', async (w, h, preset) => {
    const img = testImage(w, h, w * 7 + h);
    const { plan, pixels } = await preprocessRgb(img, { crop: preset });
    expect(pixels.length).toBe(plan.tileCount * 3 * 448 * 448);
    const ref = await pillowTiles(img, plan.tiles.map((t) => [t.resizeTo.width, t.resizeTo.height, t.crop.x, t.crop.y]), 448);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(pixels[i] - ref[i]));
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('rejects a crop that does not fit its layer and a short pixel buffer', async () => {
    await expect(preprocessRgb({ data: new Uint8Array(10), width: 4, height: 4 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('encodeImage', () => {
  it('gives the embeddings of every tile of the plan, in plan order', async () => {
    const { mmproj } = await tinyPair('f32');
    const enc = await VisionEncoder.load(mmproj, { threads: 2 });
    try {
      const img = testImage(640, 360, 99);
      const out = await encodeImage(enc, img, { crop: 'fast' });
      const { plan, pixels } = await preprocessRgb(img, { crop: 'fast' });
      expect(out.plan).toEqual(plan);
      expect(out.embeddings.length).toBe(plan.imageTokens * enc.info.embeddingWidth);
      expect(plan.layers.detail.count + plan.layers.adaptive.count + plan.layers.global.count).toBe(plan.tileCount);
      const per = 3 * 448 * 448;
      const perTile = 256 * enc.info.embeddingWidth;
      for (let t = 0; t < plan.tileCount; t++) {
        const one = await enc.encode(pixels.slice(t * per, (t + 1) * per), 1);
        expect(relError(out.embeddings.subarray(t * perTile, (t + 1) * perTile), one)).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      enc.dispose();
    }
  });

  it('a page of many tiles goes through in chunks of TILES_PER_CALL: progress after each, the same embeddings as one graph', async () => {
    const { mmproj } = await tinyPair();
    const enc = await VisionEncoder.load(mmproj, { threads: 2 });
    try {
      const img = testImage(1344, 896, 7);
      const seen: [number, number][] = [];
      const out = await encodeImage(enc, img, { crop: 'default', onTiles: (done, total) => seen.push([done, total]) });
      const n = out.plan.tileCount;
      expect(n).toBeGreaterThan(2 * TILES_PER_CALL);
      const want: [number, number][] = [];
      for (let done = TILES_PER_CALL; done < n + TILES_PER_CALL; done += TILES_PER_CALL) want.push([Math.min(done, n), n]);
      expect(seen).toEqual(want);
      const { pixels } = await preprocessRgb(img, { crop: 'default' });
      expect(relError(out.embeddings, await enc.encode(pixels, n))).toBeLessThanOrEqual(1e-5);
    } finally {
      enc.dispose();
    }
  });
});
