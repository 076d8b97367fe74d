// `minimonkey serve`'s HTTP server on Node's own http module (a handful of routes need no
// framework): OpenAI's chat completions and models, /health, the page at /, and the page's own
// routes (crop plan, a PDF page as PNG). Loopback by default, optional bearer key, bounded bodies,
// one log line a request, and a close() that drains what is in flight.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '../errors';
import type { MiniMonkey } from '../model';
import { DEFAULTS, SERVER_LIMITS } from '../limits';
import { isPresetName, PresetName, PRESET_NAMES } from '../msac/presets';
import { ApiError, badRequest, toApiError } from './api-error';
import { parseJson, readBody } from './body';
import { complete, CompletionWriter } from './completions';
import { pageAsset } from './page-assets';
import { pdfPageQuery, renderPdfPagePng } from './pdf-page';
import { parseChatRequest, RequestPolicy } from './request';
import { SlotPool } from './slots';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export interface ServeOptions {
  host?: string;
  port?: number;
  /** Conversations answered at once (default 1). */
  parallel?: number;
  /** When set, /v1 routes need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Requests waiting for a slot before 503 (default SERVER_LIMITS.maxWaiting, 16). */
  maxWaiting?: number;
  /** @deprecated the old name of `maxWaiting` ("queue" also names batch's BullMQ queue); kept for one minor version. */
  queue?: number;
  maxBodyBytes?: number;
  /** Body bytes held over all connections together (default SERVER_LIMITS.bodyBytesInFlight). */
  maxBodyBytesInFlight?: number;
  maxImageBytes?: number;
  maxTokens?: number;
  /** image_url may name a local file / an http(s) URL (default false: data: URLs only). */
  allowFiles?: boolean;
  allowUrls?: boolean;
  /** The id /v1/models lists (default 'minimonkey'; `minimonkey serve` uses the text model's file name or --alias). */
  modelName?: string;
  /**
   * What a request that does not send the `minimonkey` extension gets: the crop preset (default: the
   * family's) and SCM (default off). A standard OpenAI client cannot send the extension.
   */
  defaults?: { crop?: PresetName; scm?: boolean };
  /** One line per request (default: none). */
  log?: (line: string) => void;
}

export class MiniMonkeyServer {
  /** Each request being handled, with its abort. */
  private readonly inflight = new Map<AbortController, http.IncomingMessage>();
  private draining = false;
  // Totals over all connections: completion requests anywhere between their first byte and their
  // reply (reading, parsing, waiting for a slot, running), and the body bytes they hold.
  private admitted = 0;
  private bodyBytes = 0;
  // PDF pages being rendered and encoded (each holds up to PDF_LIMITS.maxPixels of RGBA).
  private renders = 0;

  private constructor(
    private readonly http: http.Server,
    private readonly pool: SlotPool,
    private readonly o: Required<Omit<ServeOptions, 'apiKey' | 'queue'>> & { apiKey?: string },
  ) {}

