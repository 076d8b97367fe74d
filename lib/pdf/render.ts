// PDF pages to pixels, for every place an image is accepted. The rendering runs in a process of
// its own (render-worker.ts: pdfjs-dist on @napi-rs/canvas), started on first use and unref'd
// while idle, so it never keeps the host alive, and a renderer that runs out of memory ends only
// itself (a PdfError `out-of-memory`; the next page starts another). A page comes back as RGBA at the dpi chosen by
// dpi.ts (or given), and goes on through the ordinary raw-pixel path of loadImage.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { InvalidArgumentError, PdfError, UnsupportedError } from '../errors';
import { PDF_LIMITS } from '../limits';
import type { PresetName } from '../msac/presets';
import type { CropOptions } from '../msac/types';
import { ChildTransport, startChild } from '../util/child-process';
import { compiledSibling } from '../util/compiled';
import { readInputFileSync } from '../util/file-kind';
import { autoDpi, pixelsAt } from './dpi';
import type { DecodeBounds, InfoRequest, PageRequest, RenderReply, RenderRequest } from './protocol';

/** A PDF file path or its bytes. */
export type PdfSource = string | Uint8Array;

export interface PdfRenderOptions {
  /** Render at this resolution; default: chosen for MSAC (README "PDFs"), at most maxPixels. */
  dpi?: number;
  /** Largest rendered width·height (default 16,777,216 = 4096²); a given dpi over it is refused. */
  maxPixels?: number;
  /** Pixels of one image in the page (default 67,108,864 = 8192²); a page with a larger one is refused. */
  maxImagePixels?: number;
  /** Bytes one decoded stream (content, font, image data) may reach (default 256 MiB); a larger one is refused. */
  maxStreamBytes?: number;
  /** The user password of an encrypted PDF. */
  password?: string;
  /** The crop the automatic dpi is chosen for (default 'default'; ask/encode pass their own). */
  crop?: PresetName | CropOptions;
}

export interface RenderedPage {
  /** RGBA8, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
  /** The resolution it was rendered at. */
  dpi: number;
  /** Pages in the document. */
  pages: number;
}

/** True when `bytes` start like a PDF (the header may follow up to 1 KiB of junk, as readers allow). */
export function isPdfBytes(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024)).toString('latin1');
  return head.includes('%PDF-');
}

/** True when the file at `file` is a PDF by its first bytes (false when it cannot be read). */
export function isPdfFile(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    if (!fs.fstatSync(fd).isFile()) return false;
    const head = Buffer.alloc(1024);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return isPdfBytes(head.subarray(0, n));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// pdfjs-dist 5.6 runs on Node >= 20.19 (its engines); older Nodes get a clear refusal.
function checkRuntime(): void {
  const [maj, min] = process.versions.node.split('.').map(Number);
  if (maj < 20 || (maj === 20 && min < 19)) {
    throw new UnsupportedError(`PDF input needs Node.js 20.19 or later (pdfjs-dist 5); this is ${process.versions.node}`);
  }
}


type Pending = { resolve: (r: RenderReply) => void; reject: (e: unknown) => void };

/**
 * The renderer process's death in words, as a PdfError: a signal there is memory that could not be
 * had (Skia's std::bad_alloc aborts, V8 faults in its collector, the OOM killer's SIGKILL); pdfjs
 * itself is JavaScript, whose errors come back as replies.
 */
function deathError(code: number | null, signal: NodeJS.Signals | null): PdfError {
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return new PdfError(`the PDF renderer process ${how}: out of memory, most likely (the page needs more than this machine or process limit gives)`, 'out-of-memory');
}

/** The one renderer process of this host, started on first use, again after a death. */
class RendererProcess {
  private child: ChildTransport<RenderRequest, RenderReply> | undefined;
  private pending = new Map<number, Pending>();
  private nextId = 1;

  request(req: Omit<RenderRequest, 'id'>): Promise<RenderReply> {
    const c = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) c.setRef(true);
      c.send({ ...req, id } as RenderRequest);
    });
  }

  private start(): ChildTransport<RenderRequest, RenderReply> {
    if (this.child) return this.child;
    const c = startChild<RenderRequest, RenderReply>(compiledSibling(__dirname, 'render-worker'));
    c.onMessage((reply) => this.settle(reply.id, (p) => p.resolve(reply)));
    // A death fails what it held; the next call starts another.
    c.onExit((code, signal) => {
      if (this.child === c) this.child = undefined;
      for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(deathError(code, signal)));
    });
    c.setRef(false);
    this.child = c;
    return c;
  }

  private settle(id: number, f: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.child?.setRef(false);
    f(p);
  }
}

