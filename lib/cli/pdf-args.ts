// The PDF flags shared by ask, chat and batch: which pages, at what dpi, with what password.
import { InvalidArgumentError } from '../errors';
import { PDF_LIMITS } from '../limits';
import { PageList, parsePages } from '../pdf/pages';
import { OptionSpec, UsageError } from './command';

export const PDF_OPTIONS = {
  page: { type: 'string' },
  pages: { type: 'string' },
  dpi: { type: 'string' },
  password: { type: 'string' },
} as const satisfies OptionSpec;

export const PDF_USAGE = `  --page N               a PDF's page N (1-based; default 1)
  --pages LIST           batch: the PDF pages to take, e.g. 1-3,7 or 5- (default all)
  --dpi N                render PDF pages at N dpi (${PDF_LIMITS.dpi.min}-${PDF_LIMITS.dpi.max}; default: chosen for the crop preset)
  --password TEXT        the user password of encrypted PDFs`;

export interface PdfArgs {
  page?: number;
  pages?: PageList;
  dpi?: number;
  password?: string;
}

export function pdfArgs(values: { page?: string; pages?: string; dpi?: string; password?: string }): PdfArgs {
  const out: PdfArgs = { password: values.password };
  if (values.page !== undefined) {
    const n = Number(values.page);
    if (values.page.trim() === '' || !Number.isInteger(n) || n < PDF_LIMITS.page.min || n > PDF_LIMITS.page.max) {
      throw new UsageError(`--page must be an integer from ${PDF_LIMITS.page.min} to ${PDF_LIMITS.page.max}, got '${values.page}'`);
    }
    out.page = n;
  }
  if (values.pages !== undefined) {
    try {
      out.pages = parsePages(values.pages);
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw new UsageError(`--pages: ${e.message}`);
      throw e;
    }
  }
  if (values.dpi !== undefined) {
    const d = Number(values.dpi);
    if (values.dpi.trim() === '' || !(d >= PDF_LIMITS.dpi.min && d <= PDF_LIMITS.dpi.max)) {
      throw new UsageError(`--dpi must be a number from ${PDF_LIMITS.dpi.min} to ${PDF_LIMITS.dpi.max}, got '${values.dpi}'`);
    }
    out.dpi = d;
  }
  return out;
}
