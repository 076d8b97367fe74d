// Pillow-exact bicubic resize of RGB8 pixels (the reference's `img.resize((w, h))`), run by the
// native addon off the JS thread. Arguments are checked here so errors are typed and clear.
import { isUint8Array } from 'node:util/types';
import { fromNative, InvalidArgumentError } from '../errors';
import { native } from '../native';

const MAX_DIM = 0x7fffffff; // the addon takes C ints

function checkDim(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DIM) {
    throw new InvalidArgumentError(`resizeRGB: ${name} must be an integer in [1, ${MAX_DIM}], got ${String(value)}`);
  }
  return value;
}

/**
 * Resizes interleaved RGB8 pixels (`width*height*3` bytes, row-major) to newWidth×newHeight with
 * Pillow's BICUBIC filter, byte-identical to PIL `Image.resize`. Resolves to a new array.
 */
export async function resizeRGB(
  data: Uint8Array,
  width: number,
  height: number,
  newWidth: number,
  newHeight: number,
): Promise<Uint8Array> {
  if (!isUint8Array(data)) {
    throw new InvalidArgumentError('resizeRGB: data must be a Uint8Array of RGB bytes');
  }
  checkDim(width, 'width');
  checkDim(height, 'height');
  checkDim(newWidth, 'newWidth');
  checkDim(newHeight, 'newHeight');
  if (data.length !== width * height * 3) {
    throw new InvalidArgumentError(
      `resizeRGB: data has ${data.length} bytes; ${width}x${height} RGB needs ${width * height * 3}`,
    );
  }
  // Pillow returns a copy when the size is unchanged; no need to cross into native code.
  if (width === newWidth && height === newHeight) return data.slice();
  try {
    return await native().resizeRGB(data, width, height, newWidth, newHeight);
  } catch (e) {
    // The addon's RangeErrors (size limits) become typed. Checked by name: addon errors may come
    // from another realm (vm contexts, test runners), where instanceof fails.
    if ((e as Error | undefined)?.name === 'RangeError') throw new InvalidArgumentError((e as Error).message, { cause: e });
    throw fromNative(e);
  }
}

// Pillow's bicubic filter support is 2 px at scale 1, widened by the downscale factor.
function ksize(inSize: number, outSize: number): number {
  const scale = Math.fround(inSize) / outSize;
  return Math.ceil(2 * Math.max(1, scale)) * 2 + 1;
}

/**
 * Bytes resizeRGB (and assembleTiles' resize of one MSAC layer) allocates for width×height →
 * newWidth×newHeight, in the order of the native port of Pillow's two-pass resize: the filter
 * tables (int32 weights plus two ints per output pixel, per pass), the horizontal pass's uint8
 * intermediate (newWidth × the source rows × 3) when both passes run, and the result. Pillow
 * does the horizontal pass first, so a tall strip widened to a tile costs newWidth × height × 3.
 */
export function resizeWorkBytes(width: number, height: number, newWidth: number, newHeight: number): number {
  if (width === newWidth && height === newHeight) return width * height * 3;
  const needH = newWidth !== width;
  const needV = newHeight !== height;
  // The vertical table is built even when only the horizontal pass runs (it bounds the rows).
  let bytes = newHeight * (ksize(height, newHeight) * 4 + 8);
  if (needH) bytes += newWidth * (ksize(width, newWidth) * 4 + 8);
  if (needH && needV) bytes += newWidth * height * 3;
  bytes += newWidth * (needV ? newHeight : height) * 3;
  return bytes;
}
