/// <reference lib="dom" />
// PDFs on the page: POST /v1/minimonkey/pdf renders one page of an uploaded PDF as a PNG (the
// library's own renderer, at the dpi the crop preset gets in ask), and the page's picker chooses the
// page, shows it, and asks about it as about an uploaded image. Driven over plain HTTP and in a real
// headless Chromium; the PDFs are made by pdf-lib (a 3-page one of three page sizes, a truncated one,
// and one encrypted by qpdf).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import type { BrowserContext, Page } from 'playwright-core';
import { renderPdfPage } from '../lib';
import { SERVER_LIMITS } from '../lib/limits';
import { launchChromium } from './helpers/chromium';
import { tempDir } from './helpers/models';
import { encryptPdf, makePdf } from './helpers/pdfs';
import { startServer, TestServer } from './helpers/server';

const MAX_BODY = 2 * 1024 * 1024;
const IN_FLIGHT = 3 * 1024 * 1024;
// Three page sizes, so which page is shown can be told by its size alone.
const PAGES = [
  { size: [612, 792] as [number, number], text: ['INVOICE 2024-117', 'Total due: 1,234.50 EUR'], shapes: true },
  { size: [595, 420] as [number, number], text: ['Page two: the figures'], shapes: true },
  { size: [420, 595] as [number, number], text: ['Page three'] },
];

let srv: TestServer;
let dir: string;
let pdfBytes: Uint8Array;
const files = { good: '', broken: '', locked: '' };

beforeAll(async () => {
  srv = await startServer({ maxBodyBytes: MAX_BODY, maxBodyBytesInFlight: IN_FLIGHT });
  dir = fs.mkdtempSync(path.join(tempDir(), 'page-pdf-'));
  pdfBytes = await makePdf(PAGES);
  files.good = path.join(dir, 'three-pages.pdf');
  fs.writeFileSync(files.good, pdfBytes);
  files.broken = path.join(dir, 'broken.pdf');
  fs.writeFileSync(files.broken, pdfBytes.subarray(0, 1200)); // a PDF header, then cut off
  files.locked = path.join(dir, 'locked.pdf');
  encryptPdf(files.good, files.locked, 'sesame');
});
afterAll(() => srv?.close());

const pdfUrl = (query = '') => `${srv.url}/v1/minimonkey/pdf${query}`;
const postPdf = (query: string, body: Uint8Array | string, type = 'application/pdf') =>
  fetch(pdfUrl(query), { method: 'POST', headers: type ? { 'Content-Type': type } : {}, body: typeof body === 'string' ? body : new Uint8Array(body) });

async function expectError(res: Response, status: number, code: string, param: string | null = null): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const { error } = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string } };
  expect(error).toEqual({ message: expect.any(String), type: expect.any(String), param, code });
  return error.message;
}

