// One image through MSAC and the vision tower: embeddings in plan order with each layer's token
// range, ready to stand in for the <IMG_CONTEXT> tokens of the prompt.
import { InvalidArgumentError } from '../errors';
import type { CropPlan } from '../msac/types';
import type { EncodeOptions, VisionEncoder } from './encoder';
import { ImageInput, loadImage, LoadImageOptions, RgbImage } from '../image/load';
import { assembleTiles, planFor, PreprocessOptions } from './preprocess';

export interface EncodedImage {
  plan: CropPlan;
  /** [plan.imageTokens, embeddingWidth], tile-major in plan.tiles order. */
  embeddings: Float32Array;
  embeddingWidth: number;
}

export type EncodeImageOptions = Omit<PreprocessOptions, 'mean' | 'std' | 'tokensPerTile'> & LoadImageOptions & EncodeOptions & {
  /** Tiles encoded so far of the plan's, after each chunk of tiles. */
  onTiles?: (done: number, total: number) => void;
};

/**
 * Tiles per vision graph. The compute buffer grows with the tiles of one graph (about 42 MiB a tile
 * at InternViT-300M's size: 28 tiles held 1.2 GiB), and tiles are independent images to the tower,
 * so a page goes through in chunks: memory bounded whatever the preset, progress per chunk. Larger
 * graphs are also slower per tile on the CPU (full-size q8_0 mmproj, 8 tiles, AMD EPYC, 2 threads,
 * busy machine, interleaved runs): 8 per graph 18.8-25.8 s a tile, 4: 13.9-17.4 s, 2: 9.7-15.7 s,
 * 1: 15.5-16.1 s; peak RSS 891, 688, 591, 545 MiB.
 */
export const TILES_PER_CALL = 2;

/** Any image input (file path, encoded bytes, raw pixels; see loadImage) through MSAC and the tower. */
export async function encodeImage(encoder: VisionEncoder, image: ImageInput, options: EncodeImageOptions = {}): Promise<EncodedImage> {
  const { orientation, alpha, maxPixels, maxDecodedPixels, oversize } = options;
  const img = await loadImage(image, { orientation, alpha, maxPixels, maxDecodedPixels, oversize });
  return encodePlanned(encoder, img, planFor(img.width, img.height, options.crop, encoder.info.tokensPerTile), options);
}

/** An image already read and planned (planFor with the tower's tokens per tile) through the tower, in chunks of tiles. */
export async function encodePlanned(
  encoder: VisionEncoder,
  img: RgbImage,
  plan: CropPlan,
  options: Pick<EncodeImageOptions, 'maxLayerBytes' | 'signal' | 'onTiles'> = {},
): Promise<EncodedImage> {
  const { imageSize, tokensPerTile, embeddingWidth, imageMean, imageStd } = encoder.info;
  if (plan.tileSize !== imageSize) {
    throw new InvalidArgumentError(`the crop plan uses ${plan.tileSize}px tiles but the vision tower takes ${imageSize}px`);
  }
  const pixels = await assembleTiles(img, plan, { mean: imageMean, std: imageStd, maxLayerBytes: options.maxLayerBytes });
  const perTile = 3 * imageSize * imageSize;
  const embeddings = new Float32Array(plan.tileCount * tokensPerTile * embeddingWidth);
  for (let first = 0; first < plan.tileCount; first += TILES_PER_CALL) {
    const count = Math.min(TILES_PER_CALL, plan.tileCount - first);
    const part = await encoder.encode(pixels.subarray(first * perTile, (first + count) * perTile), count, { signal: options.signal });
    embeddings.set(part, first * tokensPerTile * embeddingWidth);
    options.onTiles?.(first + count, plan.tileCount);
  }
  return { plan, embeddings, embeddingWidth };
}
