// PDFs made to exhaust the renderer (issue 26, finding 4 and finding 9's "under an address-space
// limit every PDF fails as corrupt"): a small file whose image or stream decodes to gigabytes is
// refused before the memory is taken, naming the limit; a page that cannot get memory is a
// PdfError that says so, and the host process lives on. Each PDF is written byte by byte
// (helpers/hostile-pdfs.ts) in milliseconds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, loadImage, PdfError } from '../lib';
import { PDF_LIMITS } from '../lib/limits';
import { pdfPageCount, renderPdfPage } from '../lib/pdf/render';
import { flateBombPdf, imageBombPdf, rawPdf, zerosFlate } from './helpers/hostile-pdfs';
import { tempDir } from './helpers/models';

const MiB = 1024 * 1024;

/** A letter page with one blue square: what an ordinary page renders to. */
const plainPdf = (): Buffer => rawPdf([
  '<< /Type /Catalog /Pages 2 0 R >>',
  '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
  '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>',
  '<< /Length 29 >>\nstream\n0 0 1 rg 100 100 200 200 re f\nendstream',
]);

/** Mean of the RGB channels of an RGBA render: 255 is a white page. */
function meanRgb(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
  return sum / ((data.length / 4) * 3);
}

async function refusal(p: Promise<unknown>): Promise<PdfError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(PdfError);
  return e as PdfError;
}

describe('decompression bombs are refused before they are allocated', () => {
  it('an image that decodes to 30000x30000 RGB (2.7 GB from a 2.6 MB file): too-large, naming maxImagePixels, at once', async () => {
    const bomb = imageBombPdf(30000, 30000);
    const t0 = Date.now();
    const e = await refusal(renderPdfPage(bomb, 1, { dpi: 72 }));
    expect(e.reason).toBe('too-large');
    expect(e.message).toContain(`more than ${PDF_LIMITS.maxImagePixels.default} pixels (option maxImagePixels)`);
    // Where images are accepted, the same refusal.
    expect(await refusal(loadImage({ pdf: bomb }))).toMatchObject({ reason: 'too-large' });
    expect(Date.now() - t0).toBeLessThan(10_000); // 23 s and 5.3 GB before "corrupt" without the bound
  });

  it('a page whose image is over maxImagePixels is refused, never drawn without it; under it the image is drawn', async () => {
    const pdf = imageBombPdf(1200, 1000); // all-black RGB covering the page
    const e = await refusal(renderPdfPage(pdf, 1, { dpi: 36, maxImagePixels: 1_000_000 }));
    expect(e.reason).toBe('too-large');
    expect(e.message).toMatch(/page 1: refused, an image has more than 1000000 pixels \(option maxImagePixels\)/);
    const drawn = await renderPdfPage(pdf, 1, { dpi: 36, maxImagePixels: 1_200_000 });
    expect(meanRgb(drawn.data)).toBeLessThan(10);
  });

  it('a Flate bomb (1 MB that inflates to 1 GiB): too-large, naming maxStreamBytes, in seconds', async () => {
    const t0 = Date.now();
    const e = await refusal(renderPdfPage(flateBombPdf(1024 * MiB), 1, { dpi: 72 }));
    expect(e.reason).toBe('too-large');
    expect(e.message).toContain(`more than ${PDF_LIMITS.maxStreamBytes.default} bytes (option maxStreamBytes)`);
    expect(Date.now() - t0).toBeLessThan(15_000); // it rendered after 12.5 s at 2.2 GB without the bound
  });

  it('maxStreamBytes bounds every decoded stream: 64 MiB of content refused at 16 MiB (not drawn without it), drawn whole under the default', async () => {
    // Two content streams: 64 MiB of zeros (white space to pdfjs), then a blue square.
    const pdf = rawPdf([
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [4 0 R 5 0 R] >>',
      Buffer.concat([Buffer.from(`<< /Filter /FlateDecode /Length ${zerosFlate(64 * MiB).length} >>\nstream\n`), zerosFlate(64 * MiB), Buffer.from('\nendstream')]),
      '<< /Length 29 >>\nstream\n0 0 1 rg 100 100 200 200 re f\nendstream',
    ]);
    const e = await refusal(renderPdfPage(pdf, 1, { dpi: 36, maxStreamBytes: 16 * MiB }));
    expect(e).toMatchObject({ reason: 'too-large', message: expect.stringContaining('option maxStreamBytes') });
    // The same document under the default bound: the refusal left nothing behind, the square is drawn.
    const page = await renderPdfPage(pdf, 1, { dpi: 36 });
    expect(meanRgb(page.data)).toBeLessThan(250);
  });

  it('after each refusal the renderer renders the next page as before', async () => {
    await refusal(renderPdfPage(flateBombPdf(64 * MiB), 1, { dpi: 36, maxStreamBytes: 16 * MiB }));
    const page = await renderPdfPage(plainPdf(), 1, { dpi: 72 });
    expect([page.width, page.height]).toEqual([612, 792]);
    expect(meanRgb(page.data)).toBeLessThan(255);
    expect(await pdfPageCount(plainPdf())).toBe(1);
  });

  it('the bounds are options checked at the edge', async () => {
    for (const bad of [0, -1, 1.5, NaN, '9' as never]) {
      await expect(renderPdfPage(plainPdf(), 1, { maxImagePixels: bad })).rejects.toThrow(InvalidArgumentError);
      await expect(renderPdfPage(plainPdf(), 1, { maxStreamBytes: bad })).rejects.toThrow(/maxStreamBytes must be an integer >= 1 or Infinity/);
      await expect(pdfPageCount(plainPdf(), { maxStreamBytes: bad })).rejects.toThrow(InvalidArgumentError);
    }
    expect((await renderPdfPage(plainPdf(), 1, { dpi: 72, maxImagePixels: Infinity, maxStreamBytes: Infinity })).width).toBe(612);
  });
});

