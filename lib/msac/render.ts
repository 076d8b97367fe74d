// A picture of a crop plan: the image with each MSAC layer's cut lines drawn over it and a caption
// with the grids, tile and token counts. For eyeballing presets on real documents.
import { sharpLib } from '../image/sharp-lib';
import { InvalidArgumentError } from '../errors';
import { type ImageInput, loadImage, type LoadImageOptions } from '../image/load';
import type { CropPlan } from './types';

export interface RenderCropPlanOptions extends LoadImageOptions {
  /** Longest side of the drawn image in pixels (default 1600); smaller images are enlarged to 640. */
  maxSide?: number;
}

/** Line colours, as [r, g, b]. Detail lines are drawn last, so they are on top where lines meet. */
export const CROP_PLAN_COLOURS = Object.freeze({
  detail: Object.freeze([230, 25, 75] as const),
  adaptive: Object.freeze([0, 130, 200] as const),
  global: Object.freeze([60, 180, 75] as const),
});

/** Where things go in the picture; renderCropPlan draws exactly this. */
export interface CropPlanLayout {
  width: number;
  height: number;
  /** The drawn image's rectangle. */
  image: { left: number; top: number; width: number; height: number };
  /** Left edges of vertical and top edges of horizontal cut lines, picture coordinates. */
  detail: { xs: number[]; ys: number[] };
  adaptive: { xs: number[]; ys: number[] };
  lineWidth: { detail: number; adaptive: number; global: number };
  captionTop: number;
  /** Whether the image is drawn with a different aspect ratio (thin images are widened). */
  stretched: boolean;
}

const MARGIN = 16;
const MIN_SIDE = 640;
const MIN_THIN = 64;
const CAPTION_WIDTH = 560; // the caption's text needs this much, even under a thin image
const CAPTION_LINE = 22;
const CAPTION_LINES = 4;

/** Cut positions of `n` equal parts of a `size`-pixel span starting at `start`, centred on a line of `w` pixels. */
function cuts(start: number, size: number, n: number, w: number): number[] {
  const out: number[] = [];
  for (let k = 1; k < n; k++) out.push(start + Math.round((k * size) / n) - Math.floor(w / 2));
  return out;
}

/** The layout renderCropPlan uses for `plan` (pure geometry). */
export function cropPlanLayout(plan: CropPlan, maxSide = 1600): CropPlanLayout {
  if (!Number.isSafeInteger(maxSide) || maxSide < 16) throw new InvalidArgumentError(`maxSide must be an integer >= 16, got ${String(maxSide)}`);
  const long = Math.max(plan.width, plan.height);
  const target = Math.min(maxSide, Math.max(long, MIN_SIDE));
  const scale = target / long;
  // Very thin images are drawn stretched across, else their cut lines would be invisible.
  const iw = Math.max(MIN_THIN, Math.round(plan.width * scale));
  const ih = Math.max(MIN_THIN, Math.round(plan.height * scale));
  const lineWidth = { detail: 3, adaptive: 7, global: 5 };
  const left = MARGIN;
  const top = MARGIN;
  const captionTop = top + ih + MARGIN;
  const adaptive = plan.adaptive ?? { cols: 1, rows: 1 };
  return {
    width: Math.max(iw, CAPTION_WIDTH) + 2 * MARGIN,
    height: captionTop + CAPTION_LINES * CAPTION_LINE + MARGIN,
    image: { left, top, width: iw, height: ih },
    detail: { xs: cuts(left, iw, plan.detail.cols, lineWidth.detail), ys: cuts(top, ih, plan.detail.rows, lineWidth.detail) },
    adaptive: { xs: cuts(left, iw, adaptive.cols, lineWidth.adaptive), ys: cuts(top, ih, adaptive.rows, lineWidth.adaptive) },
    lineWidth,
    captionTop,
    stretched: Math.abs(iw / ih - plan.width / plan.height) > 0.02 * (plan.width / plan.height),
  };
}

const rgb = (c: readonly number[]) => `rgb(${c.join(',')})`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function rects(xs: number[], ys: number[], box: CropPlanLayout['image'], w: number, fill: string): string {
  const v = xs.map((x) => `<rect x="${x}" y="${box.top}" width="${w}" height="${box.height}" fill="${fill}"/>`);
  const h = ys.map((y) => `<rect x="${box.left}" y="${y}" width="${box.width}" height="${w}" fill="${fill}"/>`);
  return [...v, ...h].join('');
}

