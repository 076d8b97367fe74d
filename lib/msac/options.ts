// Turns a preset name or explicit options into checked, complete crop options.
import { CropOptionsError } from './errors';
import { isPresetName, PRESET_NAMES, PRESETS, type PresetName } from './presets';
import type { CropOptions, LayerRange } from './types';

/**
 * Upper bound on a layer's tile count. 128 tiles are 32,768 tokens, the language model's whole
 * context, so anything above is unusable; it also bounds the candidate-list work.
 */
export const MAX_TILES_PER_LAYER = 128;

export interface ResolvedCropOptions {
  detail: LayerRange;
  adaptive: LayerRange | false;
  tileSize: number;
  tokensPerTile: number;
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

function checkRange(value: unknown, field: string): LayerRange {
  if (typeof value !== 'object' || value === null) {
    throw new CropOptionsError(field, `${field} must be an object { min, max }`);
  }
  const { min, max } = value as { min?: unknown; max?: unknown };
  if (!isPositiveInt(min)) throw new CropOptionsError(`${field}.min`, `${field}.min must be an integer >= 1, got ${String(min)}`);
  if (!isPositiveInt(max)) throw new CropOptionsError(`${field}.max`, `${field}.max must be an integer >= 1, got ${String(max)}`);
  if (min > max) throw new CropOptionsError(field, `${field}.min (${min}) must not exceed ${field}.max (${max})`);
  if (max > MAX_TILES_PER_LAYER) {
    throw new CropOptionsError(`${field}.max`, `${field}.max must be at most ${MAX_TILES_PER_LAYER}, got ${max}`);
  }
  return { min, max };
}

function checkPositive(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isPositiveInt(value)) throw new CropOptionsError(field, `${field} must be an integer >= 1, got ${String(value)}`);
  return value;
}

/** Validates `options` (default: the 'default' preset) and fills in defaults. */
export function resolveCropOptions(options: PresetName | CropOptions = 'default'): ResolvedCropOptions {
  let opts: unknown = options;
  if (typeof opts === 'string') {
    if (!isPresetName(opts)) {
      throw new CropOptionsError('preset', `unknown preset '${opts}'; expected one of ${PRESET_NAMES.join(', ')}`);
    }
    opts = PRESETS[opts];
  }
  if (typeof opts !== 'object' || opts === null) {
    throw new CropOptionsError('options', 'options must be a preset name or { detail, adaptive, tileSize?, tokensPerTile? }');
  }
  const o = opts as Partial<Record<keyof CropOptions, unknown>>;
  const detail = checkRange(o.detail, 'detail');
  let adaptive: LayerRange | false;
  if (o.adaptive === false) adaptive = false;
  else if (o.adaptive === undefined) throw new CropOptionsError('adaptive', 'adaptive must be { min, max } or false');
  else adaptive = checkRange(o.adaptive, 'adaptive');
  return {
    detail,
    adaptive,
    tileSize: checkPositive(o.tileSize, 'tileSize', 448),
    tokensPerTile: checkPositive(o.tokensPerTile, 'tokensPerTile', 256),
  };
}
