// From decoded RGB8 pixels to the MSAC tile batch: plan the crops (lib/msac), then resize each
// layer Pillow-exactly, cut the tiles and normalize them natively, off the JS thread.
import { isUint8Array } from 'node:util/types';
import { fromNative, InvalidArgumentError } from '../errors';
import { ImageInput, loadImage, LoadImageOptions } from '../image/load';
import { planCrops } from '../msac/plan';
import type { PresetName } from '../msac/presets';
import type { CropOptions, CropPlan } from '../msac/types';
import { native } from '../native';

/** Interleaved RGB8 pixels, row-major: `width·height·3` bytes. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface PreprocessOptions {
  /** A preset name or explicit layer ranges (default 'default'). */
  crop?: PresetName | CropOptions;
  /** Per-channel normalization (default ImageNet, what Mini-Monkey was trained with). */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /** Tokens per tile of the vision tower (default 256). */
  tokensPerTile?: number;
}

export interface Preprocessed {
  plan: CropPlan;
  /** Planar f32 [plan.tileCount, 3, tileSize, tileSize], in plan.tiles order. */
  pixels: Float32Array;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export function checkRgbImage(img: RgbImage): void {
  if (!img || !isUint8Array(img.data)) throw new InvalidArgumentError('image.data must be a Uint8Array of RGB bytes');
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new InvalidArgumentError(`image size must be positive integers (got ${img.width}x${img.height})`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new InvalidArgumentError(`image.data has ${img.data.length} bytes; ${img.width}x${img.height} RGB needs ${img.width * img.height * 3}`);
  }
}

/** Plans the crops and builds the normalized tile batch of one image. */
export async function preprocessRgb(img: RgbImage, options: PreprocessOptions = {}): Promise<Preprocessed> {
  checkRgbImage(img);
  const crop = options.crop ?? 'default';
  const plan =
    typeof crop === 'string'
      ? planCrops(img.width, img.height, crop)
      : planCrops(img.width, img.height, { ...crop, tokensPerTile: options.tokensPerTile ?? crop.tokensPerTile });
  const specs = new Int32Array(plan.tiles.length * 4);
  plan.tiles.forEach((t, i) => specs.set([t.resizeTo.width, t.resizeTo.height, t.crop.x, t.crop.y], i * 4));
  try {
    const pixels = await native().assembleTiles(
      img.data, img.width, img.height, specs, plan.tileSize, options.mean ?? IMAGENET_MEAN, options.std ?? IMAGENET_STD,
    );
    return { plan, pixels };
  } catch (e) {
    throw fromNative(e);
  }
}

/** Options of `preprocess`: how to load the image, then how to tile it. */
export type PreprocessImageOptions = PreprocessOptions & LoadImageOptions;

/**
 * Loads any image input (file path, encoded bytes, raw pixels; see loadImage) and builds its MSAC
 * plan and normalized tile batch.
 */
export async function preprocess(image: ImageInput, options: PreprocessImageOptions = {}): Promise<Preprocessed> {
  const { orientation, alpha, maxPixels, ...rest } = options;
  return preprocessRgb(await loadImage(image, { orientation, alpha, maxPixels }), rest);
}
