// Named crop presets. All but `fast` are the reference's own numbers (facts §3.3: VLMEvalKit
// `set_max_num` and demo.py). Cost per image is 256·(D + A + 1) tokens, where D is the detail tile
// count (0 when it is 1x1), A the adaptive count, and 1 the global tile.
import type { CropOptions } from './types';

export type PresetName = 'default' | 'document' | 'ocr' | 'chart' | 'infographic' | 'photo' | 'demo' | 'fast';

const preset = (dMin: number, dMax: number, aMin: number, aMax: number): Readonly<CropOptions> =>
  Object.freeze({
    detail: Object.freeze({ min: dMin, max: dMax }),
    adaptive: Object.freeze({ min: aMin, max: aMax }),
  });

export const PRESETS: Readonly<Record<PresetName, Readonly<CropOptions>>> = Object.freeze({
  /** VLMEvalKit default: 16..30 tiles, 4,096..7,680 tokens. */
  default: preset(12, 24, 3, 5),
  /** DocVQA. */
  document: preset(1, 24, 1, 8),
  /** OCRBench. */
  ocr: preset(8, 24, 3, 9),
  /** ChartQA. */
  chart: preset(4, 12, 1, 3),
  /** InfoVQA. */
  infographic: preset(5, 24, 3, 8),
  /** MME / HallusionBench / POPE. */
  photo: preset(3, 9, 1, 4),
  /** demo.py (its own tile order differs; we always use the VLMEvalKit order). */
  demo: preset(4, 12, 3, 7),
  /**
   * Ours, for CPU laptops: 3..8 tiles = 768..2,048 tokens (default: up to 7,680). Adaptive 1..3
   * always keeps 1x3 or 3x1 after the exclusion rule for every detail grid in S(1,4), so the
   * adaptive layer is never empty; small images take detail 1x1, whose tile is the global one.
   */
  fast: preset(1, 4, 1, 3),
});

export const PRESET_NAMES = Object.freeze(Object.keys(PRESETS) as PresetName[]);

export function isPresetName(name: unknown): name is PresetName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(PRESETS, name);
}
