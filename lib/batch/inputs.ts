// What a batch runs over: files, folders (every image and PDF inside, recursively) and glob
// patterns, expanded to pages: one per image, one per PDF page (all, or a page list). Globs are
// tinyglobby's (picomatch syntax, small, kept by the e18e group): Node's own fs.glob arrived in
// Node 22, and this package runs on 18.17.
import fs from 'node:fs';
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { IoError, PdfError } from '../errors';
import { expandPages, PageList } from '../pdf/pages';
import { isPdfFile, pdfPageCount } from '../pdf/render';
import { readInputFile } from '../util/file-kind';
import { bytesHash } from './key';

/** Extensions a folder or glob contributes (a file named directly is taken whatever its name). */
export const BATCH_EXTENSIONS = ['pdf', 'png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'];

/** One unit of work: an image file, or one page of a PDF. */
export interface BatchPage {
  file: string;
  /** 1-based page of a PDF; null for an image. */
  page: number | null;
  /** Pages of the PDF (null for an image). */
  pages: number | null;
  /** Why the file could not be expanded (a PDF that will not open): recorded as a failed page. */
  error?: Error;
  /** sha256 of the bytes the page count was read from, when the file was read to count them. */
  hash?: string;
}

const wanted = (f: string) => BATCH_EXTENSIONS.includes(path.extname(f).slice(1).toLowerCase());

/**
 * The identity of the file a path names: device and inode (links followed), so a file reached
 * twice (a symlinked folder loop, a link beside its target, a hard link) is one file. A path that
 * cannot be stat'ed keeps its own name, and fails as a page of its own later.
 */
function identity(f: string): string {
  try {
    const st = fs.statSync(f, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return `path:${path.resolve(f)}`;
  }
}

/** Files named by `inputs`, in order given, each folder and glob sorted, each file once. */
export async function expandFiles(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (f: string) => {
    const id = identity(f);
    if (!seen.has(id)) out.push(f);
    seen.add(id);
  };
  for (const input of inputs) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(input);
    } catch {
      st = undefined;
    }
    if (st?.isFile()) {
      add(input);
    } else if (st?.isDirectory()) {
      const found = await glob(`**/*.{${BATCH_EXTENSIONS.join(',')}}`, { cwd: input, caseSensitiveMatch: false, onlyFiles: true });
      for (const f of found.sort()) add(path.join(input, f));
    } else if (isDynamicPattern(input)) {
      const found = await glob(input, { onlyFiles: true, caseSensitiveMatch: false, expandDirectories: false });
      for (const f of found.sort()) if (wanted(f)) add(f);
    } else {
      throw new IoError(`batch input not found: ${input}`);
    }
  }
  return out;
}

/** The pages of `files`: PDFs opened for their page count; a PDF that will not open is one failed page. */
export async function expandPagesOf(files: string[], pages?: PageList, password?: string, signal?: AbortSignal): Promise<BatchPage[]> {
  const out: BatchPage[] = [];
  for (const file of files) {
    if (!isPdfFile(file)) {
      out.push({ file, page: null, pages: null });
      continue;
    }
    let count: number;
    let hash: string | undefined;
    try {
      // Read once (through the one input reader), counted and hashed from the same bytes.
      const bytes = await readInputFile(file, 'PDF', { signal });
      hash = bytesHash(bytes);
      count = await pdfPageCount(bytes, { password });
    } catch (e) {
      if (signal?.aborted) throw e;
      out.push({ file, page: 1, pages: null, error: e as Error, hash });
      continue;
    }
    const wantedPages = expandPages(pages, count);
    for (const page of wantedPages.filter((p) => p <= count)) out.push({ file, page, pages: count, hash });
    // Pages past the end are one failure per file, however long the range that asked for them.
    const missing = wantedPages.filter((p) => p > count);
    if (missing.length > 0) {
      const which = missing.length === 1 ? `page ${missing[0]}` : `${missing.length} of the pages asked for (${missing[0]}-${missing[missing.length - 1]})`;
      out.push({ file, page: missing[0], pages: count, hash, error: new PdfError(`PDF '${file}' has ${count} page${count === 1 ? '' : 's'}: ${which} not in it`, 'page-range', { pages: count }) });
    }
  }
  return out;
}
