// Any image input (a file path, encoded bytes, raw pixels) to RGB8, decoded by sharp/libvips on
// its own threads. Conversion follows Pillow's `convert('RGB')` (facts §6.7) except for two
// defaults users expect, each switchable back to the reference behaviour.
import fs from 'node:fs';
import { isUint8Array, isUint8ClampedArray } from 'node:util/types';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import { sharpLib } from './sharp-lib';
import { ImageError, ImageErrorReason, InvalidArgumentError } from '../errors';
import { IMAGE_LIMITS } from '../limits';
import { isPdfBytes, isPdfFile, PdfRenderOptions, renderPdfPage } from '../pdf/render';

/** Interleaved RGB8 pixels, row-major: `width·height·3` bytes. What every image input is read into. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** Set by loadImage when the source was larger than maxDecodedPixels and was shrunk: its size. */
  downscaledFrom?: { width: number; height: number };
  /** Set by loadImage when the source was a PDF page: which, of how many, rendered at what dpi. */
  pdfPage?: { page: number; pages: number; dpi: number };
}

/** Decoded pixels, interleaved and row-major: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA, 8 bits each. */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Samples per pixel; when left out it is data.length / (width·height) (so canvas ImageData works). */
  channels?: 1 | 2 | 3 | 4;
}

/**
 * A page of a PDF (a path or its bytes), rendered to pixels (README "PDFs"). `dpi` and `password`
 * here override the `pdf` load options.
 */
export interface PdfPageInput {
  pdf: string | Uint8Array;
  /** 1-based (default 1). */
  page?: number;
  dpi?: number;
  password?: string;
}

/**
 * A file path, encoded bytes (PNG, JPEG, WebP, GIF, TIFF, AVIF/HEIF…), raw pixels, or a PDF page.
 * A PDF given as a plain path or bytes is its first page.
 */
export type ImageInput = string | Uint8Array | RawPixels | PdfPageInput;

export interface LoadImageOptions {
  /**
   * 'exif' (default) turns the image upright by its EXIF Orientation tag; 'ignore' uses the stored
   * pixels as they are, like the reference (which never calls exif_transpose).
   */
  orientation?: 'exif' | 'ignore';
  /**
   * 'white' (default) composites transparent pixels on white: out = ⌊(c·a + 255·(255−a)) / 255⌋.
   * 'drop' keeps the stored colour and discards alpha, like Pillow's convert('RGB') in the
   * reference, which turns many transparent documents black.
   */
  alpha?: 'white' | 'drop';
  /**
   * Largest width·height accepted for encoded input, checked on the header before any pixel is
   * decoded (decompression bombs). Default 268,402,689 (sharp's limitInputPixels); Infinity: no limit.
   */
  maxPixels?: number;
  /**
   * Largest width·height kept at full resolution. A larger image (encoded or raw, up to maxPixels)
   * is shrunk while it is decoded (libvips, Lanczos3, aspect ratio kept, shrink-on-load for JPEG
   * and WebP) to at most this many pixels, and the result says `downscaledFrom`; its pixels are
   * then not the reference's. Default 67,108,864 (8192²); Infinity: always full resolution.
   */
  maxDecodedPixels?: number;
  /**
   * What an image over maxDecodedPixels gets: 'downscale' (default) as above, or 'error': an
   * ImageError with reason 'too-large', before any pixel is decoded.
   */
  oversize?: 'downscale' | 'error';
  /** How PDF pages are rendered: dpi (default chosen for MSAC), maxPixels, password. */
  pdf?: PdfRenderOptions;
}

/** sharp's own default for limitInputPixels (0x3FFF²). */
export const DEFAULT_MAX_PIXELS = IMAGE_LIMITS.maxPixels.default;
/** Default of maxDecodedPixels (8192²). */
export const DEFAULT_MAX_DECODED_PIXELS = IMAGE_LIMITS.maxDecodedPixels.default;

// Raster formats we decode. SVG (a vector format, rendered at an arbitrary density) and libvips'
// own .v files are refused; formats the installed libvips lacks fail in sharp as unsupported.
const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'jp2', 'jxl']);

interface Resolved {
  pdf: PdfRenderOptions;
  orientation: 'exif' | 'ignore';
  alpha: 'white' | 'drop';
  maxPixels: number;
  maxDecodedPixels: number;
  oversize: 'downscale' | 'error';
}