  /** Starts listening; resolves once the port is bound. */
  static async start(model: MiniMonkey, options: ServeOptions = {}): Promise<MiniMonkeyServer> {
    const o = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8080,
      parallel: options.parallel ?? DEFAULTS.parallel,
      maxWaiting: options.maxWaiting ?? options.queue ?? SERVER_LIMITS.maxWaiting.default,
      maxBodyBytes: options.maxBodyBytes ?? SERVER_LIMITS.bodyBytes.default,
      maxBodyBytesInFlight: options.maxBodyBytesInFlight ?? SERVER_LIMITS.bodyBytesInFlight.default,
      maxImageBytes: options.maxImageBytes ?? SERVER_LIMITS.imageBytes.default,
      maxTokens: options.maxTokens ?? SERVER_LIMITS.maxTokens.default,
      allowFiles: options.allowFiles ?? false,
      allowUrls: options.allowUrls ?? false,
      modelName: options.modelName ?? 'minimonkey',
      defaults: checkDefaults(options.defaults),
      log: options.log ?? (() => {}),
      apiKey: options.apiKey,
    };
    const pool = await SlotPool.create(model, o.parallel, o.maxWaiting, SERVER_LIMITS.retryAfter.default);
    const server = http.createServer();
    const self = new MiniMonkeyServer(server, pool, o);
    server.on('request', (req, res) => void self.handle(req, res));
    server.headersTimeout = 30_000;
    // Receiving the request is bounded (a client trickling its body holds nothing forever);
    // sending a long reply is not.
    server.requestTimeout = 120_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return self;
  }

  get address(): AddressInfo {
    return this.http.address() as AddressInfo;
  }

  get url(): string {
    const a = this.address;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /**
   * Stops taking requests, lets those in flight finish (up to `drainMs`, then aborts them) and
   * frees the slots' sessions. The model stays the caller's.
   */
  async close(drainMs: number = SERVER_LIMITS.drainMs.default): Promise<void> {
    this.draining = true;
    this.pool.close();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    // A request whose body has not all come has no work to finish: waiting on it would hold the
    // close until the client (or the 120 s request timeout) gives up.
    for (const req of this.inflight.values()) if (!req.complete) req.destroy();
    const deadline = Date.now() + drainMs;
    while (this.inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const c of this.inflight.keys()) c.abort();
    while (this.inflight.size > 0) await new Promise((r) => setTimeout(r, 20));
    this.http.closeAllConnections();
    await closed;
    for (const s of this.pool.slots) s.session.dispose();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const t0 = performance.now();
    const abort = new AbortController();
    // The client going away (before the response is complete) aborts its work and frees its slot.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    this.inflight.set(abort, req);
    let status = 500;
    let note = '';
    try {
      const r = await this.route(req, res, abort.signal);
      status = r.status;
      note = r.note ?? '';
    } catch (e) {
      const err = abort.signal.aborted && !this.draining ? new ApiError(499, 'invalid_request_error', 'the client closed the request', 'aborted') : toApiError(e);
      status = err.status;
      note = err.code ?? '';
      this.sendError(res, err);
    } finally {
      this.inflight.delete(abort);
    }
    const url = (req.url ?? '').split('?')[0];
    this.o.log(`${new Date().toISOString()} ${req.method} ${url} ${status} ${Math.round(performance.now() - t0)}ms${note ? ` ${note}` : ''}`);
  }

  private sendError(res: http.ServerResponse, err: ApiError): void {
    const w = (res as { sse?: CompletionWriter }).sse;
    if (w?.streaming) return void (res.writableEnded || res.destroyed ? undefined : w.fail(err.body()));
    if (res.headersSent || res.destroyed) return void res.destroy();
    sendJson(res, err.status, err.body(), err.headers);
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, signal: AbortSignal): Promise<{ status: number; note?: string }> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (this.draining) throw new ApiError(503, 'server_error', 'the server is shutting down', 'shutting_down', null, { Connection: 'close' });
    this.checkHost(req);
    if (req.method === 'GET' && (path === '/' || path.startsWith('/page/'))) {
      const asset = pageAsset(path === '/' ? 'index.html' : path.slice('/page/'.length));
      if (!asset) throw new ApiError(404, 'not_found_error', `no such page file: ${path}`, 'not_found');
      res.writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
      res.end(asset.body);
      return { status: 200 };
    }
    if (req.method === 'GET' && path === '/health') {
      sendJson(res, 200, { status: 'ok', slots: this.pool.slots.length, busy: this.pool.busy, queued: this.pool.queued });
      return { status: 200 };
    }
    if (!path.startsWith('/v1/')) throw new ApiError(404, 'not_found_error', `no route ${req.method} ${path}`, 'not_found');
    this.authorize(req);
    if (path === '/v1/models') {
      allow(req, 'GET');
      sendJson(res, 200, { object: 'list', data: [{ id: this.o.modelName, object: 'model', created: 0, owned_by: 'minimonkey' }] });
      return { status: 200 };
    }
    if (path === '/v1/minimonkey/presets') {
      allow(req, 'GET');
      sendJson(res, 200, { presets: PRESET_NAMES, default: this.o.defaults.crop ?? this.pool.model.family.defaultPreset, scm: this.o.defaults.scm ?? false });
      return { status: 200 };
    }
    if (path === '/v1/minimonkey/plan') {
      allow(req, 'GET');
      sendJson(res, 200, this.plan(url.searchParams));
      return { status: 200 };
    }
    if (path === '/v1/chat/completions') {
      allow(req, 'POST');
      return this.completions(req, res, signal);
    }
    if (path === '/v1/minimonkey/pdf') {
      allow(req, 'POST');
      return this.pdfPage(req, res, url.searchParams);
    }
    throw new ApiError(404, 'not_found_error', `no route ${req.method} ${path}`, 'not_found');
  }

  /**
   * On loopback, only requests addressed to a loopback name: a web page the user visits cannot
   * reach the server by pointing its own domain at 127.0.0.1 (DNS rebinding).
   */
  private checkHost(req: http.IncomingMessage): void {
    if (!LOOPBACK.has(this.o.host)) return;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (!LOOPBACK.has(host) && host !== '[::1]') {
      throw new ApiError(403, 'invalid_request_error', `this server on ${this.o.host} answers only requests to a loopback host (got Host: ${host || 'none'})`, 'forbidden_host');
    }
  }

  private authorize(req: http.IncomingMessage): void {
    if (this.o.apiKey === undefined) return;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    // Compared as hashes: equal length, constant time, whatever the client sent.
    const digest = (s: string) => createHash('sha256').update(s).digest();
    if (!m || !timingSafeEqual(digest(m[1].trim()), digest(this.o.apiKey))) {
      throw new ApiError(401, 'authentication_error', m ? 'incorrect API key' : 'missing API key: send Authorization: Bearer <key>', 'invalid_api_key', null, {
        'WWW-Authenticate': 'Bearer',
      });
    }
  }

  /** The crop plan of an image of this size (the page draws it before asking). */
  private plan(q: URLSearchParams): object {
    const int = (name: string) => {
      const v = Number(q.get(name));
      if (!Number.isInteger(v) || v < 1 || v > 1 << 20) throw badRequest(`${name} must be a positive integer`, name);
      return v;
    };
    const crop = q.get('crop') ?? 'default';
    if (!isPresetName(crop)) throw badRequest(`unknown crop preset '${crop}'`, 'crop');
    return this.pool.model.planCrops(int('width'), int('height'), crop);
  }

  private busy(message: string): ApiError {
    return new ApiError(503, 'overloaded_error', message, 'server_busy', null, { 'Retry-After': String(SERVER_LIMITS.retryAfter.default) });
  }

  private async completions(req: http.IncomingMessage, res: http.ServerResponse, signal: AbortSignal): Promise<{ status: number; note: string }> {
    // JSON only: a form or text/plain POST is what another site's page can send without asking
    // (no CORS preflight); application/json from another origin is preflighted, and refused.
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      throw new ApiError(415, 'invalid_request_error', 'send the body as Content-Type: application/json', 'unsupported_media_type');
    }
    // Work in the pipeline is bounded as a whole: past the slots and the queue, a request is told to
    // come back before any of its body is read (a burst of large bodies holds no memory).
    if (this.admitted >= this.pool.slots.length + this.o.maxWaiting) {
      req.resume();
      throw this.busy(`all ${this.pool.slots.length} slots are busy and ${this.o.maxWaiting} requests are waiting; retry later`);
    }
    this.admitted++;
    const held = { bytes: 0 };
    try {
      const body = parseJson(await this.body(req, held));
      const policy: RequestPolicy = {
        allowFiles: this.o.allowFiles, allowUrls: this.o.allowUrls, maxBytes: this.o.maxImageBytes,
        maxTotalBytes: SERVER_LIMITS.requestImageBytes.default, maxTokens: this.o.maxTokens, defaults: this.o.defaults,
      };
      const chat = await parseChatRequest(body, policy, signal);
      const writer = new CompletionWriter(res, chat, chat.model || this.o.modelName);
      (res as { sse?: CompletionWriter }).sse = writer;
      const c = await complete(this.pool, chat, signal, (piece) => {
        if (chat.stream && !res.destroyed) writer.piece(piece);
      }, chat.stream ? (p) => !res.destroyed && writer.progress(p) : undefined);
      if (chat.stream) writer.finish(c);
      else sendJson(res, 200, writer.whole(c));
      const t = c.result.tokens;
      const note = `${chat.stream ? 'stream ' : ''}slot=${c.slot} prompt=${c.prompt} (${c.image} image, ${c.cached} cached) completion=${t.generated} ${c.result.finishReason}`;
      return { status: 200, note };
    } finally {
      this.admitted--;
      this.bodyBytes -= held.bytes;
    }
  }

  /** A page of an uploaded PDF as PNG, with X-PDF-Pages / X-PDF-Page / X-PDF-DPI (the page's picker). */
  private async pdfPage(req: http.IncomingMessage, res: http.ServerResponse, q: URLSearchParams): Promise<{ status: number; note: string }> {
    // Not a CORS-safelisted type either: another site's page cannot post one without a preflight.
    if (!/^application\/pdf\b/i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      throw new ApiError(415, 'invalid_request_error', 'send the PDF as the body with Content-Type: application/pdf', 'unsupported_media_type');
    }
    const { page, crop } = pdfPageQuery(q, this.o.defaults.crop ?? this.pool.model.family.defaultPreset);
    if (this.renders >= SERVER_LIMITS.pdfRenders.default) {
      req.resume();
      throw this.busy(`${this.renders} PDF pages are being rendered (at most ${SERVER_LIMITS.pdfRenders.default} at once); retry later`);
    }
    this.renders++;
    const held = { bytes: 0 };
    try {
      const r = await renderPdfPagePng(await this.body(req, held), page, crop, this.o.maxImageBytes);
      res.writeHead(200, {
        'Content-Type': 'image/png', 'Content-Length': r.png.length, 'Cache-Control': 'no-store',
        'X-PDF-Pages': String(r.pages), 'X-PDF-Page': String(r.page), 'X-PDF-DPI': r.dpi.toFixed(1),
      });
      res.end(r.png);
      return { status: 200, note: `pdf page=${r.page}/${r.pages} ${r.width}x${r.height} dpi=${r.dpi.toFixed(1)} png=${r.png.length}` };
    } finally {
      this.renders--;
      this.bodyBytes -= held.bytes;
    }
  }

  /**
   * The request body within --max-body; its bytes count in the server-wide total (past it the
   * request is told to come back before they are kept) and in `held`, which the caller gives back
   * once its reply is made.
   */
  private body(req: http.IncomingMessage, held: { bytes: number }): Promise<Buffer> {
    return readBody(req, this.o.maxBodyBytes, (n) => {
      if (this.bodyBytes + n > this.o.maxBodyBytesInFlight) {
        throw this.busy(`the server holds ${this.bodyBytes} bytes of request bodies (at most ${this.o.maxBodyBytesInFlight} together); retry later`);
      }
      this.bodyBytes += n;
      held.bytes += n;
    });
  }
}

/** ServeOptions.defaults, checked: a preset name and a boolean. */
function checkDefaults(d: ServeOptions['defaults']): { crop?: PresetName; scm?: boolean } {
  if (d === undefined) return {};
  if (typeof d !== 'object' || d === null) throw new InvalidArgumentError('defaults must be {crop?, scm?}');
  if (d.crop !== undefined && !isPresetName(d.crop)) throw new InvalidArgumentError(`defaults.crop: unknown crop preset '${String(d.crop)}' (${PRESET_NAMES.join(', ')})`);
  if (d.scm !== undefined && typeof d.scm !== 'boolean') throw new InvalidArgumentError('defaults.scm must be a boolean');
  return { ...(d.crop !== undefined ? { crop: d.crop } : {}), ...(d.scm !== undefined ? { scm: d.scm } : {}) };
}

function allow(req: http.IncomingMessage, method: string): void {
  if (req.method !== method) throw new ApiError(405, 'invalid_request_error', `use ${method} for ${req.url}`, 'method_not_allowed', null, { Allow: method });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