const renderer = new RendererProcess();

interface Loaded {
  bytes: Uint8Array;
  key: string;
  what: string;
}

function loadSource(source: PdfSource, password: string | undefined): Loaded {
  let bytes: Uint8Array;
  let what: string;
  if (typeof source === 'string') {
    if (source === '') throw new PdfError('PDF path is empty', 'unreadable');
    what = `PDF '${source}'`;
    try {
      bytes = readInputFileSync(source, 'PDF');
    } catch (e) {
      throw new PdfError(`cannot read ${what}: ${(e as Error).message}`, 'unreadable', { cause: e });
    }
  } else if (source instanceof Uint8Array) {
    bytes = source;
    what = `PDF (${source.length} bytes)`;
  } else {
    throw new InvalidArgumentError('a PDF is a file path or its bytes (Uint8Array)');
  }
  if (bytes.length === 0) throw new PdfError(`${what} is empty`, 'empty');
  if (!isPdfBytes(bytes)) throw new PdfError(`${what} is not a PDF (no %PDF- header)`, 'corrupt');
  const key = crypto.createHash('sha256').update(bytes).update(`\0${password ?? ''}`).digest('hex');
  return { bytes, key, what };
}

function failure(reply: Extract<RenderReply, { ok: false }>, what: string, page?: number): PdfError {
  const { name, message, code } = reply.error;
  const pages = reply.pages;
  if (name === 'PageRange') return new PdfError(`${what} has ${pages} page${pages === 1 ? '' : 's'}: no page ${page}`, 'page-range', { pages });
  if (name === 'TooLarge') return new PdfError(`${what}${page !== undefined ? ` page ${page}` : ''}: refused, ${message}`, 'too-large', { pages });
  if (name === 'OutOfMemory') return new PdfError(`${what}${page !== undefined ? ` page ${page}` : ''}: out of memory while rendering (${message})`, 'out-of-memory', { pages });
  if (name === 'PasswordException') {
    return code === 2
      ? new PdfError(`${what}: the password is wrong`, 'wrong-password')
      : new PdfError(`${what} is encrypted: give its password (option password, CLI --password)`, 'encrypted');
  }
  return new PdfError(`${what}: corrupt or unreadable PDF (${name}: ${message})`, 'corrupt', { pages });
}

type Request = Omit<InfoRequest, 'id' | 'key' | 'data'> | Omit<PageRequest, 'id' | 'key' | 'data'>;

async function ask(l: Loaded, req: Request, page?: number): Promise<Extract<RenderReply, { ok: true }>> {
  // A plain Uint8Array of exactly the bytes (a Buffer may be a view of a larger shared pool).
  const data = new Uint8Array(l.bytes);
  // The renderer keeps a document open per key, with the bounds it was opened under.
  const key = `${l.key}:${req.bounds.maxImagePixels}:${req.bounds.maxStreamBytes}`;
  const reply = await renderer.request({ ...req, key, data } as Omit<RenderRequest, 'id'>).catch((e: unknown) => {
    // The renderer process died: said with the PDF and page it was working on.
    throw e instanceof PdfError ? new PdfError(`${l.what}${page !== undefined ? ` page ${page}` : ''}: ${e.message}`, e.reason, { cause: e }) : e;
  });
  if (!reply.ok) throw failure(reply, l.what, page);
  return reply;
}

