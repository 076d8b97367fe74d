// The PDF renderer's process: pdfjs-dist (Mozilla's PDF.js, the renderer of Firefox, kept by
// Mozilla) drawing on @napi-rs/canvas (Skia, prebuilt per platform: no system library to install).
// Off the host's thread because pdfjs is JavaScript: a page of vector art or a large JPEG takes
// tens of milliseconds to seconds, which must not stall the host's event loop (Electron's UI).
// A process, not a worker thread, because what runs out of memory here cannot be caught: under a
// memory limit Skia's std::bad_alloc aborts and V8's garbage collector faults, and in a thread
// either took the whole host down. Here it ends this process; render.ts reports it and starts
// another. pdfjs-dist ships only ES modules; it is imported with a real import() (see esmImport).
import path from 'node:path';
import type { RenderReply, RenderRequest } from './protocol';
import { beginBounded, installRenderBounds, refused } from './render-bounds';
import { parentChannel } from '../util/child-process';

// Only what we call of pdfjs's API (its own .d.mts cannot be imported from CommonJS typings).
interface PdfViewport { width: number; height: number }
interface PdfPage {
  rotate: number;
  view: number[];
  getViewport(o: { scale: number; rotation?: number }): PdfViewport;
  render(o: { canvas: unknown; viewport: PdfViewport; background?: string }): { promise: Promise<void> };
  cleanup(): void;
}
interface PdfDocument { numPages: number; getPage(n: number): Promise<PdfPage>; destroy(): Promise<void> }
interface PdfJs {
  getDocument(o: Record<string, unknown>): { promise: Promise<PdfDocument>; destroy(): Promise<void> };
  version: string;
}
interface Canvas { getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } }
interface NapiCanvas { createCanvas(w: number, h: number): Canvas }

// TypeScript compiles import() to require() under CommonJS, and require() cannot load pdfjs's
// top-level-await ES module; a Function body keeps the real import().
const esmImport = new Function('s', 'return import(s)') as (s: string) => Promise<unknown>;

installRenderBounds();

// Under an address-space limit (ulimit -v) V8 cannot reserve WebAssembly memory, and Node 20's
// undici starts its wasm HTTP parser as soon as pdfjs touches the Response global, with nobody
// awaiting it: that one rejection would end the process, so every PDF failed. pdfjs needs wasm
// only for JBIG2 images (JPX and ICC colour have JavaScript fallbacks; a JBIG2 page then fails as
// out-of-memory, render-bounds.ts), so that rejection is let go.
let wasmRefused = false;
process.on('unhandledRejection', (reason) => {
  if (isMemoryError(reason)) {
    wasmRefused = true;
    return;
  }
  throw reason;
});

function isMemoryError(e: unknown): boolean {
  return e instanceof RangeError && /out of memory|could not allocate|allocation failed/i.test(e.message);
}

let pdfjs: Promise<PdfJs> | undefined;
const root = path.dirname(require.resolve('pdfjs-dist/package.json'));
const { createCanvas } = require('@napi-rs/canvas') as NapiCanvas;

function load(): Promise<PdfJs> {
  pdfjs ??= esmImport('pdfjs-dist/legacy/build/pdf.mjs') as Promise<PdfJs>;
  return pdfjs;
}

// The last documents opened stay open: a batch renders page after page of the same file.
const open = new Map<string, Promise<PdfDocument>>();
const KEEP = 2;