describe('POST /v1/minimonkey/pdf', () => {
  it('answers the page as PNG: the pixels, size and dpi of the library render for the preset, with the page count and page in headers', async () => {
    const res = await postPdf('?page=2', pdfBytes);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const lib = await renderPdfPage(pdfBytes, 2, { crop: 'default' });
    expect(res.headers.get('x-pdf-pages')).toBe('3');
    expect(res.headers.get('x-pdf-page')).toBe('2');
    expect(res.headers.get('x-pdf-dpi')).toBe(lib.dpi.toFixed(1));
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([lib.width, lib.height, 3]);
    const rgb = Buffer.alloc(lib.width * lib.height * 3);
    for (let i = 0, j = 0; i < lib.data.length; i += 4, j += 3) rgb.set(lib.data.subarray(i, i + 3), j);
    expect(Buffer.compare(data, rgb)).toBe(0);
    // The crop preset decides the dpi, as in ask(); no page means page 1.
    const fast = await postPdf('?crop=fast', pdfBytes);
    expect(fast.headers.get('x-pdf-page')).toBe('1');
    expect(fast.headers.get('x-pdf-dpi')).toBe((await renderPdfPage(pdfBytes, 1, { crop: 'fast' })).dpi.toFixed(1));
    expect(srv.log.some((l) => / POST \/v1\/minimonkey\/pdf 200 \d+ms pdf page=2\/3 /.test(l))).toBe(true);
  });

  it('refuses what is not a PDF body: 415 without application/pdf, 405 for GET', async () => {
    await expectError(await postPdf('?page=1', pdfBytes, ''), 415, 'unsupported_media_type');
    await expectError(await postPdf('?page=1', pdfBytes, 'application/json'), 415, 'unsupported_media_type');
    // a form post (what another site's page can send without a preflight)
    await expectError(await postPdf('?page=1', pdfBytes, 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
    const get = await fetch(pdfUrl('?page=1'));
    await expectError(get, 405, 'method_not_allowed');
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('413 past the body limit, as the JSON endpoints', async () => {
    const big = new Uint8Array(MAX_BODY + 1);
    big.set(pdfBytes.subarray(0, 1024));
    const msg = await expectError(await postPdf('?page=1', big), 413, 'request_too_large');
    expect(msg).toContain(String(MAX_BODY));
  });

  it('400 for a bad page or crop (naming the parameter), a page past the end (with X-PDF-Pages), a corrupt, empty or encrypted PDF', async () => {
    for (const q of ['?page=0', '?page=abc', '?page=1.5', '?page=-1', `?page=${1e9}`]) await expectError(await postPdf(q, pdfBytes), 400, 'invalid_value', 'page');
    await expectError(await postPdf('?page=1&crop=huge', pdfBytes), 400, 'invalid_value', 'crop');
    const past = await postPdf('?page=4', pdfBytes);
    expect(past.headers.get('x-pdf-pages')).toBe('3');
    expect(await expectError(past, 400, 'pdf_page_range', 'page')).toMatch(/has 3 pages: no page 4/);
    expect(await expectError(await postPdf('?page=1', fs.readFileSync(files.broken)), 400, 'pdf_corrupt')).toMatch(/corrupt/);
    await expectError(await postPdf('?page=1', 'hello, not a PDF'), 400, 'pdf_corrupt');
    await expectError(await postPdf('?page=1', new Uint8Array(0)), 400, 'pdf_empty');
    expect(await expectError(await postPdf('?page=1', fs.readFileSync(files.locked)), 400, 'pdf_encrypted')).toMatch(/encrypted/);
  });

  it('a PDF body counts in the body bytes held over all connections, as a JSON body does, and is given back', async () => {
    const json = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(1536 * 1024) }] }); // 1.5 MiB
    const chat = () => fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: json.slice(0, -1) });
    const req = http.request(pdfUrl('?page=1'), { method: 'POST', agent: false, headers: { 'Content-Type': 'application/pdf', 'Content-Length': MAX_BODY } });
    const done = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => (res.resume(), res.on('end', () => resolve(res.statusCode!))));
      req.on('error', reject);
    });
    req.write(pdfBytes.subarray(0, 100));
    // 2 MiB held by the PDF + 1.5 MiB is past the 3 MiB total (the JSON alone is an invalid_json 400).
    let refused = await chat();
    for (const end = Date.now() + 10_000; refused.status !== 503 && Date.now() < end; refused = await chat()) await refused.arrayBuffer();
    await expectError(refused, 503, 'server_busy');
    req.end(Buffer.alloc(MAX_BODY - 100));
    expect(await done).toBe(400); // a PDF header, then zeros: corrupt
    await expectError(await chat(), 400, 'invalid_json');
  });

  it(`503 with Retry-After past ${SERVER_LIMITS.pdfRenders.default} renders at once, before the body is read; the held ones then finish`, async () => {
    // Requests whose bodies are still arriving hold their render places: deterministic, no race.
    // Each on a socket of its own (agent: false): a kept-alive one the server has since closed would fail silently.
    const held = Array.from({ length: SERVER_LIMITS.pdfRenders.default }, () => {
      let answer!: Promise<{ status: number; page: string | undefined }>;
      const req = http.request(pdfUrl('?page=3'), { method: 'POST', agent: false, headers: { 'Content-Type': 'application/pdf', 'Content-Length': pdfBytes.length } });
      answer = new Promise((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, page: res.headers['x-pdf-page'] as string | undefined }));
        });
        req.on('error', reject);
      });
      req.write(pdfBytes.subarray(0, 100));
      return { req, answer };
    });
    // A held request counts once the server has its headers: give them time to arrive before the
    // one that is refused (sent at once, it could overtake them and a held one be refused instead).
    await new Promise((r) => setTimeout(r, 500));
    let busy = await postPdf('?page=1', pdfBytes);
    for (const end = Date.now() + 10_000; busy.status === 200 && Date.now() < end; busy = await postPdf('?page=1', pdfBytes)) await busy.arrayBuffer();
    expect(busy.headers.get('retry-after')).toBe(String(SERVER_LIMITS.retryAfter.default));
    await expectError(busy, 503, 'server_busy');
    const pending = Symbol('pending');
    for (const h of held) expect(await Promise.race([h.answer, new Promise((r) => setImmediate(() => r(pending)))])).toBe(pending);
    for (const h of held) h.req.end(pdfBytes.subarray(100));
    for (const h of held) expect(await h.answer).toEqual({ status: 200, page: '3' });
    expect((await postPdf('?page=1', pdfBytes)).status).toBe(200);
  });
});

