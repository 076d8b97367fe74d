// Image input: every input form, every format the installed sharp decodes, RGB conversion equal
// to Debian Pillow's convert('RGB'), the EXIF and alpha switches, the pixel limit, bad inputs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { ImageError, InvalidArgumentError } from '../lib/errors';
import { loadImage, RawPixels } from '../lib/image/load';
import { preprocess, preprocessRgb } from '../lib/vision/preprocess';
import { tempDir } from './helpers/models';

const PYTHON = '/usr/bin/python3'; // Debian's, with python3-pil and python3-numpy
const W = 37;
const H = 23;

let dir: string;
let modes: Record<string, string>;
const file = (name: string) => path.join(dir, name);
const pillowRgb = (name: string) => new Uint8Array(fs.readFileSync(file(`${name}.rgb`)));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(tempDir(), 'images-'));
  // 16-bit PNGs, which Pillow cannot write as RGB: made by sharp, read by both.
  const rgb16 = new Uint16Array(W * H * 3);
  const gray16 = new Uint16Array(W * H);
  for (let i = 0; i < rgb16.length; i++) rgb16[i] = (i * 40503 + 977) & 0xffff;
  for (let i = 0; i < gray16.length; i++) gray16[i] = (i * 2654435761) >>> 16;
  await sharp(rgb16, { raw: { width: W, height: H, channels: 3 } })
    .toColourspace('rgb16').png().toFile(file('rgb16.png'));
  await sharp(gray16, { raw: { width: W, height: H, channels: 1 } })
    .toColourspace('grey16').png().toFile(file('gray16.png'));
  execFileSync(PYTHON, [path.join(__dirname, 'helpers', 'pillow_fixtures.py'), dir, file('rgb16.png'), file('gray16.png')]);
  modes = JSON.parse(fs.readFileSync(file('modes.json'), 'utf8'));
});

// The reference's own behaviour: stored pixels, alpha dropped.
const REFERENCE = { orientation: 'ignore', alpha: 'drop' } as const;

describe('RGB conversion equals Pillow convert("RGB")', () => {
  it.each([
    ['rgba.png', 'RGBA'],
    ['rgb.png', 'RGB'],
    ['gray.png', 'L'],
    ['la.png', 'LA'],
    ['bilevel.png', '1'],
    ['palette-trns.png', 'P'],
    ['rgb.tif', 'RGB'],
    ['rgba.tif', 'RGBA'],
    ['gray.tif', 'L'],
    ['rgb.webp', 'RGB'],
    ['rgba.webp', 'RGBA'],
    ['palette.gif', 'P'],
    ['animated.gif', 'P'],
    ['rgb16.png', 'RGB'],
  ])('%s (Pillow mode %s): byte-identical', async (name, mode) => {
    expect(modes[name]).toBe(mode);
    const img = await loadImage(file(name), REFERENCE);
    expect([img.width, img.height]).toEqual([W, H]);
    expect(Buffer.from(img.data).equals(Buffer.from(pillowRgb(name)))).toBe(true);
  });

  it('JPEG (RGB and gray) within ±1 of Pillow: the IDCTs of libjpeg-turbo and mozjpeg may round differently', async () => {
    for (const name of ['rgb.jpg', 'gray.jpg']) {
      const img = await loadImage(file(name), REFERENCE);
      const ref = pillowRgb(name);
      expect(img.data.length).toBe(ref.length);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(img.data[i] - ref[i]));
      expect(worst).toBeLessThanOrEqual(1);
    }
  });

  it('16-bit gray keeps the high byte of each sample (Pillow would clip it to 255)', async () => {
    expect(['I', 'I;16']).toContain(modes['gray16.png']);
    const buf = fs.readFileSync(file('gray16.png.u16'));
    const u16 = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const img = await loadImage(file('gray16.png'));
    for (let p = 0; p < u16.length; p++) {
      const v = u16[p] >> 8;
      if (img.data[p * 3] !== v || img.data[p * 3 + 1] !== v || img.data[p * 3 + 2] !== v) {
        throw new Error(`pixel ${p}: got ${img.data.subarray(p * 3, p * 3 + 3).join(',')}, want ${v}`);
      }
    }
  });
});