async function documentFor(req: RenderRequest): Promise<PdfDocument> {
  let doc = open.get(req.key);
  if (!doc) {
    const lib = await load();
    doc = lib.getDocument({
      data: req.data, // our own copy: pdfjs may keep and detach it
      password: req.password,
      // Fonts a PDF names without embedding them (the 14 standard fonts) come from pdfjs's own
      // files, so a page looks the same on every machine; no system fonts are looked up.
      standardFontDataUrl: `${path.join(root, 'standard_fonts')}/`,
      cMapUrl: `${path.join(root, 'cmaps')}/`,
      cMapPacked: true,
      wasmUrl: `${path.join(root, 'wasm')}/`,
      useSystemFonts: false,
      isEvalSupported: false, // no eval of PDF content (CVE-2024-4367 class)
      // An image of more pixels is dropped before decoding; render-bounds.ts turns that into a refusal.
      maxImageSize: req.bounds.maxImagePixels,
      // Where wasm memory could not be had once, pdfjs is not sent to try again.
      useWasm: !wasmRefused,
      disableFontFace: true,
      verbosity: 1, // warnings, which render-bounds.ts reads (and prints none of)
    }).promise;
    open.set(req.key, doc);
    doc.catch(() => open.delete(req.key));
    while (open.size > KEEP) {
      const [k, d] = open.entries().next().value as [string, Promise<PdfDocument>];
      open.delete(k);
      d.then((x) => x.destroy(), () => {});
    }
  }
  return doc;
}

function forget(key: string): void {
  const doc = open.get(key);
  open.delete(key);
  doc?.then((d) => d.destroy(), () => {});
}

async function handle(req: RenderRequest): Promise<RenderReply> {
  beginBounded(req.bounds);
  let reply: RenderReply;
  try {
    reply = await render(req);
  } catch (e) {
    reply = errorReply(req.id, e);
  }
  // A refusal wins over what pdfjs made of it (a page without its image, a "corrupt" stream).
  const r = refused();
  if (r) {
    forget(req.key); // pdfjs may have kept what it made of the refused stream
    return { id: req.id, ok: false, error: { name: r.reason === 'too-large' ? 'TooLarge' : 'OutOfMemory', message: r.message } };
  }
  return reply;
}

// @napi-rs/canvas says only this when Skia cannot allocate a canvas's pixels. Every canvas here is
// within the bounds (the page's own size, or an image of at most maxImagePixels), so its failure
// is memory, not a malformed file (an 8192² image page under `prlimit --data=768M`).
const CANVAS_REFUSED = /create skia surface failed/i;

function errorReply(id: number, e: unknown): RenderReply {
  const err = e as { name?: string; message?: string; code?: number };
  const message = String(err?.message);
  const memory = isMemoryError(e) || CANVAS_REFUSED.test(message) || (wasmRefused && /wasm|webassembly/i.test(message));
  return { id, ok: false, error: { name: memory ? 'OutOfMemory' : String(err?.name ?? 'Error'), message: String(err?.message ?? e), code: err?.code } };
}

async function render(req: RenderRequest): Promise<RenderReply> {
  const doc = await documentFor(req);
  const n = req.kind === 'info' ? req.sizeOf : req.page;
  if (n !== undefined && (n < 1 || n > doc.numPages)) {
    return { id: req.id, ok: false, error: { name: 'PageRange', message: `page ${n} of ${doc.numPages}` }, pages: doc.numPages };
  }
  if (req.kind === 'info') {
    if (n === undefined) return { id: req.id, ok: true, pages: doc.numPages };
    const v = (await doc.getPage(n)).getViewport({ scale: 1 });
    return { id: req.id, ok: true, pages: doc.numPages, size: { width: v.width, height: v.height } };
  }
  const page = await doc.getPage(req.page);
  const viewport = page.getViewport({ scale: req.scale });
  // The canvas is the viewport rounded up to whole pixels, as poppler's pdftoppm does.
  const canvas = createCanvas(req.width, req.height);
  await page.render({ canvas, viewport, background: 'rgb(255,255,255)' }).promise;
  const { data } = canvas.getContext('2d').getImageData(0, 0, req.width, req.height);
  page.cleanup();
  return { id: req.id, ok: true, pages: doc.numPages, rgba: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

const { send } = parentChannel<RenderReply, RenderRequest>((m) => onRequest(m));

// One request at a time: the process has one JavaScript thread anyway, and a refusal belongs to
// the request that caused it.
let queue: Promise<void> = Promise.resolve();
const onRequest = (req: RenderRequest): void => {
  queue = queue.then(() => handle(req)).then(send);
};
