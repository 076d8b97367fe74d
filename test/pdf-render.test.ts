// PDF pages to pixels: pdfjs-dist on @napi-rs/canvas against Debian's poppler (pdftoppm) at the
// same dpi, on PDFs made here (text in an embedded font, vector shapes, an embedded JPEG, rotated
// pages, mixed sizes); the resolution chosen for MSAC; the typed errors.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { ImageError, InvalidArgumentError, loadImage, PdfError, planCrops } from '../lib';
import { autoDpi, pixelsAt } from '../lib/pdf/dpi';
import { expandPages, parsePages } from '../lib/pdf/pages';
import { pdfPageCount, renderPdfPage } from '../lib/pdf/render';
import { PDF_LIMITS } from '../lib/limits';
import { tempDir } from './helpers/models';
import { encryptPdf, makePdf, MIXED_PAGES, popplerPage, psnr } from './helpers/pdfs';

let dir: string;
let mixed: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(tempDir(), 'pdf-'));
  mixed = path.join(dir, 'mixed.pdf');
  fs.writeFileSync(mixed, await makePdf());
});

const rgbOf = async (r: { data: Uint8Array; width: number; height: number }) =>
  new Uint8Array(await sharp(r.data, { raw: { width: r.width, height: r.height, channels: 4 } }).removeAlpha().raw().toBuffer());

describe('against poppler', () => {
  it('every page at 144 dpi: the same size (rotation applied) and PSNR >= 30 dB', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= MIXED_PAGES.length; page++) {
      const ours = await renderPdfPage(mixed, page, { dpi: 144 });
      const theirs = await popplerPage(mixed, page, 144);
      const [w, h] = MIXED_PAGES[page - 1].size;
      const quarter = (MIXED_PAGES[page - 1].rotate ?? 0) % 180 === 90;
      expect([ours.width, ours.height]).toEqual([theirs.width, theirs.height]);
      expect([ours.width, ours.height]).toEqual(quarter ? [h * 2, w * 2] : [w * 2, h * 2]);
      const db = psnr(await rgbOf(ours), theirs.data);
      seen.push(`${page}: ${db.toFixed(1)} dB`);
      expect(db).toBeGreaterThanOrEqual(30);
    }
    console.log(`pdfjs vs pdftoppm at 144 dpi: ${seen.join(', ')}`); // eslint-disable-line no-console
  });

  it('at the dpi chosen for MSAC (fractional), the size is still poppler\'s', async () => {
    for (const page of [1, 4]) {
      const ours = await renderPdfPage(mixed, page);
      expect(Number.isInteger(ours.dpi)).toBe(false);
      const theirs = await popplerPage(mixed, page, ours.dpi);
      expect([ours.width, ours.height]).toEqual([theirs.width, theirs.height]);
      expect(psnr(await rgbOf(ours), theirs.data)).toBeGreaterThanOrEqual(30);
    }
  });
});

describe('the resolution chosen for MSAC', () => {
  it('every layer of the plan is a downscale of the render, and 2% less dpi would upscale one', () => {
    for (const [w, h] of [[612, 792], [595, 842], [842, 595], [300, 1200], [200, 150]]) {
      for (const crop of ['default', 'fast', 'document'] as const) {
        const dpi = autoDpi(w, h, crop);
        const [pw, ph] = [pixelsAt(w, dpi), pixelsAt(h, dpi)];
        const upscales = (W: number, H: number) => planCrops(W, H, crop).tiles.some((t) => t.resizeTo.width > W || t.resizeTo.height > H);
        expect(upscales(pw, ph)).toBe(false);
        if (dpi > PDF_LIMITS.minAutoDpi.default * 1.02) expect(upscales(pixelsAt(w, dpi * 0.98), pixelsAt(h, dpi * 0.98))).toBe(true);
        else expect(dpi).toBe(PDF_LIMITS.minAutoDpi.default);
      }
    }
  });

  it('maxPixels lowers the automatic dpi to fit; a given dpi over it is refused', async () => {
    const dpi = autoDpi(612, 792, 'document', 1_000_000);
    expect(pixelsAt(612, dpi) * pixelsAt(792, dpi)).toBeLessThanOrEqual(1_000_000);
    expect(pixelsAt(612, dpi * 1.01) * pixelsAt(792, dpi * 1.01)).toBeGreaterThan(1_000_000);
    const r = await renderPdfPage(mixed, 1, { crop: 'document', maxPixels: 1_000_000 });
    expect(r.width * r.height).toBeLessThanOrEqual(1_000_000);
    await expect(renderPdfPage(mixed, 1, { dpi: 600, maxPixels: 1_000_000 })).rejects.toMatchObject({ code: 'PDF', reason: 'too-large' });
  });
});