/** Called with the size the pixels will have, before they are decoded. */
export type SizeCheck = (width: number, height: number) => void;

const isPixelLimit = (v: unknown): v is number => typeof v === 'number' && v >= 1 && (v === Infinity || Number.isSafeInteger(v));

function resolveOptions(options: LoadImageOptions): Resolved {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('image options must be an object');
  const {
    orientation = 'exif', alpha = 'white', maxPixels = DEFAULT_MAX_PIXELS, maxDecodedPixels = DEFAULT_MAX_DECODED_PIXELS, oversize = 'downscale', pdf = {},
  } = options;
  if (pdf === null || typeof pdf !== 'object') throw new InvalidArgumentError('pdf options must be an object');
  if (orientation !== 'exif' && orientation !== 'ignore') {
    throw new InvalidArgumentError(`orientation must be 'exif' or 'ignore', got ${String(orientation)}`);
  }
  if (alpha !== 'white' && alpha !== 'drop') throw new InvalidArgumentError(`alpha must be 'white' or 'drop', got ${String(alpha)}`);
  if (!isPixelLimit(maxPixels)) throw new InvalidArgumentError(`maxPixels must be an integer >= 1 or Infinity, got ${String(maxPixels)}`);
  if (!isPixelLimit(maxDecodedPixels)) {
    throw new InvalidArgumentError(`maxDecodedPixels must be an integer >= 1 or Infinity, got ${String(maxDecodedPixels)}`);
  }
  if (oversize !== 'downscale' && oversize !== 'error') throw new InvalidArgumentError(`oversize must be 'downscale' or 'error', got ${String(oversize)}`);
  return { orientation, alpha, maxPixels, maxDecodedPixels, oversize, pdf };
}

/**
 * The size a width×height image is decoded at: itself when within maxDecodedPixels, else the
 * largest size of (nearly) its aspect ratio within it, each side at least 1 px.
 */
export function decodedSize(width: number, height: number, maxDecodedPixels: number): { width: number; height: number } {
  if (width * height <= maxDecodedPixels) return { width, height };
  const s = Math.sqrt(maxDecodedPixels / (width * height));
  let w = Math.max(1, Math.floor(width * s));
  let h = Math.max(1, Math.floor(height * s));
  // A side clamped to 1 px leaves the other too long; float rounding can overshoot by a pixel.
  if (w * h > maxDecodedPixels) h = Math.max(1, Math.floor(maxDecodedPixels / w));
  if (w * h > maxDecodedPixels) w = Math.max(1, Math.floor(maxDecodedPixels / h));
  return { width: w, height: h };
}

/** The decoded size, or the 'too-large' refusal when downscaling is off. */
function targetSize(what: string, width: number, height: number, opts: Resolved): { width: number; height: number } {
  if (width * height <= opts.maxDecodedPixels) return { width, height };
  if (opts.oversize === 'error') {
    throw new ImageError(
      `${what}: ${width}x${height} = ${width * height} pixels is over the full-resolution limit of ${opts.maxDecodedPixels} ` +
        `(option maxDecodedPixels; oversize: 'downscale' shrinks it instead)`,
      'too-large',
    );
  }
  return decodedSize(width, height, opts.maxDecodedPixels);
}

/** Alpha and colour handling shared by decoded and raw input; the result is 3-channel sRGB. */
function toRgb(img: Sharp, alpha: Resolved['alpha']): Sharp {
  // removeAlpha/flatten are no-ops without alpha. 'srgb' replicates gray to R=G=B and keeps the
  // high byte of 16-bit samples (as Pillow does for 16-bit RGB; it clips 16-bit gray instead).
  return (alpha === 'drop' ? img.removeAlpha() : img.flatten({ background: { r: 255, g: 255, b: 255 } }))
    .toColourspace('srgb')
    .raw();
}

async function finish(img: Sharp, what: string, from?: { width: number; height: number }): Promise<RgbImage> {
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await img.toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw decodeError(e, what);
  }
  const { data, info } = out;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new ImageError(`${what}: decoded to ${info.channels} channels of ${info.width}x${info.height}, not RGB8`, 'unsupported');
  }
  const rgb: RgbImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  if (from) rgb.downscaledFrom = from;
  return rgb;
}

