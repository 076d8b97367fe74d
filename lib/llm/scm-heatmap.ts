// SCM's choice drawn over the page: each scored detail token stands for a square of its tile
// (256 tokens a tile = a 16x16 grid over the 448-px tile, facts §1/§3.4), and the tile for a
// rectangle of the image (the crop plan's TileSpec). One geometry for the CLI's PNG and the page.
import { InvalidArgumentError } from '../errors';
import { type ImageInput, loadImage, type LoadImageOptions } from '../image/load';
import { sharpLib } from '../image/sharp-lib';
import type { ScmImageReport } from './scm';
import type { CropPlan } from '../msac/types';

/** One scored token: the rectangle of the original image it covers, its score, whether SCM kept it. */
export interface ScmHeatmapCell {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
  kept: boolean;
}

/** The cells of `report` on `plan`'s image, in original pixel coordinates. */
export function scmHeatmapCells(plan: CropPlan, report: ScmImageReport): ScmHeatmapCell[] {
  const side = Math.round(Math.sqrt(plan.tokensPerTile));
  if (side * side !== plan.tokensPerTile) throw new InvalidArgumentError(`tokensPerTile ${plan.tokensPerTile} is not a square grid`);
  if (report.scores.length !== report.length || report.offset + report.length > plan.imageTokens) {
    throw new InvalidArgumentError('the SCM report does not belong to this crop plan');
  }
  const kept = new Set(report.kept);
  const cells: ScmHeatmapCell[] = [];
  for (let k = 0; k < report.length; k++) {
    const token = report.offset + k;
    const tile = plan.tiles[Math.floor(token / plan.tokensPerTile)];
    const within = token % plan.tokensPerTile;
    // The tile is cut from the image stretched to resizeTo: scale back to the image's own pixels.
    const sx = plan.width / tile.resizeTo.width;
    const sy = plan.height / tile.resizeTo.height;
    const cw = tile.crop.width / side;
    const ch = tile.crop.height / side;
    const x = (tile.crop.x + (within % side) * cw) * sx;
    const y = (tile.crop.y + Math.floor(within / side) * ch) * sy;
    cells.push({ x, y, width: cw * sx, height: ch * sy, score: report.scores[k], kept: kept.has(k) });
  }
  return cells;
}

/**
 * A colour for a score relative to the block's highest: dark blue (low) through yellow to red
 * (high). Dropped tokens are greyed out instead.
 */
export function heatColour(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, t));
  const stops: [number, number, number][] = [[40, 40, 160], [250, 220, 40], [220, 30, 30]];
  const f = u * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(f));
  const w = f - i;
  return stops[i].map((c, j) => Math.round(c + (stops[i + 1][j] - c) * w)) as [number, number, number];
}

export interface RenderScmHeatmapOptions extends LoadImageOptions {
  /** Longest side of the drawn image in pixels (default 1600). */
  maxSide?: number;
}

/**
 * Draws SCM's scores over `image` (the image `plan` was made for) as a PNG: kept tokens coloured
 * by score (relative to the block's highest), dropped tokens dimmed grey.
 */
export async function renderScmHeatmap(image: ImageInput, plan: CropPlan, report: ScmImageReport, options: RenderScmHeatmapOptions = {}): Promise<Buffer> {
  const { maxSide = 1600, ...load } = options;
  if (!Number.isSafeInteger(maxSide) || maxSide < 16) throw new InvalidArgumentError(`maxSide must be an integer >= 16, got ${String(maxSide)}`);
  const cells = scmHeatmapCells(plan, report);
  const img = await loadImage(image, load);
  if (img.width !== plan.width || img.height !== plan.height) {
    throw new InvalidArgumentError(`the plan is for a ${plan.width}x${plan.height} image, but this image is ${img.width}x${img.height}`);
  }
  const scale = Math.min(1, maxSide / Math.max(img.width, img.height));
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const top = cells.reduce((m, c) => Math.max(m, c.score), 0) || 1;
  const rects = cells
    .map((c) => {
      const fill = c.kept ? `rgb(${heatColour(c.score / top).join(',')})` : 'rgb(70,70,70)';
      const opacity = c.kept ? 0.55 : 0.6;
      return `<rect x="${(c.x * scale).toFixed(2)}" y="${(c.y * scale).toFixed(2)}" width="${(c.width * scale).toFixed(2)}" height="${(c.height * scale).toFixed(2)}" fill="${fill}" fill-opacity="${opacity}"/>`;
    })
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" shape-rendering="crispEdges">${rects}</svg>`;
  return sharpLib()(img.data, { raw: { width: img.width, height: img.height, channels: 3 }, limitInputPixels: false })
    .resize(w, h, { fit: 'fill', kernel: 'lanczos3' })
    .composite([{ input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toBuffer();
}