describe('the page: PDF upload and page picker', () => {
  let browser: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(() => browser?.close());

  const shown = () => page.evaluate(() => {
    const img = document.getElementById('image') as HTMLImageElement;
    return { width: img.naturalWidth, height: img.naturalHeight, stage: !document.getElementById('stage')!.hidden };
  });
  const askOnPage = async (q: string, maxTokens: number) => {
    await page.fill('#question', q);
    await page.fill('#max-tokens', String(maxTokens));
    await page.click('#send');
    await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status')!.textContent!), undefined, { timeout: 60_000 });
  };
  const choosePage = async (n: number) => {
    await page.fill('#pdf-page', String(n));
    await page.press('#pdf-page', 'Tab'); // commits the value: the change event
  };

  test('a 3-page PDF: the picker offers 3 pages, page 2 is rendered and asked about, as the library asks about page 2', async () => {
    await page.goto(`${srv.url}/`);
    await page.waitForFunction(() => (document.getElementById('preset') as HTMLSelectElement).options.length > 0);
    expect(await page.getAttribute('#file', 'accept')).toContain('application/pdf');
    expect(await page.isVisible('#pdf-picker')).toBe(false);
    await page.setInputFiles('#file', files.good);
    await page.waitForSelector('#pdf-picker', { state: 'visible' });
    expect(await page.textContent('#pdf-pages')).toBe('3');
    expect(await page.getAttribute('#pdf-page', 'max')).toBe('3');
    expect(await page.inputValue('#pdf-page')).toBe('1');
    const p1 = await renderPdfPage(pdfBytes, 1, { crop: 'default' });
    await page.waitForFunction(() => document.getElementById('plan')!.textContent!.includes('image tokens'));
    expect(await shown()).toEqual({ width: p1.width, height: p1.height, stage: true });
    expect(await page.textContent('#plan')).toMatch(new RegExp(`^${p1.width}x${p1.height}: `));

    // Page 2: the server is asked for page 2, and the page shows it (its own size) with its plan.
    const p2 = await renderPdfPage(pdfBytes, 2, { crop: 'default' });
    const reply = page.waitForResponse((r) => r.url().includes('/v1/minimonkey/pdf'));
    await choosePage(2);
    const r = await reply;
    expect(new URL(r.url()).searchParams.get('page')).toBe('2');
    expect(r.headers()['x-pdf-page']).toBe('2');
    await page.waitForFunction((w) => document.getElementById('plan')!.textContent!.startsWith(`${w}x`), p2.width);
    expect(await shown()).toEqual({ width: p2.width, height: p2.height, stage: true });
    expect(await page.isVisible('#error')).toBe(false);

    // Asked with SCM: the answer is the library's to page 2 of the PDF (same pixels, same plan).
    const question = 'What is on this page?';
    const session = await srv.model.chat();
    const lib = await session.ask([{ type: 'image', image: { pdf: pdfBytes, page: 2 } }, question], { crop: 'default', scm: true, maxTokens: 8 });
    session.dispose();
    await page.check('#scm');
    await askOnPage(question, 8);
    expect(await page.isVisible('#error')).toBe(false);
    expect(await page.textContent('#answer')).toBe(lib.text);
    expect(lib.text.length).toBeGreaterThan(0);
    expect(await page.isVisible('#heatmap')).toBe(true);

    // A page past the end: the error box says so, the picker goes back to the page shown, which stays.
    await choosePage(7);
    await page.waitForSelector('#error', { state: 'visible' });
    expect(await page.textContent('#error')).toMatch(/three-pages\.pdf: .*has 3 pages: no page 7/);
    expect(await page.inputValue('#pdf-page')).toBe('2');
    expect(await shown()).toEqual({ width: p2.width, height: p2.height, stage: true });
  }, 120_000);

  test('a new file clears the old page, plan and heatmap; a corrupt or encrypted PDF shows in the error box', async () => {
    // (continues from the page the previous test left: page 2 asked about, its heatmap drawn)
    expect(await page.isVisible('#heatmap')).toBe(true);
    await page.setInputFiles('#file', files.broken);
    await page.waitForSelector('#error', { state: 'visible' });
    expect(await page.textContent('#error')).toMatch(/^broken\.pdf: .*corrupt/);
    expect(await page.isVisible('#stage')).toBe(false);
    expect(await page.isVisible('#heatmap')).toBe(false);
    expect(await page.isVisible('#pdf-picker')).toBe(false);
    expect(await page.isVisible('#legend')).toBe(false);
    expect(await page.textContent('#plan')).toBe('');
    expect(await page.textContent('#answer')).toBe('');
    expect(await page.isVisible('#drop-hint')).toBe(true);

    await page.setInputFiles('#file', files.locked);
    await page.waitForFunction(() => /^locked\.pdf: .*encrypted/.test(document.getElementById('error')!.textContent!));
    expect(await page.isVisible('#stage')).toBe(false);

    // A good one after them: the error goes, the picker is back at page 1.
    await page.setInputFiles('#file', files.good);
    await page.waitForSelector('#pdf-picker', { state: 'visible' });
    expect(await page.isVisible('#error')).toBe(false);
    expect(await page.inputValue('#pdf-page')).toBe('1');
    // And a file that is neither an image nor a PDF is refused by name.
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.waitForFunction(() => document.getElementById('error')!.textContent === 'notes.txt is not an image or a PDF');
    expect(await page.isVisible('#pdf-picker')).toBe(false);
  }, 60_000);
});
