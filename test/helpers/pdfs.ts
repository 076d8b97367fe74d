// PDFs made by the tests themselves (pdf-lib): text in an embedded font, vector shapes, an embedded
// JPEG, rotated pages and mixed page sizes, plus a corrupt file and an encrypted one (qpdf, since
// pdf-lib cannot encrypt). The font is embedded (pdfjs-dist's own Liberation Sans) so that poppler
// and pdfjs draw the same glyph outlines: an unembedded standard font would be substituted by each
// renderer with a different face, and the comparison would measure the fonts, not the renderers.
import fontkit from '@pdf-lib/fontkit';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { degrees, PDFDocument, rgb } from 'pdf-lib';
import sharp from 'sharp';
import { noiseImage } from './noise-image';

const FONT = path.join(path.dirname(require.resolve('pdfjs-dist/package.json')), 'standard_fonts', 'LiberationSans-Regular.ttf');

/** A photo-like JPEG: a smooth gradient (JPEG's natural content) with a little noise on top. */
async function photoJpeg(w: number, h: number): Promise<Uint8Array> {
  const n = noiseImage(w, h, 5);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      n.data[i] = (x * 255) / w;
      n.data[i + 1] = (y * 255) / h;
      n.data[i + 2] = 128 + 64 * Math.sin(x / 23) * Math.cos(y / 17) + (n.data[i + 2] >> 6);
    }
  }
  return sharp(n.data, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

export interface TestPdfPage {
  /** Width and height in points (1/72 inch), before rotation. */
  size: [number, number];
  rotate?: 0 | 90 | 180 | 270;
  /** What is drawn: lines of text, filled and stroked shapes, the photo. */
  text?: string[];
  shapes?: boolean;
  photo?: boolean;
}

/** The pages every PDF test uses: letter text, A5 landscape shapes, a photo, rotated pages. */
export const MIXED_PAGES: TestPdfPage[] = [
  { size: [612, 792], text: ['INVOICE 2024-117', 'Total due: 1,234.50 EUR', 'Thank you for your order.'], shapes: true },
  { size: [595, 420], shapes: true },
  { size: [420, 595], photo: true, text: ['Figure 1: a photograph'] },
  { size: [612, 792], rotate: 90, text: ['Rotated quarter turn'], shapes: true },
  { size: [432, 288], rotate: 180, text: ['Upside down'], photo: true },
];

/** A PDF of `pages` (pdf-lib; deterministic content). */
export async function makePdf(pages: TestPdfPage[] = MIXED_PAGES): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const font = await doc.embedFont(fs.readFileSync(FONT), { subset: false });
  const jpeg = await doc.embedJpg(await photoJpeg(320, 240));
  for (const p of pages) {
    const [w, h] = p.size;
    const page = doc.addPage([w, h]);
    if (p.rotate) page.setRotation(degrees(p.rotate));
    if (p.shapes) {
      page.drawRectangle({ x: w * 0.1, y: h * 0.1, width: w * 0.35, height: h * 0.2, color: rgb(0.9, 0.2, 0.1) });
      page.drawRectangle({ x: w * 0.55, y: h * 0.1, width: w * 0.3, height: h * 0.25, borderColor: rgb(0, 0.3, 0.8), borderWidth: 4 });
      page.drawCircle({ x: w * 0.5, y: h * 0.55, size: Math.min(w, h) * 0.12, color: rgb(0.1, 0.6, 0.3) });
      page.drawLine({ start: { x: 20, y: h - 20 }, end: { x: w - 20, y: h * 0.45 }, thickness: 3, color: rgb(0, 0, 0) });
    }
    if (p.photo) {
      // 4:3, inside the page below the text, on whole points (whole pixels at 72 and 144 dpi)
      const pw = 4 * Math.floor(Math.min(w * 0.8, ((h - 100) * 4) / 3) / 4);
      const at = { x: Math.round((w - pw) / 2), y: 20, width: pw, height: (pw * 3) / 4 };
      page.drawImage(jpeg, at);
      // A framed figure, as documents print them. Unframed, the photo's edges differ by a pixel
      // between the renderers (poppler's Splash rounds an image's bounds outwards, Skia covers the
      // exact area): on a small page mostly photo that alone is 26-28 dB.
      page.drawRectangle({ ...at, borderColor: rgb(0.2, 0.2, 0.2), borderWidth: 3 });
    }
    (p.text ?? []).forEach((line, i) => {
      page.drawText(line, { x: 36, y: h - 60 - i * 30, size: 20, font, color: rgb(0.05, 0.05, 0.1) });
    });
  }
  return doc.save({ useObjectStreams: false });
}

/** `pdf` encrypted by qpdf (AES-256) with a user password. */
export function encryptPdf(src: string, dest: string, userPassword: string): void {
  const r = spawnSync('qpdf', ['--encrypt', userPassword, `${userPassword}-owner`, '256', '--', src, dest], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qpdf failed (${r.status}): ${r.stderr || r.error?.message}`);
}

/** The page rendered by Debian's poppler (`pdftoppm`) at `dpi`, as RGB8. */
export async function popplerPage(file: string, page: number, dpi: number): Promise<{ data: Uint8Array; width: number; height: number }> {
  const out = `${file}.poppler-${page}-${dpi}`;
  const r = spawnSync('pdftoppm', ['-r', String(dpi), '-f', String(page), '-l', String(page), '-singlefile', '-png', file, out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pdftoppm failed (${r.status}): ${r.stderr || r.error?.message}`);
  const { data, info } = await sharp(`${out}.png`).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Peak signal-to-noise ratio of two RGB8 images of one size, in dB (Infinity when equal). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length} bytes`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
