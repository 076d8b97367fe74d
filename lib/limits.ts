// The one table of numeric limits, checked once at the TypeScript edge. Every option that takes a
// count or a size reads its range here, so the API, the CLI and the docs say the same numbers.
// The native code re-checks only what could crash it (ggml asserts, libllama aborts).
import os from 'node:os';
import { InvalidArgumentError } from './errors';

/** ggml's GGML_MAX_N_THREADS: a thread pool larger than this asserts. */
export const GGML_MAX_THREADS = 512;

/** Logical CPUs this process may use. */
export function machineCores(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

export interface IntRange {
  min: number;
  max: number;
  /** Why the bound is where it is (shown in README's limits table). */
  why: string;
}

/**
 * Integer options and their inclusive ranges. `threads` depends on the machine, so it is a function;
 * everything else is a fixed number.
 */
export const LIMITS = {
  /** ggml's workers spin-wait: a thread without a CPU of its own stalls every barrier. ggml asserts past 512. */
  threads: (): IntRange => ({
    min: 1,
    max: Math.min(machineCores(), GGML_MAX_THREADS),
    why: "the machine's logical CPUs (a thread without one stalls every barrier; default: the physical cores), at most ggml's 512",
  }),
  contextSize: {
    min: 64,
    max: 131072,
    why: "libllama's KV cache for 131,072 tokens of InternLM2-1.8B is 24 GiB; 4x the trained context",
  },
  batchSize: { min: 1, max: 8192, why: 'tokens per llama_decode; larger only costs memory' },
  maxTokens: { min: 1, max: 131072, why: 'a reply never outgrows the largest context' },
  topK: { min: 0, max: 1 << 20, why: 'above any vocabulary (InternLM2: 92,553 tokens); 0 is off' },
  repeatLastN: { min: 0, max: 131072, why: 'libllama keeps a ring of this many tokens; at most the largest context' },
  seed: { min: 0, max: 0xffffffff, why: "libllama's seed is 32-bit" },
  gpuLayers: { min: -1, max: 1024, why: "-1 is all; libllama's LLAMA_MAX_LAYERS is 512" },
  deviceName: { min: 1, max: 64, why: "characters of a device option: 'auto', 'cpu' or a ggml device name such as Vulkan0" },
  parallel: { min: 1, max: 64, why: 'conversations of one shared context, each with its own KV cells; libllama allows 256' },
} as const;

/**
 * Defaults of the options above, one place for the API, the CLI and the server alike (each says
 * them in its help from here). Ranges are in LIMITS; these are the values used when none is given.
 */
export const DEFAULTS = {
  /** Tokens a reply may generate: the reference demo's 512. */
  maxTokens: 512,
  /** Tokens per llama_decode call in prefill. */
  batchSize: 512,
  /** A lone chat's first context (it grows in steps up to the trained context). */
  contextSize: 8192,
  /** libllama rounds context sizes up to this; contexts grow by it (native/core/mm_limits.h kContextStep, held equal by a test). */
  contextStep: 256,
  /** Tokens kept for the system message and the question when a sequence is sized for an image. */
  promptReserve: 256,
  /** Memory for image embeddings kept for follow-up questions. */
  imageCacheBytes: 512 * 1024 * 1024,
  /** Sampling: greedy decoding with no penalty, as the reference evaluates (the addon's own defaults are the same). */
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repeatPenalty: 1,
  repeatLastN: 64,
  seed: 0,
  /** Every layer on the chosen device. */
  gpuLayers: -1,
  /** One conversation per context unless `parallel` asks for more. */
  parallel: 1,
  /** The first GPU ggml finds, else the CPU. */
  device: 'auto',
  /** KV cells in f16, as libllama keeps them; 'q8_0' about halves their memory. */
  kvCacheType: 'f16',
} as const;

/** The types the text model's KV cells may be kept in (`kvCacheType`). */
export const KV_CACHE_TYPES = ['f16', 'q8_0'] as const;
export type KvCacheType = (typeof KV_CACHE_TYPES)[number];

/** `value` as a KV cache type, DEFAULTS.kvCacheType when undefined; InvalidArgumentError otherwise. */
export function checkKvCacheType(value: unknown): KvCacheType {
  if (value === undefined) return DEFAULTS.kvCacheType;
  if (!KV_CACHE_TYPES.includes(value as KvCacheType)) throw new InvalidArgumentError(`kvCacheType must be one of ${KV_CACHE_TYPES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as KvCacheType;
}

export type LimitName = Exclude<keyof typeof LIMITS, 'threads'>;

/** The range of a named limit, `threads` resolved for this machine. */
export function limitRange(name: keyof typeof LIMITS): IntRange {
  const l = LIMITS[name];
  return typeof l === 'function' ? l() : l;
}

/**
 * `value` checked against `name`'s range: a safe integer within it, or undefined when undefined.
 * The message names the option and the range, so a user can fix it from the error alone.
 */
export function checkInt(name: keyof typeof LIMITS, value: unknown, label: string = name): number | undefined {
  if (value === undefined) return undefined;
  const r = limitRange(name);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < r.min || value > r.max) {
    throw new InvalidArgumentError(`${label} must be an integer from ${r.min} to ${r.max} (got ${describe(value)})`);
  }
  return value;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/**
 * The image section: resource bounds on decoding and MSAC, so that no image shape (a 1×1,000,000
 * strip, a 16k×16k scan) costs unbounded memory or time. Each has a load/preprocess option of the
 * same name that changes it; README's "Images" section gives the measurements behind them.
 */
export const IMAGE_LIMITS = {
  /**
   * Header check against decompression bombs (option `maxPixels`): more pixels than this are
   * refused before any is decoded. sharp's own limitInputPixels, 0x3FFF².
   */
  maxPixels: {
    default: 268402689,
    why: "sharp's limitInputPixels (16383²): decoded RGB would be 768 MiB, held twice by MSAC",
  },
  /**
   * Largest image decoded at full resolution (option `maxDecodedPixels`); a larger one (up to
   * maxPixels) is shrunk on load to this many pixels, or refused with `oversize: 'error'`.
   */
  maxDecodedPixels: {
    default: 67108864,
    why: '8192² (192 MiB of RGB): above 50-MP camera photos, and 14x the largest layer of any preset (24 tiles, 4.8 MP)',
  },
  /**
   * Bytes the Pillow-exact resize of one MSAC layer may allocate (option `maxLayerBytes`): the
   * resized layer, Pillow's horizontal-first intermediate (new width × source rows × 3) and the
   * filter tables. Only strips of extreme aspect ratio get near it.
   */
  maxLayerBytes: {
    default: 256 * 1024 * 1024,
    why: 'a 1x1,000,000 strip needs 1.3 GB per layer; images within maxDecodedPixels up to 1:64 need at most 99 MiB (presets) or 200 MiB (128-tile layers)',
  },
} as const;

/**
 * The PDF section: how pages are rendered to pixels (README "PDFs"). Each has an option of the same
 * name on the PDF input.
 */
export const PDF_LIMITS = {
  /** `dpi` when given: below 18 a letter page is under 160 px; above 1200 only costs memory. */
  dpi: { min: 18, max: 1200, why: 'a letter page is 153x198 px at 18 dpi and 10,200x13,200 at 1200' },
  /**
   * Floor of the automatic resolution (when `dpi` is not given), so a preset with one small detail
   * layer still gets a legible page; the ceiling is `maxPixels`.
   */
  minAutoDpi: { default: 72, why: "PDF's own unit; text of 10 pt is 10 px high" },
  /** Largest rendered page, width·height (option `maxPixels`): the automatic dpi is lowered to fit, a given dpi over it is refused. */
  maxPixels: {
    default: 16777216,
    why: "4096² (64 MiB of RGBA): A4 at 400 dpi; 3.5x the largest MSAC layer of any preset (24 tiles, 4.8 MP)",
  },
  /**
   * Pixels of one image inside a page (option `maxImagePixels`, pdfjs's maxImageSize): a page with a
   * larger image is refused with `too-large` before the image is decoded, never drawn without it.
   */
  maxImagePixels: {
    default: 67108864,
    why: '8192² (a 1200-dpi A4 scan is 140 MP): 192 MiB of RGB, held decoded, as RGBA and on a canvas; a 30000² image reached 5.3 GB',
  },
  /**
   * Bytes one decoded stream of the PDF (page content, font, image data) may reach in pdfjs
   * (option `maxStreamBytes`): a Flate, LZW or other bomb is refused with `too-large` when its
   * buffer would grow past it.
   */
  maxStreamBytes: {
    default: 256 * 1024 * 1024,
    why: 'the data of an 8-bit image of maxImagePixels (CMYK: exactly 256 MiB); a 1 MB Flate bomb inflated to 1 GiB at 2.2 GB peak',
  },
  /** 1-based page numbers up to this; a page list or range past it is refused before any rendering. */
  page: { min: 1, max: 100000, why: 'above any real document; bounds a page list such as 1-99999999' },
} as const;

/**
 * The input-file section: every file a user names (an image, a PDF, a batch input, a schema or
 * grammar file, a server's --allow-files image) is read through util/file-kind.ts, bounded here,
 * so that a huge or growing file cannot exhaust memory before any format check sees it.
 */
export const FILE_LIMITS = {
  /** Bytes of one image or PDF file read into memory (option maxFileBytes where a reader takes one). */
  inputBytes: { default: 1024 * 1024 * 1024, why: '1 GiB: above scanned PDFs of a thousand pages; larger is refused before reading' },
  /** Bytes of a --json-schema or --grammar file. */
  textBytes: { default: 8 * 1024 * 1024, why: '8 MiB: a schema or grammar a person or program writes; larger is refused before reading' },
} as const;

/** The batch section (README "Batches"). */
export const BATCH_LIMITS = {
  /** Local worker processes (`--workers`): each loads its own model, so each costs its memory. */
  workers: { min: 1, max: 64, why: 'each loads its own model; more processes than cores only contend' },
  /** Times a page is given out again after its worker process died, before it is recorded as failed. */
  maxRetries: { default: 2, why: 'a page that kills its worker three times would kill the next one too' },
} as const;

/**
 * The server section (`minimonkey serve`, README "Server"): what one request may cost, so a
 * client on the network cannot make the server hold unbounded memory or time.
 */
export const SERVER_LIMITS = {
  /** Requests that wait for a slot (`--max-waiting`); one more gets 503 with Retry-After. */
  maxWaiting: { default: 16, min: 0, max: 4096, why: 'a bounded wait, so a burst is told to come back instead of piling up memory' },
  /** Request body bytes (`--max-body`): a JSON body with base64 images. */
  bodyBytes: { default: 32 * 1024 * 1024, why: '32 MiB: a few document scans as base64 data: URLs' },
  /**
   * Request body bytes held at once over all connections (option maxBodyBytesInFlight): a body
   * that would take the total past it gets 503 with Retry-After before its bytes are kept.
   */
  bodyBytesInFlight: { default: 128 * 1024 * 1024, why: '4 full bodies; 40 clients each withholding the last byte of 31 MiB held 1.45 GB' },
  /** Bytes of one image, decoded from its data: URL or read from a file or URL. */
  imageBytes: { default: 20 * 1024 * 1024, why: '20 MiB: a 600-dpi A4 PNG scan; larger is refused before decoding' },
  /** Image bytes of one request, all its images together, counted (by size or stat) before any is read. */
  requestImageBytes: { default: 64 * 1024 * 1024, why: 'a few document scans; 300 names of an 8 MiB file read 2.5 GB before the count was checked' },
  /** Images in one request, over all its messages. */
  images: { default: 8, why: 'each costs up to 30 tiles of vision tower time' },
  /** Messages in one request. */
  messages: { default: 256, why: 'a long conversation, and still a bounded replay' },
  /**
   * PDF pages the page's route (POST /v1/minimonkey/pdf) renders and encodes at once; one more gets
   * 503 with Retry-After before its body is read.
   */
  pdfRenders: { default: 2, why: 'each holds a page of up to PDF_LIMITS.maxPixels as RGBA (64 MiB) while it is encoded to PNG' },
  /** Largest `max_tokens` a request may ask for (`--max-tokens-limit`); the default when absent is 512. */
  maxTokens: { default: 4096, why: "a reply a person reads; the library's own bound is the context" },
  /** Seconds a 503 tells the client to wait (Retry-After). */
  retryAfter: { default: 2, why: 'a short answer is a few seconds of CPU' },
  /** Milliseconds SIGTERM waits for requests in flight before it closes their connections. */
  drainMs: { default: 30_000, why: 'long enough for a reply of a few hundred tokens on a laptop CPU' },
} as const;

/**
 * The structured-answer section (README "Structured answers"): what one JSON schema or GBNF grammar
 * may cost before any converter or libllama sees it. Every walk of a schema is bounded here in one
 * place (lib/llm/schema-bounds.ts), and every grammar, a schema's or the caller's, is measured for
 * the work libllama does per token (lib/llm/grammar-cost.ts).
 */
export const SCHEMA_LIMITS = {
  /**
   * Nesting of the schema's JSON (objects and arrays), counting the definitions its `$ref`s lead
   * to as nested where they are used: llama.cpp's converter recurses once per level and per link.
   */
  depth: { default: 128, why: 'real schemas nest under 20; the converter then needs well under 1 MiB of stack' },
  /** JSON values in the whole schema (every object, array, string, number, boolean and null). */
  nodes: { default: 100_000, why: 'a schema of 100,000 values is 2 MB; its grammar would be too large to sample with' },
  /** Steps the oneOf disjointness check may take (branch pairs times the values it compares). */
  work: { default: 200_000, why: 'about 100 ms of JavaScript (a oneOf of 630 branches); real schemas need a few thousand' },
} as const;

export const GRAMMAR_LIMITS = {
  /** Bytes of GBNF (the addon re-checks the same number). */
  bytes: { default: 4 * 1024 * 1024, why: "libllama's parser and our checks stay under ~100 ms" },
  /** Groups nested in groups (the addon re-checks it): libllama's parser recurses once per group. */
  nesting: { default: 256, why: 'far beyond any real grammar; bounds the parsers\' recursion' },
  /**
   * Ways the grammar may branch at one point (alternatives, and the parts that can be empty before
   * the next required one): libllama keeps one stack per way and compares each new one with all.
   */
  branches: { default: 1024, why: 'an enum of 1,024 strings; each token then compares up to 1,024² stacks' },
  /**
   * Parts that can match nothing in a row (`a? b? c?`, `(a?){N}`): each token re-expands every
   * stack over the whole run, so a run of N costs about N³ per token.
   */
  emptyRun: { default: 32, why: '(a?){400} costs 18 s per token; a run of 32 costs about 10 ms' },
} as const;

/** The page cache (README "Page cache"): image embeddings kept on disk across processes. */
export const PAGE_CACHE_LIMITS = {
  /** Bytes of entries kept (`pageCache.maxBytes`); least recently used go first. */
  maxBytes: {
    default: 2 * 1024 * 1024 * 1024,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    why: '2 GiB: about 35 Mini-Monkey pages at the default preset (28 tiles x 256 x 2048 f32 = 56 MiB each); 0 stores nothing',
  },
} as const;

/** Talking to a model hub (`pull`): what a hostile or broken hub may cost before the pull fails with `DOWNLOAD`. */
export const HUB_LIMITS = {
  /** Milliseconds from sending a request to its response headers (connect and first byte); `timeouts.responseMs`. */
  responseMs: { default: 30_000, min: 1, max: 3_600_000, why: "undici's own is 300 s; a hub that never answers fails after 30 s" },
  /**
   * Milliseconds of waiting in which a response body must send `idleBytes` (or end): a stalled hub,
   * and a trickling one, fail; `timeouts.idleMs`.
   */
  idleMs: { default: 60_000, min: 1, max: 3_600_000, why: 'a CDN pause is seconds; a body that sends under 16 KiB a minute will not finish a model' },
  /** Bytes a body must send in each `idleMs` of waiting (about 270 B/s at the default). */
  idleBytes: { default: 16 * 1024, why: 'a trickle of one byte at a time kept a download open without end' },
  /** Pages of one repo's file listing (the hub pages at 1,000 entries). */
  listingPages: { default: 1_000, why: "a million files; a `Link: rel=\"next\"` loop grew RSS ~20 MB/s without end" },
  /**
   * Bytes of one hub answer read whole (a file-listing page, the model info, an error's body),
   * counted as they stream: more fails before the rest is read.
   */
  answerBytes: { default: 16 * 1024 * 1024, why: 'a page of 1,000 entries is under 1 MB; an endless listing was buffered without bound' },
  /** Files and folders of one repo's listing. */
  listingEntries: { default: 1_000_000, why: 'the largest model repos list tens of thousands of files' },
} as const;
