// The MSAC crop plan: which grids the reference picks for an image and where every tile comes
// from, in the VLMEvalKit batch order (facts §2.4, §2.5, §3.1). Pure geometry; no pixels.
import { findClosestAspectRatio } from './aspect';
import { candidateRatios, type GridRatio } from './candidates';
import { CropOptionsError } from './errors';
import { resolveCropOptions } from './options';
import type { PresetName } from './presets';
import type { CropOptions, CropPlan, Grid, LayerRangeInPlan, TileLayer, TileSpec } from './types';

function checkSize(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new CropOptionsError(field, `${field} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/** The detail grid (`dynamic_preprocess`). */
export function detailGrid(width: number, height: number, min: number, max: number, tileSize = 448): GridRatio {
  return findClosestAspectRatio(width, height, candidateRatios(min, max), tileSize);
}

/**
 * The adaptive grid (`dynamic_preprocess2`, demo/VLMEvalKit rule): candidates whose cut lines
 * would all lie on the detail grid's (r.i | prior.i and r.j | prior.j) are dropped first.
 * Returns 1x1 when nothing survives.
 */
export function adaptiveGrid(
  width: number,
  height: number,
  min: number,
  max: number,
  prior: GridRatio,
  tileSize = 448,
): GridRatio {
  const kept = candidateRatios(min, max).filter((r) => prior.i % r.i !== 0 || prior.j % r.j !== 0);
  return findClosestAspectRatio(width, height, kept, tileSize);
}

function gridTiles(layer: TileLayer, g: GridRatio, s: number): TileSpec[] {
  const out: TileSpec[] = [];
  for (let k = 0; k < g.i * g.j; k++) {
    const col = k % g.i;
    const row = Math.floor(k / g.i);
    out.push({
      layer,
      col,
      row,
      resizeTo: { width: s * g.i, height: s * g.j },
      crop: { x: col * s, y: row * s, width: s, height: s },
    });
  }
  return out;
}

/**
 * Plans the MSAC tiles of a width×height image for a preset (default 'default') or explicit
 * options. Throws CropOptionsError on bad sizes or options.
 */
export function planCrops(width: number, height: number, options?: PresetName | CropOptions): CropPlan {
  checkSize(width, 'width');
  checkSize(height, 'height');
  // The tie rule compares the integer area exactly, which doubles only do below 2^53.
  if (!Number.isSafeInteger(width * height)) {
    throw new CropOptionsError('width', `image ${width}x${height} is too large`);
  }
  const opts = resolveCropOptions(options);
  const s = opts.tileSize;

  const d = detailGrid(width, height, opts.detail.min, opts.detail.max, s);
  const dCount = d.i * d.j;
  // A 1x1 detail layer has no thumbnail; its lone tile (the same pixels) takes the global slot.
  const thumbnail = dCount !== 1;
  const detailTiles = thumbnail ? gridTiles('detail', d, s) : [];

  let adaptive: Grid | null = null;
  let adaptiveTiles: TileSpec[] = [];
  if (opts.adaptive !== false) {
    const a = adaptiveGrid(width, height, opts.adaptive.min, opts.adaptive.max, d, s);
    // A 1x1 adaptive result is one tile without a thumbnail, and the reference's `[:-1]` drops it.
    if (a.i * a.j !== 1) {
      adaptive = { cols: a.i, rows: a.j };
      adaptiveTiles = gridTiles('adaptive', a, s);
    }
  }

  const globalTile: TileSpec = {
    layer: 'global',
    col: 0,
    row: 0,
    resizeTo: { width: s, height: s },
    crop: { x: 0, y: 0, width: s, height: s },
  };
  const tiles = [...detailTiles, ...adaptiveTiles, globalTile];
  const t = opts.tokensPerTile;
  const range = (firstTile: number, count: number): LayerRangeInPlan => ({
    firstTile,
    count,
    firstToken: firstTile * t,
    tokenCount: count * t,
  });

  return {
    width,
    height,
    tileSize: s,
    tokensPerTile: t,
    detail: { cols: d.i, rows: d.j },
    adaptive,
    thumbnail,
    tiles,
    tileCount: tiles.length,
    imageTokens: tiles.length * t,
    layers: {
      detail: range(0, detailTiles.length),
      adaptive: range(detailTiles.length, adaptiveTiles.length),
      global: range(detailTiles.length + adaptiveTiles.length, 1),
    },
  };
}