describe('alpha', () => {
  it("'white' composites on white, ⌊(c·a + 255·(255−a))/255⌋; 'drop' keeps the stored colour", async () => {
    const { data: rgba } = await sharp(file('rgba.png')).raw().toBuffer({ resolveWithObject: true });
    const white = await loadImage(file('rgba.png'));
    const drop = await loadImage(file('rgba.png'), { alpha: 'drop' });
    let transparent = 0;
    for (let p = 0; p < W * H; p++) {
      const a = rgba[p * 4 + 3];
      if (a === 0) transparent++;
      for (let c = 0; c < 3; c++) {
        const v = rgba[p * 4 + c];
        expect(drop.data[p * 3 + c]).toBe(v);
        expect(white.data[p * 3 + c]).toBe(Math.floor((v * a + 255 * (255 - a)) / 255));
      }
    }
    expect(transparent).toBeGreaterThan(50); // the fixture really has transparent pixels
  });

  it('a transparent gray+alpha image turns white, not black', async () => {
    const la = await sharp(Buffer.alloc(8 * 8 * 2, 0), { raw: { width: 8, height: 8, channels: 2 } }).png().toBuffer();
    expect((await loadImage(la)).data.every((v) => v === 255)).toBe(true);
    expect((await loadImage(la, { alpha: 'drop' })).data.every((v) => v === 0)).toBe(true);
  });
});