describe('PDF pages wherever an image is accepted', () => {
  it('loadImage takes { pdf, page } (path or bytes) and a plain PDF path as its first page', async () => {
    const bytes = fs.readFileSync(mixed);
    const a = await loadImage({ pdf: mixed, page: 3, dpi: 100 });
    const b = await loadImage({ pdf: new Uint8Array(bytes), page: 3 }, { pdf: { dpi: 100 } });
    const ref = await renderPdfPage(mixed, 3, { dpi: 100 });
    expect([a.width, a.height]).toEqual([ref.width, ref.height]);
    expect(Buffer.from(a.data).equals(Buffer.from(await rgbOf(ref)))).toBe(true);
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    expect(a.pdfPage).toEqual({ page: 3, pages: 5, dpi: 100 });
    const first = await loadImage(mixed, { pdf: { dpi: 100 } });
    expect(first.pdfPage?.page).toBe(1);
    expect(first.width).toBe(pixelsAt(612, 100));
    expect(await pdfPageCount(mixed)).toBe(5);
  });
});

describe('typed errors', () => {
  it('encrypted: refused without the password and with a wrong one; the right one renders the same page', async () => {
    const locked = path.join(dir, 'locked.pdf');
    encryptPdf(mixed, locked, 'sesame');
    await expect(renderPdfPage(locked, 1, { dpi: 72 })).rejects.toMatchObject({ code: 'PDF', reason: 'encrypted' });
    await expect(renderPdfPage(locked, 1, { dpi: 72, password: 'nope' })).rejects.toMatchObject({ code: 'PDF', reason: 'wrong-password' });
    const open = await renderPdfPage(locked, 2, { dpi: 72, password: 'sesame' });
    const plain = await renderPdfPage(mixed, 2, { dpi: 72 });
    expect(psnr(open.data, plain.data)).toBeGreaterThanOrEqual(50);
    await expect(loadImage({ pdf: locked, page: 1 })).rejects.toBeInstanceOf(PdfError);
  });

  it('corrupt, truncated, empty or not a PDF', async () => {
    const bytes = fs.readFileSync(mixed);
    const garbage = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(4000, 0x41)]);
    await expect(renderPdfPage(garbage, 1)).rejects.toMatchObject({ code: 'PDF', reason: 'corrupt' });
    const cut = bytes.subarray(0, 200);
    await expect(renderPdfPage(cut, 1)).rejects.toMatchObject({ code: 'PDF', reason: 'corrupt' });
    await expect(renderPdfPage(Buffer.from('hello'), 1)).rejects.toMatchObject({ code: 'PDF', reason: 'corrupt' });
    await expect(renderPdfPage(new Uint8Array(0), 1)).rejects.toMatchObject({ reason: 'empty' });
    await expect(renderPdfPage(path.join(dir, 'missing.pdf'), 1)).rejects.toMatchObject({ reason: 'unreadable' });
    // a plain path that is neither an image nor a PDF stays an image error
    await expect(loadImage(garbage.subarray(9))).rejects.toBeInstanceOf(ImageError);
  });

  it('pages out of range, bad dpi and bad options', async () => {
    await expect(renderPdfPage(mixed, 6)).rejects.toMatchObject({ code: 'PDF', reason: 'page-range', pages: 5 });
    await expect(loadImage({ pdf: mixed, page: 9 })).rejects.toMatchObject({ reason: 'page-range' });
    await expect(renderPdfPage(mixed, 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(renderPdfPage(mixed, 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(renderPdfPage(mixed, 1, { dpi: 5000 })).rejects.toThrow('dpi must be a number from 18 to 1200');
    await expect(renderPdfPage(mixed, 1, { dpi: NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(loadImage({ pdf: mixed }, { pdf: null as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    // the renderer is still fine after all of that
    expect((await renderPdfPage(mixed, 5, { dpi: 36 })).width).toBe(pixelsAt(432, 36));
  });
});

describe('page lists', () => {
  it('parses 1-3,7 and open ranges, in order, each page once; refuses what is not a list', () => {
    expect(expandPages(parsePages('1-3,7'), 10)).toEqual([1, 2, 3, 7]);
    expect(expandPages(parsePages('8-, 2, 3-4,2'), 10)).toEqual([8, 9, 10, 2, 3, 4]);
    expect(expandPages(undefined, 3)).toEqual([1, 2, 3]);
    expect(expandPages(parsePages('4-6'), 5)).toEqual([4, 5, 6]); // page 6 fails later, as out of range
    for (const bad of ['', '0', '3-1', 'a', '1-2-3', '1,,2', '99999999']) expect(() => parsePages(bad)).toThrow(InvalidArgumentError);
  });
});
