// From decoded RGB8 pixels to the MSAC tile batch: plan the crops (lib/msac), then resize each
// layer Pillow-exactly, cut the tiles and normalize them natively, off the JS thread.
import { isUint8Array } from 'node:util/types';
import { fromNative, ImageError, InvalidArgumentError } from '../errors';
import { ImageInput, loadImageChecked, LoadImageOptions, RgbImage } from '../image/load';
import { resizeWorkBytes } from '../image/resize';
import { IMAGE_LIMITS } from '../limits';
import { planCrops } from '../msac/plan';
import type { PresetName } from '../msac/presets';
import type { CropOptions, CropPlan } from '../msac/types';
import { native } from '../native';

// RgbImage is made by image/load.ts (declared there); re-exported for the code that knew it from here.
export type { RgbImage } from '../image/load';

export interface PreprocessOptions {
  /** A preset name or explicit layer ranges (default 'default'). */
  crop?: PresetName | CropOptions;
  /** Per-channel normalization (default ImageNet, what Mini-Monkey was trained with). */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /** Tokens per tile of the vision tower (default 256). */
  tokensPerTile?: number;
  /**
   * Most bytes the Pillow-exact resize of one MSAC layer may allocate (the layer, Pillow's
   * horizontal-first intermediate and the filter tables), checked on the plan before any pixel is
   * resized. Default 268,435,456 (256 MiB); only strips of extreme aspect ratio reach it (a
   * 1×1,000,000 strip needs 1.3 GB). Over it: ImageError 'too-large'. Infinity: no limit.
   */
  maxLayerBytes?: number;
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

/**
 * The MSAC plan of an image of this size: the one place a crop becomes a plan, so the plan that
 * sized the prompt is the plan whose tiles are encoded. Explicit layer ranges take the vision
 * tower's tokens per tile when it is given; a preset carries its own.
 */
export function planFor(width: number, height: number, crop: PresetName | CropOptions | undefined, tokensPerTile?: number): CropPlan {
  const c = crop ?? 'default';
  return typeof c === 'string'
    ? planCrops(width, height, c)
    : planCrops(width, height, { ...c, tokensPerTile: tokensPerTile ?? c.tokensPerTile });
}

function maxLayerBytesOf(options: PreprocessOptions): number {
  const v = options.maxLayerBytes ?? IMAGE_LIMITS.maxLayerBytes.default;
  if (typeof v !== 'number' || !(v >= 1) || (v !== Infinity && !Number.isSafeInteger(v))) {
    throw new InvalidArgumentError(`maxLayerBytes must be an integer >= 1 or Infinity, got ${String(v)}`);
  }
  return v;
}

const MIB = 1024 * 1024;

/**
 * Refuses a plan whose layer resize would allocate more than `maxLayerBytes` (ImageError
 * 'too-large'); the message names the layer, the bytes, the limit and the option.
 */
export function checkLayerBytes(plan: CropPlan, maxLayerBytes: number): void {
  const seen = new Set<string>();
  for (const t of plan.tiles) {
    const { width: rw, height: rh } = t.resizeTo;
    if (seen.has(`${rw}x${rh}`)) continue;
    seen.add(`${rw}x${rh}`);
    const bytes = resizeWorkBytes(plan.width, plan.height, rw, rh);
    if (bytes > maxLayerBytes) {
      const layer = t.layer === 'global' ? 'global thumbnail' : `${t.layer} layer`;
      throw new ImageError(
        `image ${plan.width}x${plan.height}: resizing it to the ${layer}'s ${rw}x${rh} needs ${Math.ceil(bytes / MIB)} MiB ` +
          `(the layer, Pillow's horizontal-first intermediate of ${rw} columns x ${plan.height} rows, the filter tables), over the limit of ` +
          `${Math.floor(maxLayerBytes / MIB)} MiB per layer (option maxLayerBytes)`,
        'too-large',
      );
    }
  }
}

/** Plans the crops and builds the normalized tile batch of one image. */
export async function preprocessRgb(img: RgbImage, options: PreprocessOptions = {}): Promise<Preprocessed> {
  checkRgbImage(img);
  const plan = planFor(img.width, img.height, options.crop, options.tokensPerTile);
  return { plan, pixels: await assembleTiles(img, plan, options) };
}

/**
 * The normalized tile batch of an image by a plan already made for it (planFor on this image's
 * size), for the model's pipeline, which planned the image when it prepared the prompt.
 */
export async function assembleTiles(img: RgbImage, plan: CropPlan, options: Pick<PreprocessOptions, 'mean' | 'std' | 'maxLayerBytes'>): Promise<Float32Array> {
  checkRgbImage(img);
  if (plan.width !== img.width || plan.height !== img.height) {
    throw new InvalidArgumentError(`the crop plan is for a ${plan.width}x${plan.height} image, not this ${img.width}x${img.height} one`);
  }
  checkLayerBytes(plan, maxLayerBytesOf(options));
  const specs = new Int32Array(plan.tiles.length * 4);
  plan.tiles.forEach((t, i) => specs.set([t.resizeTo.width, t.resizeTo.height, t.crop.x, t.crop.y], i * 4));
  try {
    return await native().assembleTiles(
      img.data, img.width, img.height, specs, plan.tileSize, options.mean ?? IMAGENET_MEAN, options.std ?? IMAGENET_STD,
    );
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
  const { orientation, alpha, maxPixels, maxDecodedPixels, oversize, ...rest } = options;
  const maxLayerBytes = maxLayerBytesOf(rest);
  // The same plan checked on the header's size, so a hostile shape is refused before decoding.
  const img = await loadImageChecked(image, { orientation, alpha, maxPixels, maxDecodedPixels, oversize }, (w, h) =>
    checkLayerBytes(planFor(w, h, rest.crop, rest.tokensPerTile), maxLayerBytes),
  );
  return preprocessRgb(img, rest);
}