// Lanczos3 (sharp's default) on the shrunk-on-load image; fill: the size is exactly ours.
function shrink(img: Sharp, to: { width: number; height: number }): Sharp {
  return img.resize(to.width, to.height, { fit: 'fill', kernel: 'lanczos3' });
}

function decodeError(e: unknown, what: string): ImageError {
  // libvips repeats its messages over several lines; keep each once, on one line.
  const lines = ((e as Error | undefined)?.message ?? String(e)).split('\n').map((l) => l.trim()).filter(Boolean);
  const msg = [...new Set(lines)].join('; ');
  const reason: ImageErrorReason = /unsupported image format|unsupported (feature|codec)|no decoder/i.test(msg) ? 'unsupported' : 'corrupt';
  const said = reason === 'unsupported' ? 'unsupported image format' : 'corrupt or truncated image';
  return new ImageError(`${what}: ${said} (${msg})`, reason, { cause: e });
}

async function checkFile(path: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(path);
    await fs.promises.access(path, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ImageError(`cannot read image file '${path}': ${why}`, 'unreadable', { cause: e });
  }
  if (!st.isFile()) throw new ImageError(`cannot read image file '${path}': not a regular file`, 'unreadable');
  if (st.size === 0) throw new ImageError(`image file '${path}' is empty`, 'empty');
}

async function decodeEncoded(input: string | Uint8Array, opts: Resolved, check?: SizeCheck): Promise<RgbImage> {
  const what = typeof input === 'string' ? `image file '${input}'` : `image (${input.length} bytes)`;
  if (typeof input === 'string') await checkFile(input);
  else if (input.length === 0) throw new ImageError('image bytes are empty', 'empty');
  const settings = {
    // Pillow applies no colour management; neither do we (ICC profiles are ignored).
    ignoreIcc: true,
    // The first frame of animated GIF/WebP and the first page of multi-page TIFF, like Pillow.
    pages: 1,
    // Truncated and broken files are errors, not gray-filled pictures; mere warnings pass.
    failOn: 'error',
  } as const;
  let meta: Metadata;
  const sharp = sharpLib(); // UNSUPPORTED_CPU where sharp cannot run: not a decoding error
  try {
    // Header only: no pixels are decoded here. Unlimited so that we can say the size ourselves.
    meta = await sharp(input, { ...settings, limitInputPixels: false }).metadata();
  } catch (e) {
    throw decodeError(e, what);
  }
  if (!meta.format || !RASTER_FORMATS.has(meta.format)) {
    throw new ImageError(`${what}: unsupported image format '${meta.format ?? 'unknown'}' (expected JPEG, PNG, WebP, GIF, TIFF or AVIF/HEIF)`, 'unsupported');
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width < 1 || height < 1) throw new ImageError(`${what}: the image has zero size (${width}x${height})`, 'empty');
  if (width * height > opts.maxPixels) {
    throw new ImageError(
      `${what}: ${width}x${height} = ${width * height} pixels is over the limit of ${opts.maxPixels} (option maxPixels)`,
      'too-large',
    );
  }
  // EXIF orientations 5-8 turn the image a quarter, swapping its sides.
  const turned = opts.orientation === 'exif' && (meta.orientation ?? 1) >= 5;
  const [ow, oh] = turned ? [height, width] : [width, height];
  const to = targetSize(what, ow, oh, opts);
  check?.(to.width, to.height);
  // The limit again, in case the header lied about the size.
  let img = sharp(input, { ...settings, limitInputPixels: opts.maxPixels === Infinity ? false : opts.maxPixels });
  if (opts.orientation === 'exif') img = img.autoOrient();
  const small = to.width !== ow || to.height !== oh;
  if (small) img = shrink(img, to);
  const rgb = await finish(toRgb(img, opts.alpha), what, small ? { width: ow, height: oh } : undefined);
  if (rgb.width !== to.width || rgb.height !== to.height) {
    throw new ImageError(`${what}: decoded to ${rgb.width}x${rgb.height}, not the ${to.width}x${to.height} its header gave`, 'corrupt');
  }
  return rgb;
}

