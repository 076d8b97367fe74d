// POST /v1/minimonkey/pdf?page=N&crop=P: one page of an uploaded PDF as a PNG, for the page's PDF
// picker. Rendered by the library's own PDF path (lib/pdf, its worker thread) at the dpi the crop
// preset would get in ask(), so asking about the PNG is asking about the page as the API would.
import { PdfError } from '../errors';
import { PDF_LIMITS } from '../limits';
import { isPresetName, PresetName } from '../msac/presets';
import { renderPdfPage } from '../pdf/render';
import { sharpLib } from '../image/sharp-lib';
import { ApiError, badRequest } from './api-error';

export interface PdfPagePng {
  png: Buffer;
  page: number;
  pages: number;
  dpi: number;
  width: number;
  height: number;
}

/** The page and crop a request names (400 naming the parameter otherwise); page defaults to 1. */
export function pdfPageQuery(q: URLSearchParams, defaultCrop: PresetName): { page: number; crop: PresetName } {
  const raw = q.get('page') ?? '1';
  const page = /^\d+$/.test(raw) ? Number(raw) : NaN;
  const { min, max } = PDF_LIMITS.page;
  if (!Number.isSafeInteger(page) || page < min || page > max) throw badRequest(`page must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`, 'page');
  const crop = q.get('crop') ?? defaultCrop;
  if (!isPresetName(crop)) throw badRequest(`unknown crop preset '${crop}'`, 'crop');
  return { page, crop };
}

/** Page `page` of the PDF `bytes` as a PNG of at most `maxPngBytes` (what a chat request may then send). */
export async function renderPdfPagePng(bytes: Uint8Array, page: number, crop: PresetName, maxPngBytes: number): Promise<PdfPagePng> {
  let r;
  try {
    r = await renderPdfPage(bytes, page, { crop });
  } catch (e) {
    throw e instanceof PdfError ? pdfApiError(e) : e;
  }
  // The render is opaque (white background): RGB, as loadImage would take it.
  const png = await sharpLib()(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), { raw: { width: r.width, height: r.height, channels: 4 }, limitInputPixels: false })
    .removeAlpha()
    .png()
    .toBuffer();
  if (png.length > maxPngBytes) {
    throw badRequest(`page ${page} rendered at ${r.width}x${r.height} is ${png.length} bytes as PNG, over the server's image limit of ${maxPngBytes} bytes (--max-image)`, 'page', 'image_too_large');
  }
  return { png, page, pages: r.pages, dpi: r.dpi, width: r.width, height: r.height };
}

/** A PdfError as a 400 whose code says the reason (pdf_page_range, pdf_encrypted, ...); X-PDF-Pages when known. */
function pdfApiError(e: PdfError): ApiError {
  // The library's message points at its own password option; this route takes none.
  const message = e.reason === 'encrypted' ? 'the PDF is encrypted and this server takes no password: decrypt it first (qpdf --decrypt), or give the password to the API or the CLI (--password)' : e.message;
  const headers: Record<string, string> = e.pages !== undefined ? { 'X-PDF-Pages': String(e.pages) } : {};
  return new ApiError(400, 'invalid_request_error', message, `pdf_${e.reason.replace(/-/g, '_')}`, e.reason === 'page-range' ? 'page' : null, headers);
}
