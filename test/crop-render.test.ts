// renderCropPlan: a PNG of the expected size whose cut lines sit where the plan's grids cut the
// image, each layer in its colour, drawn over a document-like page.
import sharp from 'sharp';
import { InvalidArgumentError } from '../lib/errors';
import { loadImage } from '../lib/image/load';
import { planCrops } from '../lib/msac/plan';
import { CROP_PLAN_COLOURS, cropPlanCaption, cropPlanLayout, renderCropPlan } from '../lib/msac/render';

// An A4-like page at 150 dpi: a title, a shaded box and 40 lines of text.
async function documentPng(width = 1240, height = 1754): Promise<Buffer> {
  let body = '';
  for (let i = 0; i < 40; i++) {
    body += `<text x="90" y="${260 + i * 36}" font-family="DejaVu Serif" font-size="22" fill="#111">${i + 1}. The quick brown fox, invoice line ${1000 + i * 37} EUR</text>`;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/><text x="90" y="150" font-family="DejaVu Sans" font-size="56" fill="#123">INVOICE 2026-117</text><rect x="780" y="60" width="360" height="120" fill="#dde"/>${body}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

async function decode(png: Buffer) {
  const meta = await sharp(png).metadata();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3));
  return { meta, info, at };
}

describe('renderCropPlan', () => {
  let page: Buffer;
  beforeAll(async () => {
    page = await documentPng();
  });

  it('draws a document page: PNG of the layout size, longest image side 1600', async () => {
    const plan = planCrops(1240, 1754, 'default');
    expect(plan.detail).toEqual({ cols: 4, rows: 6 }); // the grids this test's lines come from
    expect(plan.adaptive).toEqual({ cols: 1, rows: 4 });
    const png = await renderCropPlan(page, plan);
    const lay = cropPlanLayout(plan);
    const { meta, info, at } = await decode(png);
    expect(meta.format).toBe('png');
    expect([info.width, info.height]).toEqual([lay.width, lay.height]);
    expect(lay.image.height).toBe(1600);
    expect(lay.image.width).toBe(Math.round((1240 * 1600) / 1754));

    const { left, top, width, height } = lay.image;
    // Vertical detail lines at k/4 of the width: every sampled pixel down the line is detail red.
    expect(lay.detail.xs).toHaveLength(3);
    lay.detail.xs.forEach((x, k) => {
      expect(Math.abs(x + 1 - (left + ((k + 1) * width) / 4))).toBeLessThanOrEqual(1.5);
      for (let y = top; y < top + height; y += 7) expect(at(x + 1, y)).toEqual([...CROP_PLAN_COLOURS.detail]);
    });
    // Horizontal detail lines at k/6 of the height.
    expect(lay.detail.ys).toHaveLength(5);
    lay.detail.ys.forEach((y, k) => {
      expect(Math.abs(y + 1 - (top + ((k + 1) * height) / 6))).toBeLessThanOrEqual(1.5);
      for (let x = left; x < left + width; x += 7) expect(at(x, y + 1)).toEqual([...CROP_PLAN_COLOURS.detail]);
    });
    // Adaptive 1x4: horizontal lines at 1/4 and 3/4 (the 2/4 one lies under a detail line).
    expect(lay.adaptive.xs).toHaveLength(0);
    for (const k of [1, 3]) {
      const y = lay.adaptive.ys[k - 1] + 3;
      expect(Math.abs(y - (top + (k * height) / 4))).toBeLessThanOrEqual(1.5);
      expect(at(left + 10, y)).toEqual([...CROP_PLAN_COLOURS.adaptive]);
    }
    // The thumbnail frame just outside the image, and the page itself inside a tile (white paper).
    expect(at(left - 3, top + Math.floor(height / 2))).toEqual([...CROP_PLAN_COLOURS.global]);
    expect(at(left + width - 20, top + height - 20).every((v) => v > 240)).toBe(true);
    // Text was drawn: the caption area is not blank.
    const cap = await sharp(png).extract({ left: 0, top: lay.captionTop, width: 400, height: lay.height - lay.captionTop }).greyscale().raw().toBuffer();
    expect(cap.some((v) => v < 100)).toBe(true);
  });

  it('captions grids, tiles and tokens from the plan', () => {
    const plan = planCrops(1240, 1754, 'default');
    expect(cropPlanCaption(plan)).toEqual([
      'detail 4x6: 24 tiles, 6,144 tokens',
      'adaptive 1x4: 4 tiles, 1,024 tokens',
      'thumbnail 1x1: 1 tile, 256 tokens',
      '1240x1754 image: 29 tiles of 448px, 7,424 tokens',
    ]);
    const small = planCrops(300, 300, 'fast');
    expect(small.detail).toEqual({ cols: 1, rows: 1 });
    expect(cropPlanCaption(small)[0]).toMatch(/its one tile is the global tile/);
  });

  it('enlarges small images and widens very thin ones so their lines show', async () => {
    const small = await renderCropPlan({ data: new Uint8Array(200 * 100 * 3).fill(200), width: 200, height: 100 }, planCrops(200, 100, 'photo'));
    const ls = cropPlanLayout(planCrops(200, 100, 'photo'));
    expect([ls.image.width, ls.image.height]).toEqual([640, 320]);
    expect((await sharp(small).metadata()).width).toBe(ls.width);

    const plan = planCrops(5000, 1, 'fast');
    const lay = cropPlanLayout(plan);
    expect(lay.image.height).toBe(64);
    expect(lay.stretched).toBe(true);
    const { at } = await decode(await renderCropPlan({ data: new Uint8Array(5000 * 3).fill(128), width: 5000, height: 1 }, plan));
    expect(at(lay.detail.xs[0] + 1, lay.image.top + 30)).toEqual([...CROP_PLAN_COLOURS.detail]);
  });

  it('rejects a plan made for another image size', async () => {
    await expect(renderCropPlan(page, planCrops(1000, 1000, 'fast'))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(renderCropPlan(page, planCrops(1240, 1754, 'fast'), { maxSide: 3 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('uses the same loading rules as the model: an EXIF-rotated JPEG is planned and drawn upright', async () => {
    const jpeg = await sharp(page).resize(620, 877).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const img = await loadImage(jpeg);
    expect([img.width, img.height]).toEqual([877, 620]);
    const png = await renderCropPlan(jpeg, planCrops(877, 620, 'fast'));
    expect((await sharp(png).metadata()).width).toBe(cropPlanLayout(planCrops(877, 620, 'fast')).width);
  });
});
