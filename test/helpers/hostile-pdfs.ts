// Hostile PDFs written byte by byte (pdf-lib would decode and re-encode what we need raw): a small
// file whose image or stream decodes to gigabytes. The zlib data of `n` zero bytes is one deflate
// block of zeros ended by a full flush (byte-aligned, dictionary reset), repeated, so a 2.7 GB
// stream costs a few MB and a few milliseconds to make; it is a valid zlib stream (Adler-32 and all).
import zlib from 'node:zlib';

const CHUNK = 1 << 20;

/** zlib data that inflates to `n` zero bytes (n a multiple of 1 MiB). */
export function zerosFlate(n: number): Buffer {
  if (n % CHUNK !== 0) throw new Error('n must be a multiple of 1 MiB');
  const raw = zlib.deflateRawSync(Buffer.alloc(CHUNK), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const parts: Buffer[] = [Buffer.from([0x78, 0xda])];
  for (let i = 0; i < n / CHUNK; i++) parts.push(raw);
  parts.push(Buffer.from([0x03, 0x00])); // an empty final fixed-Huffman block
  // Adler-32 of n zeros: a stays 1, b is n mod 65521.
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((n % 65521) * 65536 + 1, 0);
  parts.push(adler);
  return Buffer.concat(parts);
}

/** A one-page PDF whose objects are `objects` (1-based; object 1 the catalog, 2 the pages, 3 the page). */
export function rawPdf(objects: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let at = parts[0].length;
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(at);
    const b = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), typeof o === 'string' ? Buffer.from(o, 'latin1') : o, Buffer.from('\nendobj\n')]);
    parts.push(b);
    at += b.length;
  });
  const xref = [`xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`, ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`)].join('');
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${at}\n%%EOF\n`));
  return Buffer.concat(parts);
}

function stream(dict: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`<< ${dict} /Length ${data.length} >>\nstream\n`), data, Buffer.from('\nendstream')]);
}

const catalog = '<< /Type /Catalog /Pages 2 0 R >>';
const pages = '<< /Type /Pages /Kids [3 0 R] /Count 1 >>';

/** A letter page drawing one `width`×`height` RGB image whose Flate data is all zeros (decoded: w·h·3 bytes). */
export function imageBombPdf(width: number, height: number): Buffer {
  const bytes = width * height * 3;
  const data = zerosFlate(Math.ceil(bytes / CHUNK) * CHUNK);
  return rawPdf([
    catalog,
    pages,
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>',
    stream('', Buffer.from('q 612 0 0 792 0 0 cm /Im1 Do Q')),
    stream(`/Type /XObject /Subtype /Image /Width ${width} /Height ${height} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode`, data),
  ]);
}

/** A letter page whose content stream inflates to `bytes` zero bytes (bytes a multiple of 1 MiB). */
export function flateBombPdf(bytes: number): Buffer {
  return rawPdf([
    catalog,
    pages,
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>',
    stream('/Filter /FlateDecode', zerosFlate(bytes)),
  ]);
}