/** A `dpi` option checked against PDF_LIMITS (undefined passes). */
export function checkDpi(dpi: unknown): void {
  if (dpi !== undefined && !(typeof dpi === 'number' && Number.isFinite(dpi) && dpi >= PDF_LIMITS.dpi.min && dpi <= PDF_LIMITS.dpi.max)) {
    throw new InvalidArgumentError(`dpi must be a number from ${PDF_LIMITS.dpi.min} to ${PDF_LIMITS.dpi.max} (got ${String(dpi)})`);
  }
}

function checkOptions(o: PdfRenderOptions): { maxPixels: number; bounds: DecodeBounds } {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('PDF options must be an object');
  const { dpi, maxPixels = PDF_LIMITS.maxPixels.default, password } = o;
  checkDpi(dpi);
  checkBound('maxPixels', maxPixels);
  if (password !== undefined && typeof password !== 'string') throw new InvalidArgumentError('password must be a string');
  return { maxPixels, bounds: checkBounds(o) };
}

/** maxImagePixels and maxStreamBytes of `o` (defaults from PDF_LIMITS); Infinity lifts one. */
function checkBounds(o: { maxImagePixels?: number; maxStreamBytes?: number }): DecodeBounds {
  const { maxImagePixels = PDF_LIMITS.maxImagePixels.default, maxStreamBytes = PDF_LIMITS.maxStreamBytes.default } = o;
  checkBound('maxImagePixels', maxImagePixels);
  checkBound('maxStreamBytes', maxStreamBytes);
  // pdfjs takes maxImageSize as an integer, -1 for none.
  return { maxImagePixels: maxImagePixels === Infinity ? -1 : maxImagePixels, maxStreamBytes };
}

function checkBound(name: string, v: unknown): void {
  if (!(typeof v === 'number' && v >= 1 && (v === Infinity || Number.isSafeInteger(v)))) {
    throw new InvalidArgumentError(`${name} must be an integer >= 1 or Infinity (got ${String(v)})`);
  }
}

/** Pages in the PDF. Throws PdfError when it cannot be opened (encrypted, corrupt). */
export async function pdfPageCount(source: PdfSource, options: { password?: string; maxImagePixels?: number; maxStreamBytes?: number } = {}): Promise<number> {
  checkRuntime();
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('PDF options must be an object');
  const bounds = checkBounds(options);
  const l = loadSource(source, options.password);
  return (await ask(l, { kind: 'info', bounds, password: options.password })).pages;
}

/** Page `page` (1-based) of a PDF as RGBA pixels. Throws PdfError for what cannot be rendered. */
export async function renderPdfPage(source: PdfSource, page: number, options: PdfRenderOptions = {}): Promise<RenderedPage> {
  checkRuntime();
  const { maxPixels, bounds } = checkOptions(options);
  if (!Number.isSafeInteger(page) || page < PDF_LIMITS.page.min || page > PDF_LIMITS.page.max) {
    throw new InvalidArgumentError(`page must be an integer from ${PDF_LIMITS.page.min} to ${PDF_LIMITS.page.max} (got ${String(page)})`);
  }
  const l = loadSource(source, options.password);
  const info = await ask(l, { kind: 'info', bounds, password: options.password, sizeOf: page }, page);
  const size = info.size!;
  const dpi = options.dpi ?? autoDpi(size.width, size.height, options.crop ?? 'default', maxPixels);
  const width = pixelsAt(size.width, dpi);
  const height = pixelsAt(size.height, dpi);
  if (width * height > maxPixels) {
    throw new PdfError(`${l.what} page ${page}: ${width}x${height} px at ${dpi} dpi is over the limit of ${maxPixels} pixels (option maxPixels)`, 'too-large', { pages: info.pages });
  }
  const r = await ask(l, { kind: 'page', bounds, password: options.password, page, scale: dpi / 72, width, height }, page);
  return { data: r.rgba!, width, height, dpi, pages: r.pages };
}
