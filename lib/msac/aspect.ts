// find_closest_aspect_ratio exactly as the reference (facts §2.3). Everything is double, like
// Python floats; float32 would change which exact ties count as ties.
import type { GridRatio } from './candidates';

/**
 * Picks the grid whose i/j is closest to width/height, scanning `ratios` in order. On an exact
 * tie the later ratio wins iff the image area exceeds half that grid's canvas (strict >). An
 * empty list gives 1x1.
 */
export function findClosestAspectRatio(
  width: number,
  height: number,
  ratios: readonly GridRatio[],
  tileSize = 448,
): GridRatio {
  const aspect = width / height;
  const area = width * height;
  let bestDiff = Infinity;
  let best: GridRatio = { i: 1, j: 1 };
  for (const r of ratios) {
    const diff = Math.abs(aspect - r.i / r.j);
    if (diff < bestDiff) {
      bestDiff = diff;
      best = r;
    } else if (diff === bestDiff) {
      // Same evaluation order as `0.5 * image_size * image_size * ratio[0] * ratio[1]`.
      if (area > 0.5 * tileSize * tileSize * r.i * r.j) best = r;
    }
  }
  return best;
}
