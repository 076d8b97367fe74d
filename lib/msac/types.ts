// Shapes shared by the MSAC crop planner (presets, validation, plan).

/** Inclusive range of tile counts (i*j) a layer may use. */
export interface LayerRange {
  min: number;
  max: number;
}

export interface CropOptions {
  /** Detail layer (`dynamic_preprocess`) tile-count range. */
  detail: LayerRange;
  /** Adaptive layer (`dynamic_preprocess2`) range, or false for plain InternVL tiling. */
  adaptive: LayerRange | false;
  /** Tile edge in pixels (the ViT input size). Default 448. */
  tileSize?: number;
  /** Image tokens each tile costs after pixel shuffle. Default 256. */
  tokensPerTile?: number;
}

export interface Grid {
  /** Tiles across the width. */
  cols: number;
  /** Tiles down the height. */
  rows: number;
}

export type TileLayer = 'detail' | 'adaptive' | 'global';

export interface TileSpec {
  layer: TileLayer;
  col: number;
  row: number;
  /** Size the whole image is stretched to (Pillow bicubic) before this tile is cut out. */
  resizeTo: { width: number; height: number };
  /** The tile's rectangle in the resized image. */
  crop: { x: number; y: number; width: number; height: number };
}

export interface LayerRangeInPlan {
  firstTile: number;
  count: number;
  firstToken: number;
  tokenCount: number;
}

export interface CropPlan {
  width: number;
  height: number;
  tileSize: number;
  tokensPerTile: number;
  /** The detail grid chosen. 1x1 means its lone tile sits in the global slot (facts §3.1 step 3). */
  detail: Grid;
  /** The adaptive grid, or null when disabled or when no candidate survives the exclusion rule. */
  adaptive: Grid | null;
  /** Whether the detail layer appended a thumbnail (its tile count is not 1). */
  thumbnail: boolean;
  /** Detail tiles (row-major), adaptive tiles (row-major), then the global tile: the VLMEvalKit order. */
  tiles: TileSpec[];
  tileCount: number;
  imageTokens: number;
  layers: { detail: LayerRangeInPlan; adaptive: LayerRangeInPlan; global: LayerRangeInPlan };
}
