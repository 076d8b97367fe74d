// The resolution a PDF page is rendered at. A page has no pixels of its own, so we choose them for
// MSAC: enough that the largest layer MSAC resizes the page to (the detail grid, or a larger
// adaptive grid) is made by shrinking, never by enlarging, so the tiles hold the page's own detail
// instead of an interpolated blur of a coarse render; and no more than `maxPixels`.
import { planCrops } from '../msac/plan';
import type { PresetName } from '../msac/presets';
import type { CropOptions } from '../msac/types';
import { PDF_LIMITS } from '../limits';

/** Pixels of a side of `points` at `dpi`: rounded up, as poppler's pdftoppm does. */
export function pixelsAt(points: number, dpi: number): number {
  return Math.max(1, Math.ceil(points * (dpi / 72) - 1e-9));
}

/**
 * The dpi for a page of `width`×`height` points (rotation applied) under `crop`: the least dpi at
 * which every MSAC layer is a downscale of the render, at least minAutoDpi, lowered to fit
 * `maxPixels`. The plan's grid depends on the pixel size only through the reference's tie rule,
 * so a few rounds settle it.
 */
export function autoDpi(width: number, height: number, crop: PresetName | CropOptions = 'default', maxPixels: number = PDF_LIMITS.maxPixels.default): number {
  let dpi: number = PDF_LIMITS.minAutoDpi.default;
  for (let round = 0; round < 4; round++) {
    const plan = planCrops(pixelsAt(width, dpi), pixelsAt(height, dpi), crop);
    let need = 0;
    for (const t of plan.tiles) need = Math.max(need, (t.resizeTo.width / width) * 72, (t.resizeTo.height / height) * 72);
    if (need <= dpi) break;
    dpi = need;
  }
  return Math.min(dpi, fitDpi(width, height, maxPixels));
}

/** The largest dpi whose render of width×height points has at most `maxPixels` pixels. */
export function fitDpi(width: number, height: number, maxPixels: number): number {
  if (maxPixels === Infinity) return Infinity;
  let dpi = 72 * Math.sqrt(maxPixels / (width * height));
  // ceil() of each side can push the product just over: step down until it fits.
  while (dpi > 1e-3 && pixelsAt(width, dpi) * pixelsAt(height, dpi) > maxPixels) dpi *= 0.999;
  return dpi;
}