function checkRaw(raw: RawPixels): { width: number; height: number; channels: 1 | 2 | 3 | 4 } {
  const { data, width, height } = raw;
  if (!isUint8Array(data) && !isUint8ClampedArray(data)) {
    throw new ImageError('raw pixels: data must be a Uint8Array or Uint8ClampedArray of 8-bit samples', 'bad-pixels');
  }
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new ImageError(`raw pixels: width and height must be integers >= 1, got ${String(width)}x${String(height)}`, width === 0 || height === 0 ? 'empty' : 'bad-pixels');
  }
  const channels = raw.channels ?? data.length / (width * height);
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    const why = raw.channels === undefined ? `${data.length} bytes is not 1 to 4 samples per pixel of ${width}x${height}` : `channels must be 1, 2, 3 or 4, got ${String(raw.channels)}`;
    throw new ImageError(`raw pixels: ${why}`, 'bad-pixels');
  }
  if (data.length !== width * height * channels) {
    throw new ImageError(`raw pixels: data has ${data.length} bytes; ${width}x${height} with ${channels} channels needs ${width * height * channels}`, 'bad-pixels');
  }
  return { width, height, channels };
}

async function convertRaw(raw: RawPixels, opts: Resolved, check?: SizeCheck): Promise<RgbImage> {
  const { width, height, channels } = checkRaw(raw);
  const data = raw.data;
  const what = `raw pixels (${width}x${height}x${channels})`;
  const to = targetSize(what, width, height, opts);
  check?.(to.width, to.height);
  if (to.width !== width || to.height !== height) {
    const img = shrink(sharpLib()(data, { raw: { width, height, channels }, limitInputPixels: false }), to);
    return finish(toRgb(img, opts.alpha), what, { width, height });
  }
  // RGB8 is already what we want: no copy, no trip through libvips.
  if (channels === 3) return { data: isUint8Array(data) ? data : new Uint8Array(data.buffer, data.byteOffset, data.length), width, height };
  // The pixels are in memory already, so the decompression-bomb limit does not apply.
  const img = sharpLib()(data, { raw: { width, height, channels }, limitInputPixels: false });
  return finish(toRgb(img, opts.alpha), what);
}

/**
 * Loads any image input as RGB8 pixels. Throws ImageError for inputs that cannot be used (missing
 * file, corrupt or truncated bytes, zero size, unsupported format, over `maxPixels`, bad raw shape)
 * and InvalidArgumentError for bad options. Images over `maxDecodedPixels` are shrunk as they are
 * decoded (or refused with `oversize: 'error'`); the result's `downscaledFrom` then says from what.
 */
export async function loadImage(input: ImageInput, options: LoadImageOptions = {}): Promise<RgbImage> {
  return loadImageChecked(input, options);
}

/**
 * @internal loadImage with `check` called on the size the pixels will have, after the header is
 * read and before they are decoded (preprocess refuses MSAC-hostile shapes there).
 */
export async function loadImageChecked(input: ImageInput, options: LoadImageOptions = {}, check?: SizeCheck): Promise<RgbImage> {
  const opts = resolveOptions(options);
  if (typeof input === 'string') {
    if (input.length === 0) throw new ImageError('image path is empty', 'unreadable');
    if (isPdfFile(input)) return loadPdfPage({ pdf: input }, opts, check);
    return decodeEncoded(input, opts, check);
  }
  if (isUint8Array(input)) return isPdfBytes(input) ? loadPdfPage({ pdf: input }, opts, check) : decodeEncoded(input, opts, check);
  if (typeof input === 'object' && input !== null && 'data' in input) return convertRaw(input, opts, check);
  if (typeof input === 'object' && input !== null && 'pdf' in input) return loadPdfPage(input, opts, check);
  throw new ImageError('image must be a file path, encoded bytes (Buffer/Uint8Array), raw pixels { data, width, height, channels } or a PDF page { pdf, page }', 'unsupported');
}

/** A PDF page rendered (pdf/render.ts), then on through the raw-pixel path (alpha, size bounds). */
async function loadPdfPage(input: PdfPageInput, opts: Resolved, check?: SizeCheck): Promise<RgbImage> {
  const { pdf, page = 1, dpi, password } = input;
  const rendered = await renderPdfPage(pdf, page, { ...opts.pdf, ...(dpi !== undefined ? { dpi } : {}), ...(password !== undefined ? { password } : {}) });
  const rgb = await convertRaw({ data: rendered.data, width: rendered.width, height: rendered.height, channels: 4 }, opts, check);
  rgb.pdfPage = { page, pages: rendered.pages, dpi: rendered.dpi };
  return rgb;
}
