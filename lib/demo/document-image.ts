// A document-like page drawn procedurally for the demo: a white page with a dark title bar,
// columns of "text lines" (dark bars broken into words), a small table and a grey figure box.
// Plain pixel loops, no fonts or SVG text, so it looks the same on every machine; deterministic
// per seed. Random-weight models cannot read it anyway; it gives MSAC a realistic page shape.
import { sharpLib } from '../image/sharp-lib';
import type { RawPixels } from '../image/load';

export interface DocumentImageOptions {
  width?: number;
  height?: number;
  /** Varies word and line lengths (default 1). */
  seed?: number;
}

class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }

  rect(x: number, y: number, w: number, h: number, grey: number): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) this.data.fill(grey, (yy * this.width + x0) * 3, (yy * this.width + x1) * 3);
  }
}

/** The page as raw RGB8 pixels (default 1344×896, a 3:2 landscape page). */
export function documentPixels(options: DocumentImageOptions = {}): RawPixels & { channels: 3 } {
  const width = options.width ?? 1344;
  const height = options.height ?? 896;
  let s = (options.seed ?? 1) >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const c = new Canvas(width, height);
  const u = Math.max(1, Math.min(width, height) / 896); // sizes scale with the page
  const margin = 48 * u;

  // Title and a rule under it.
  c.rect(margin, margin, width * 0.45, 28 * u, 30);
  c.rect(margin, margin + 44 * u, width - 2 * margin, 3 * u, 90);

  // Three columns of text lines: words are dark bars with gaps, the last line of a paragraph is short.
  const columns = 3;
  const gutter = 32 * u;
  const colWidth = (width - 2 * margin - (columns - 1) * gutter) / columns;
  const top = margin + 72 * u;
  const lineHeight = 22 * u;
  const textHeight = 11 * u;
  for (let col = 0; col < columns; col++) {
    const x0 = margin + col * (colWidth + gutter);
    let y = top;
    // The middle column holds a figure box and a table part way down.
    let figureAt = col === 1 ? top + 6 * lineHeight : Infinity;
    while (y + textHeight < height - margin) {
      if (y >= figureAt) {
        figureAt = Infinity;
        const boxH = Math.min(200 * u, height - margin - y);
        c.rect(x0, y, colWidth, boxH, 200);
        c.rect(x0 + colWidth * 0.1, y + boxH * 0.55, colWidth * 0.15, boxH * 0.35, 110);
        c.rect(x0 + colWidth * 0.35, y + boxH * 0.3, colWidth * 0.15, boxH * 0.6, 110);
        c.rect(x0 + colWidth * 0.6, y + boxH * 0.45, colWidth * 0.15, boxH * 0.45, 110);
        y += boxH + lineHeight;
        // A table: ruled rows of cells.
        for (let row = 0; row < 5 && y + lineHeight < height - margin; row++) {
          c.rect(x0, y, colWidth, 2 * u, 120);
          for (let cell = 0; cell < 3; cell++) c.rect(x0 + cell * (colWidth / 3) + 6 * u, y + 6 * u, (colWidth / 3) * (0.4 + 0.4 * rand()), textHeight, 40);
          y += lineHeight;
        }
        c.rect(x0, y, colWidth, 2 * u, 120);
        y += lineHeight;
        continue;
      }
      const paragraphEnd = rand() < 0.18;
      const lineWidth = paragraphEnd ? colWidth * (0.3 + 0.4 * rand()) : colWidth;
      let x = x0;
      while (x < x0 + lineWidth - 10 * u) {
        const word = Math.min((14 + 46 * rand()) * u, x0 + lineWidth - x);
        c.rect(x, y, word, textHeight, 25 + Math.floor(30 * rand()));
        x += word + 7 * u;
      }
      y += paragraphEnd ? lineHeight * 1.8 : lineHeight;
    }
  }
  return { data: c.data, width, height, channels: 3 };
}

/** The page encoded as PNG bytes. */
export async function documentImage(options: DocumentImageOptions = {}): Promise<Buffer> {
  const px = documentPixels(options);
  return sharpLib()(Buffer.from(px.data.buffer, px.data.byteOffset, px.data.byteLength), { raw: { width: px.width, height: px.height, channels: 3 } })
    .png()
    .toBuffer();
}
