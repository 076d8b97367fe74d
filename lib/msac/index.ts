// The MSAC crop planner's public surface.
export { candidateRatios, type GridRatio } from './candidates';
export { findClosestAspectRatio } from './aspect';
export { PRESETS, PRESET_NAMES, isPresetName, type PresetName } from './presets';
export { resolveCropOptions, MAX_TILES_PER_LAYER, type ResolvedCropOptions } from './options';
export { planCrops, detailGrid, adaptiveGrid } from './plan';
export { CropOptionsError } from './errors';
export type { CropOptions, CropPlan, Grid, LayerRange, LayerRangeInPlan, TileLayer, TileSpec } from './types';