/** The caption's lines: one per layer, then the totals. */
export function cropPlanCaption(plan: CropPlan): string[] {
  const { layers: L } = plan;
  const tokens = (n: number) => `${n.toLocaleString('en-US')} tokens`;
  const detail = plan.thumbnail
    ? `detail ${plan.detail.cols}x${plan.detail.rows}: ${plural(L.detail.count, 'tile')}, ${tokens(L.detail.tokenCount)}`
    : 'detail 1x1: its one tile is the global tile';
  const adaptive = plan.adaptive
    ? `adaptive ${plan.adaptive.cols}x${plan.adaptive.rows}: ${plural(L.adaptive.count, 'tile')}, ${tokens(L.adaptive.tokenCount)}`
    : 'adaptive: none';
  const global = `${plan.thumbnail ? 'thumbnail' : 'global'} 1x1: 1 tile, ${tokens(L.global.tokenCount)}`;
  const total = `${plan.width}x${plan.height} image: ${plural(plan.tileCount, 'tile')} of ${plan.tileSize}px, ${tokens(plan.imageTokens)}`;
  return [detail, adaptive, global, total];
}

function overlaySvg(plan: CropPlan, lay: CropPlanLayout): string {
  const box = lay.image;
  const c = CROP_PLAN_COLOURS;
  const g = lay.lineWidth.global;
  const caption = cropPlanCaption(plan);
  if (lay.stretched) caption[3] += ' (drawn stretched)';
  const swatches: (readonly number[] | null)[] = [c.detail, plan.adaptive ? c.adaptive : null, c.global, null];
  const text = caption
    .map((line, i) => {
      const y = lay.captionTop + i * CAPTION_LINE;
      const sw = swatches[i];
      const mark = sw ? `<rect x="${MARGIN}" y="${y + 4}" width="14" height="14" fill="${rgb(sw)}"/>` : '';
      return `${mark}<text x="${MARGIN + 22}" y="${y + 16}" font-family="DejaVu Sans, Arial, sans-serif" font-size="15" fill="#202020">${esc(line)}</text>`;
    })
    .join('');
  // The global (or thumbnail) tile is the whole image: a frame just outside it.
  const frame = `<rect x="${box.left - g / 2}" y="${box.top - g / 2}" width="${box.width + g}" height="${box.height + g}" fill="none" stroke="${rgb(c.global)}" stroke-width="${g}"/>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${lay.width}" height="${lay.height}" shape-rendering="crispEdges">` +
    frame +
    rects(lay.adaptive.xs, lay.adaptive.ys, box, lay.lineWidth.adaptive, rgb(c.adaptive)) +
    rects(lay.detail.xs, lay.detail.ys, box, lay.lineWidth.detail, rgb(c.detail)) +
    text +
    '</svg>'
  );
}

/**
 * Draws `plan` over `image` (any input loadImage takes; it must be the image the plan was made for)
 * and resolves to PNG bytes: detail cut lines red, adaptive blue, the global/thumbnail frame green,
 * and a caption with grids, tiles and tokens.
 */
export async function renderCropPlan(image: ImageInput, plan: CropPlan, options: RenderCropPlanOptions = {}): Promise<Buffer> {
  const { maxSide, ...load } = options;
  const lay = cropPlanLayout(plan, maxSide);
  const img = await loadImage(image, load);
  if (img.width !== plan.width || img.height !== plan.height) {
    throw new InvalidArgumentError(`the plan is for a ${plan.width}x${plan.height} image, but this image is ${img.width}x${img.height}`);
  }
  const shown = await sharpLib()(img.data, { raw: { width: img.width, height: img.height, channels: 3 }, limitInputPixels: false })
    .resize(lay.image.width, lay.image.height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return sharpLib()({ create: { width: lay.width, height: lay.height, channels: 3, background: { r: 250, g: 250, b: 250 } } })
    .composite([
      { input: shown, raw: { width: lay.image.width, height: lay.image.height, channels: 3 }, left: lay.image.left, top: lay.image.top },
      { input: Buffer.from(overlaySvg(plan, lay)), left: 0, top: 0 },
    ])
    .png()
    .toBuffer();
}
