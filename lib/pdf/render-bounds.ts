// What the render thread refuses while pdfjs works on a page, so that a decompression bomb ends in
// a refusal instead of gigabytes. Loaded only in that thread (render-worker.ts), where pdfjs is
// the only code that runs.
//
// - Images: pdfjs's own `maxImageSize` drops an image of more pixels before decoding it, but with
//   its default error recovery it only warns and renders the page without it; a scanned page would
//   come back blank. The warning is caught here so the page is refused instead (and likewise a
//   warning that memory could not be had).
// - Streams: pdfjs decodes Flate, LZW and the rest in JavaScript into one buffer per stream that
//   doubles as it fills (DecodeStream.ensureBuffer, `new Uint8Array(size)`), with no bound of its
//   own and no option for one. The thread's Uint8Array constructor is wrapped so an allocation
//   over the bound throws before it happens; pdfjs may swallow that error, so it is recorded too.
//   A content stream is first inflated by the platform's DecompressionStream, chunk by chunk, and
//   on failure again in JavaScript: that stream's output is counted too, and once a request is
//   refused no buffer is allocated for it at all, so the fallback cannot start over.

/** The text pdfjs warns with when `maxImageSize` drops an image (pdfjs-dist 5.6, evaluator). */
const IMAGE_DROPPED = 'Image exceeded maximum allowed size';

/** A limit that was reached, or memory that could not be had (which pdfjs would also swallow). */
/** Warnings of pdfjs-dist 5.6 after which it goes on with a JavaScript fallback. */
const RECOVERED = ['ICCBased color space', 'JpxImage#'];

export interface Refusal {
  reason: 'too-large' | 'out-of-memory';
  message: string;
}

let streamBound = Infinity;
let imageBound = Infinity;
let refusal: Refusal | undefined;

/** Starts a request: no refusal yet, streams and images bounded as given (pdfjs has `maxImageSize` = maxImagePixels). */
export function beginBounded(bounds: { maxStreamBytes: number; maxImagePixels: number }): void {
  streamBound = bounds.maxStreamBytes;
  imageBound = bounds.maxImagePixels;
  refusal = undefined;
}

/** What was refused since beginBounded, if anything. */
export function refused(): Refusal | undefined {
  return refusal;
}

/** Installs the watch on pdfjs's warnings and byte buffers; once per thread, before pdfjs loads. */
export function installRenderBounds(): void {
  boundByteArrays();
  boundDecompression();
  catchWarnings();
}

function refuseStream(): RangeError {
  refusal ??= { reason: 'too-large', message: `a stream decodes to more than ${streamBound} bytes (option maxStreamBytes)` };
  return new RangeError(`minimonkey: ${refusal.message}`);
}

function boundByteArrays(): void {
  const Native = globalThis.Uint8Array;
  // A Proxy keeps `instanceof Uint8Array`, Uint8Array.from and subclasses as they were.
  globalThis.Uint8Array = new Proxy(Native, {
    construct(target, args: unknown[], newTarget) {
      const n = args[0];
      if (typeof n === 'number' && (n > streamBound || (refusal && n > 0))) throw refuseStream();
      try {
        return Reflect.construct(target, args, newTarget) as Uint8Array;
      } catch (e) {
        // "Array buffer allocation failed": recorded, since pdfjs would draw the page without it.
        if (e instanceof RangeError && typeof n === 'number') refusal ??= { reason: 'out-of-memory', message: `${n} bytes could not be allocated` };
        throw e;
      }
    },
  });
}

function boundDecompression(): void {
  const Native = globalThis.DecompressionStream;
  if (!Native) return;
  class BoundedDecompressionStream {
    readonly writable: DecompressionStream["writable"];
    readonly readable: ReadableStream<Uint8Array>;
    constructor(format: ConstructorParameters<typeof DecompressionStream>[0]) {
      const inner = new Native(format);
      let total = 0;
      this.writable = inner.writable;
      this.readable = inner.readable.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          total += chunk.byteLength;
          if (total > streamBound) out.error(refuseStream());
          else out.enqueue(chunk);
        },
      }));
    }
  }
  globalThis.DecompressionStream = BoundedDecompressionStream as unknown as typeof DecompressionStream;
}

function catchWarnings(): void {
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : '';
    if (text.includes(IMAGE_DROPPED)) {
      refusal ??= { reason: 'too-large', message: `an image has more than ${imageBound} pixels (option maxImagePixels)` };
      return;
    }
    // Memory pdfjs could not get and went on without (a JBIG2 decoder's wasm under ulimit -v):
    // the page would be drawn without that part. ICC colour and JPX have JavaScript fallbacks.
    if (/out of memory|could not allocate|allocation failed/i.test(text) && !RECOVERED.some((r) => text.includes(r))) {
      refusal ??= { reason: 'out-of-memory', message: text.replace(/^Warning: /, '') };
      return;
    }
    // pdfjs runs at verbosity "errors" for everything else, as before.
    if (typeof args[0] === 'string' && args[0].startsWith('Warning: ')) return;
    warn(...args);
  };
}