describe('memory that cannot be had', () => {
  // A host process under a memory limit, running the compiled package as an app would: each case
  // prints its outcome as a JSON line, and the host must reach the end.
  const script = (dir: string) => `
    const { renderPdfPage } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'lib', 'pdf', 'render.js'))});
    const at = (f) => require('node:path').join(${JSON.stringify(dir)}, f);
    (async () => {
      // JSON has no Infinity: the string stands for it.
      for (const [file, o] of JSON.parse(process.argv[1], (k, v) => (v === 'Infinity' ? Infinity : v))) {
        const r = await renderPdfPage(at(file), 1, { dpi: 72, ...o }).then(
          (p) => ({ ok: true, width: p.width }),
          (e) => ({ ok: false, name: e.name, reason: e.reason, message: e.message }));
        console.log(JSON.stringify(r));
      }
      console.log('host alive');
    })();`;

  function underLimit(limit: string, cases: [string, object][]): { lines: Record<string, unknown>[]; status: number | null; stderr: string } {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'pdf-memory-'));
    fs.writeFileSync(path.join(dir, 'plain.pdf'), plainPdf());
    fs.writeFileSync(path.join(dir, 'image-8k.pdf'), imageBombPdf(8192, 8192)); // within every bound: needs ~1 GB to draw
    fs.writeFileSync(path.join(dir, 'flate-1g.pdf'), flateBombPdf(1024 * MiB));
    const r = spawnSync('prlimit', [limit, process.execPath, '-e', script(dir), JSON.stringify(cases)], { encoding: 'utf8', timeout: 90_000 });
    const out = r.stdout.trim().split('\n').filter((l) => l.startsWith('{') || l === 'host alive');
    return { lines: out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>), status: r.status, stderr: `${r.stdout}\n${r.stderr}`.slice(-2000) };
  }

  it('under an address-space limit (prlimit --as=3G) a page renders, and what cannot get memory is out-of-memory, not corrupt', () => {
    const r = underLimit('--as=3221225472', [['plain.pdf', {}], ['flate-1g.pdf', { maxStreamBytes: 'Infinity' }], ['plain.pdf', {}]]);
    expect([r.status, r.stderr]).toEqual([0, expect.stringContaining('host alive')]);
    expect(r.lines[0]).toEqual({ ok: true, width: 612 });
    // Unbounded on purpose, the bomb takes the renderer's memory: said as memory, and only the renderer ends.
    expect(r.lines[1]).toMatchObject({ ok: false, name: 'PdfError', reason: 'out-of-memory', message: expect.stringMatching(/flate-1g\.pdf' page 1: .*out of memory/) });
    expect(r.lines[2]).toEqual({ ok: true, width: 612 });
  }, 120_000);

  it('under a data limit (prlimit --data=768M) a page too large to draw is out-of-memory and the host lives on', () => {
    const r = underLimit(`--data=${768 * MiB}`, [['image-8k.pdf', {}], ['plain.pdf', {}], ['flate-1g.pdf', {}]]);
    expect([r.status, r.stderr]).toEqual([0, expect.stringContaining('host alive')]);
    // The page needs about 1.08 GB, well over the limit. Where it fails (Skia's canvas, a typed
    // array, or the renderer's death), it is said as memory: not corrupt, and not the host's end.
    expect(r.lines[0]).toMatchObject({ ok: false, name: 'PdfError', reason: 'out-of-memory', message: expect.stringMatching(/image-8k\.pdf/) });
    expect(r.lines[1]).toEqual({ ok: true, width: 612 });
    // The bounded bomb is refused within the limit, before the memory runs out.
    expect(r.lines[2]).toMatchObject({ ok: false, reason: 'too-large' });
  }, 120_000);
});