describe('EXIF orientation', () => {
  // 64x32: left half red, right half blue. Orientation 6 means "rotate 90° clockwise to show".
  let jpeg: Buffer;
  beforeAll(async () => {
    const raw = Buffer.alloc(64 * 32 * 3);
    for (let p = 0; p < 64 * 32; p++) raw.set((p % 64) < 32 ? [230, 20, 20] : [20, 20, 230], p * 3);
    jpeg = await sharp(raw, { raw: { width: 64, height: 32, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
  });
  const px = (img: { data: Uint8Array; width: number }, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  const near = (got: number[], want: number[]) => got.every((v, i) => Math.abs(v - want[i]) <= 12);

  it("'exif' (default) turns it upright: 32x64, red on top", async () => {
    const img = await loadImage(jpeg);
    expect([img.width, img.height]).toEqual([32, 64]);
    expect(near(px(img, 16, 8), [230, 20, 20])).toBe(true);
    expect(near(px(img, 16, 56), [20, 20, 230])).toBe(true);
  });

  it("'ignore' keeps the stored pixels, like the reference: 64x32, red on the left", async () => {
    const img = await loadImage(jpeg, { orientation: 'ignore' });
    expect([img.width, img.height]).toEqual([64, 32]);
    expect(near(px(img, 8, 16), [230, 20, 20])).toBe(true);
    expect(near(px(img, 56, 16), [20, 20, 230])).toBe(true);
  });
});

describe('input forms', () => {
  it('a path, a Buffer and a plain Uint8Array view give the same pixels', async () => {
    const bytes = fs.readFileSync(file('rgb.png'));
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    const a = await loadImage(file('rgb.png'));
    const b = await loadImage(bytes);
    const c = await loadImage(padded.subarray(5, 5 + bytes.length));
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    expect(Buffer.from(c.data).equals(Buffer.from(a.data))).toBe(true);
    expect(Buffer.from(a.data).equals(Buffer.from(pillowRgb('rgb.png')))).toBe(true);
  });

  it('raw pixels with 1 to 4 channels, and canvas-style Uint8ClampedArray with channels left out', async () => {
    const n = 5 * 3;
    const src = Uint8Array.from({ length: n * 4 }, (_, i) => (i * 97 + 13) & 255);
    const take = (ch: number) => Uint8Array.from({ length: n * ch }, (_, i) => src[Math.floor(i / ch) * 4 + (i % ch)]);
    const flat = (c: number, a: number) => Math.floor((c * a + 255 * (255 - a)) / 255);
    const want = (ch: number, alpha: 'white' | 'drop') => {
      const out = new Uint8Array(n * 3);
      for (let p = 0; p < n; p++) {
        for (let c = 0; c < 3; c++) {
          const v = src[p * 4 + (ch <= 2 ? 0 : c)];
          const a = ch === 2 ? src[p * 4 + 1] : ch === 4 ? src[p * 4 + 3] : 255;
          out[p * 3 + c] = alpha === 'drop' ? v : flat(v, a);
        }
      }
      return out;
    };
    for (const ch of [1, 2, 3, 4] as const) {
      for (const alpha of ['white', 'drop'] as const) {
        const img = await loadImage({ data: take(ch), width: 5, height: 3, channels: ch }, { alpha });
        expect([img.width, img.height]).toEqual([5, 3]);
        expect(Array.from(img.data)).toEqual(Array.from(want(ch, alpha)));
      }
    }
    const imageData = { data: new Uint8ClampedArray(take(4)), width: 5, height: 3 };
    expect(Array.from((await loadImage(imageData)).data)).toEqual(Array.from(want(4, 'white')));
  });

  it('RGB8 raw input is passed through without a copy', async () => {
    const data = new Uint8Array(4 * 2 * 3).fill(9);
    expect((await loadImage({ data, width: 4, height: 2 })).data).toBe(data);
  });
});

describe('every format the installed sharp reads and writes', () => {
  const formats = (['png', 'jpeg', 'webp', 'gif', 'tiff', 'heif'] as const).filter((f) => sharp.format[f].input.buffer && sharp.format[f].output.buffer);
  it('includes the common ones', () => expect(formats).toEqual(expect.arrayContaining(['png', 'jpeg', 'webp', 'gif', 'tiff'])));

  it.each(formats)('%s round trip', async (format) => {
    // Flat 16x16 blocks: every codec, lossy ones included, keeps them nearly exact.
    const w = 48;
    const h = 32;
    const raw = Buffer.alloc(w * h * 3);
    for (let p = 0; p < w * h; p++) {
      const b = Math.floor((p % w) / 16) + 3 * Math.floor(p / w / 16);
      raw.set([(b * 53) & 255, (b * 101 + 40) & 255, (b * 29 + 200) & 255], p * 3);
    }
    let enc = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
    const lossless = format === 'png' || format === 'tiff' || format === 'webp' || format === 'gif';
    if (format === 'heif') enc = enc.avif({ lossless: true });
    else if (format === 'jpeg') enc = enc.jpeg({ quality: 100, chromaSubsampling: '4:4:4' });
    else if (format === 'tiff') enc = enc.tiff({ compression: 'lzw' });
    else if (format === 'webp') enc = enc.webp({ lossless: true });
    else enc = enc.toFormat(format);
    const bytes = await enc.toBuffer();
    expect((await sharp(bytes).metadata()).format).toBe(format);
    const img = await loadImage(bytes);
    expect([img.width, img.height]).toEqual([w, h]);
    let worst = 0;
    for (let i = 0; i < raw.length; i++) worst = Math.max(worst, Math.abs(img.data[i] - raw[i]));
    // AVIF stores YUV even when lossless, so its round trip through RGB is within a few levels.
    expect(worst).toBeLessThanOrEqual(lossless ? 0 : format === 'jpeg' ? 2 : 8);
  });
});

// A PNG claiming any size, with a few bytes of pixel data (far too few for that size).
function pngHeader(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('pixel limit', () => {
  it('rejects a 20000x20000 header before decoding (there are no pixels to decode)', async () => {
    const t0 = Date.now();
    await expect(loadImage(pngHeader(20000, 20000))).rejects.toMatchObject({ code: 'IMAGE', reason: 'too-large', message: expect.stringMatching(/400000000 pixels is over the limit of 268402689/) });
    expect(Date.now() - t0).toBeLessThan(2000);
    // Under a higher limit the same bytes get as far as decoding, and fail there: so the limit
    // above was decided from the header alone.
    await expect(loadImage(pngHeader(20000, 20000), { maxPixels: Infinity })).rejects.toMatchObject({ code: 'IMAGE', reason: 'corrupt' });
  });

  it('maxPixels applies to files and bytes; exactly at the limit passes', async () => {
    await expect(loadImage(file('rgb.png'), { maxPixels: W * H - 1 })).rejects.toMatchObject({ reason: 'too-large' });
    await expect(loadImage(fs.readFileSync(file('rgb.png')), { maxPixels: W * H - 1 })).rejects.toBeInstanceOf(ImageError);
    expect((await loadImage(file('rgb.png'), { maxPixels: W * H })).width).toBe(W);
  });
});

describe('bad input is an ImageError that says why', () => {
  const bmp = Buffer.concat([Buffer.from('BM'), Buffer.alloc(60, 0)]);
  bmp.writeUInt32LE(54, 10);
  it.each([
    ['a missing file', () => '/no/such/image.png', 'unreadable', /no such file/],
    ['a directory', () => dir, 'unreadable', /not a regular file/],
    ['an empty file', () => { fs.writeFileSync(file('empty.png'), ''); return file('empty.png'); }, 'empty', /empty/],
    ['empty bytes', () => new Uint8Array(0), 'empty', /empty/],
    ['a zero-width PNG', () => pngHeader(0, 10), 'corrupt', /corrupt/],
    ['garbage after a PNG signature', () => Buffer.concat([pngHeader(4, 4).subarray(0, 8), Buffer.alloc(100, 7)]), 'corrupt', /corrupt/],
    ['a truncated PNG', () => fs.readFileSync(file('rgb.png')).subarray(0, 200), 'corrupt', /corrupt or truncated/],
    ['a truncated JPEG', () => fs.readFileSync(file('rgb.jpg')).subarray(0, 300), 'corrupt', /corrupt or truncated/],
    ['text', () => Buffer.from('hello, world'), 'unsupported', /unsupported image format/],
    ['a BMP (no BMP decoder in libvips)', () => bmp, 'unsupported', /unsupported image format/],
    ['an SVG (vector)', () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>'), 'unsupported', /'svg'/],
    ['raw pixels of the wrong length', () => ({ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }), 'bad-pixels', /needs 12/],
    ['raw pixels with 5 channels', () => ({ data: new Uint8Array(20), width: 2, height: 2, channels: 5 }), 'bad-pixels', /channels must be 1, 2, 3 or 4/],
    ['raw pixels of zero width', () => ({ data: new Uint8Array(0), width: 0, height: 3 }), 'empty', /integers >= 1/],
    ['raw 16-bit samples', () => ({ data: new Uint16Array(12), width: 2, height: 2 }), 'bad-pixels', /8-bit/],
    ['a number', () => 42, 'unsupported', /file path, encoded bytes/],
  ] as [string, () => unknown, string, RegExp][])('%s', async (_what, make, reason, message) => {
    const err = await loadImage(make() as RawPixels).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect(err).toMatchObject({ code: 'IMAGE', reason, message: expect.stringMatching(message) });
  });

  it('bad options are InvalidArgumentErrors', async () => {
    await expect(loadImage(file('rgb.png'), { alpha: 'black' as 'white' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(loadImage(file('rgb.png'), { orientation: 'auto' as 'exif' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(loadImage(file('rgb.png'), { maxPixels: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('preprocess: any input form through MSAC', () => {
  it.each([[1, 5000], [5000, 1]])('%ix%i PNG works end to end and equals preprocessRgb of its pixels', async (w, h) => {
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) & 255;
    const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const fromPng = await preprocess(png, { crop: 'fast' });
    expect(fromPng.plan.detail).toEqual(w > h ? { cols: 4, rows: 1 } : { cols: 1, rows: 4 });
    expect(fromPng.pixels.length).toBe(fromPng.plan.tileCount * 3 * 448 * 448);
    const direct = await preprocessRgb({ data: new Uint8Array(raw), width: w, height: h }, { crop: 'fast' });
    expect(fromPng.plan).toEqual(direct.plan);
    expect(Buffer.from(fromPng.pixels.buffer).equals(Buffer.from(direct.pixels.buffer))).toBe(true);
  });

  it('load options pass through: the EXIF switch changes the plan of a rotated JPEG', async () => {
    const raw = Buffer.alloc(900 * 300 * 3, 128);
    const jpeg = await sharp(raw, { raw: { width: 900, height: 300, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const upright = await preprocess(jpeg, { crop: 'fast' });
    const stored = await preprocess(jpeg, { crop: 'fast', orientation: 'ignore' });
    expect([upright.plan.width, upright.plan.height]).toEqual([300, 900]);
    expect([stored.plan.width, stored.plan.height]).toEqual([900, 300]);
  });

  it('a bad input rejects with ImageError before any tiling', async () => {
    await expect(preprocess('/no/such/file.jpg')).rejects.toMatchObject({ code: 'IMAGE' });
  });
});
