/// <reference lib="dom" />
// The page at `/` in a real headless Chromium: a drawn document page is uploaded, its MSAC crop
// plan is drawn over it, a question's answer streams in (the library's answer), and with SCM the
// heatmap shows exactly the detail tokens SCM kept.
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './helpers/chromium';
import { pageImage, startServer, TestServer } from './helpers/server';

let srv: TestServer;
let browser: BrowserContext;
let page: Page;
let img: Awaited<ReturnType<typeof pageImage>>;

beforeAll(async () => {
  srv = await startServer();
  img = await pageImage(800, 600);
  browser = await launchChromium();
  page = await browser.newPage();
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

/** RGBA of a canvas pixel, in the canvas's own (image) coordinates. */
const pixel = (id: string, x: number, y: number) =>
  page.evaluate(([id, x, y]) => Array.from((document.getElementById(id as string) as HTMLCanvasElement).getContext('2d')!.getImageData(x as number, y as number, 1, 1).data), [id, x, y]);

test('upload, crop plan, streamed answer, SCM heatmap', async () => {
  await page.goto(`${srv.url}/`);
  await page.waitForFunction(() => (document.getElementById('preset') as HTMLSelectElement).options.length > 0);
  await page.setInputFiles('#file', img.file);

  // The crop plan: the caption says the library's plan, and the detail cut lines are drawn red.
  const plan = srv.model.planCrops(800, 600, 'default');
  await page.waitForFunction(() => document.getElementById('plan')!.textContent!.includes('image tokens'));
  const caption = await page.textContent('#plan');
  expect(caption).toContain(`detail ${plan.detail.cols}x${plan.detail.rows}`);
  expect(caption).toContain(`${plan.tileCount} tiles, ${plan.imageTokens} image tokens`);
  expect(plan.detail.cols).toBeGreaterThan(1);
  const cutX = Math.round(800 / plan.detail.cols);
  // Away from every cut line (detail and adaptive): the middle of the widest gap between them.
  const free = (size: number, ns: number[]) => {
    const cuts = [0, size, ...ns.flatMap((n) => [...Array(n).keys()].map((k) => (k * size) / n))].sort((a, b) => a - b);
    let best = 0;
    for (let i = 1; i < cuts.length; i++) if (cuts[i] - cuts[i - 1] > cuts[best + 1] - cuts[best]) best = i - 1;
    return Math.round((cuts[best] + cuts[best + 1]) / 2);
  };
  const fx = free(800, [plan.detail.cols, plan.adaptive?.cols ?? 1]);
  const fy = free(600, [plan.detail.rows, plan.adaptive?.rows ?? 1]);
  expect(await pixel('plan-canvas', cutX, fy)).toEqual([230, 25, 75, 255]);
  expect((await pixel('plan-canvas', fx, fy))[3]).toBe(0); // nothing drawn between the lines

  // Ask with SCM: the answer streams in piece by piece and ends as the library's answer.
  const question = 'What is the total?';
  const lib = await (await srv.model.chat()).ask([{ type: 'image', image: img.bytes }, question], { crop: 'default', scm: true, maxTokens: 12 });
  await page.fill('#question', question);
  await page.fill('#max-tokens', '12');
  await page.check('#scm');
  await page.evaluate(() => {
    const w = window as unknown as { updates: number };
    w.updates = 0;
    new MutationObserver(() => w.updates++).observe(document.getElementById('answer')!, { childList: true, characterData: true, subtree: true });
  });
  await page.click('#send');
  await page.waitForFunction(() => document.getElementById('status')!.textContent === 'done', undefined, { timeout: 60_000 });
  expect(await page.textContent('#answer')).toBe(lib.text);
  expect(await page.evaluate(() => (window as unknown as { updates: number }).updates)).toBeGreaterThan(2);
  const timings = await page.textContent('#timings');
  // The library asked about the same image first: the encode came from the cache, and SCM's pre-pass is timed.
  expect(timings).toMatch(/total \d+ ms · first token \d+ ms · encode \d+ ms \(1 image from the cache\), SCM pre-pass \d+ ms, prefill \d+ ms, generate \d+ ms/);
  expect(timings).toContain(`SCM kept ${lib.scm!.detailKept} of ${lib.scm!.detailTokens} detail tokens`);

  // The heatmap: one cell per scored token; a kept token's square is coloured, a dropped one grey.
  expect(await page.isVisible('#heatmap')).toBe(true);
  expect(await page.getAttribute('#heatmap', 'data-cells')).toBe(String(lib.scm!.detailTokens));
  const block = lib.scm!.images[0];
  const kept = new Set(block.kept);
  const centre = (k: number) => {
    // detail tiles are row-major over the detail grid; 16x16 tokens a tile
    const tile = Math.floor(k / 256);
    const w = 800 / plan.detail.cols;
    const h = 600 / plan.detail.rows;
    const x = (tile % plan.detail.cols) * w + ((k % 256) % 16 + 0.5) * (w / 16);
    const y = Math.floor(tile / plan.detail.cols) * h + (Math.floor((k % 256) / 16) + 0.5) * (h / 16);
    return [Math.floor(x), Math.floor(y)];
  };
  const droppedK = [...Array(block.length).keys()].find((k) => !kept.has(k))!;
  const keptK = block.kept[0];
  const [dr, dg, db] = await pixel('heatmap', ...(centre(droppedK) as [number, number]));
  expect(dr === dg && dg === db).toBe(true); // grey
  const [kr, kg, kb] = await pixel('heatmap', ...(centre(keptK) as [number, number]));
  expect(kr === kg && kg === kb).toBe(false); // a colour
}, 120_000);

test('empty page, errors where the user looks, a follow-up question, the heatmap legend in the CLI colours, a preset change clears it', async () => {
  await page.goto(`${srv.url}/`);
  await page.waitForFunction(() => (document.getElementById('preset') as HTMLSelectElement).options.length > 0);
  // Nothing picked yet: no image box (its alt text showed before), no error.
  expect(await page.isVisible('#stage')).toBe(false);
  expect(await page.isVisible('#error')).toBe(false);
  await page.setInputFiles('#file', img.file);
  await page.waitForFunction(() => document.getElementById('plan')!.textContent!.includes('image tokens'));

  // A request the server refuses: the message is shown in the error box, not only in the header.
  await page.fill('#max-tokens', '999999999');
  await page.click('#send');
  await page.waitForSelector('#error', { state: 'visible' });
  expect(await page.textContent('#error')).toMatch(/max_tokens must be an integer from 1 to/);

  // Two turns in one conversation: each answer is the library's answer to the same conversation.
  const lib = await srv.model.chat();
  const first = await lib.ask([{ type: 'image', image: img.bytes }, 'What is the total?'], { crop: 'default', scm: true, maxTokens: 6 });
  const second = await lib.ask('And the date?', { crop: 'default', scm: true, maxTokens: 6 });
  lib.dispose();
  const askOnPage = async (q: string) => {
    await page.fill('#question', q);
    await page.fill('#max-tokens', '6');
    await page.evaluate(() => (document.getElementById('status')!.textContent = ''));
    await page.click('#send');
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'done', undefined, { timeout: 60_000 });
  };
  await page.check('#scm');
  await page.evaluate(() => {
    const w = window as unknown as { statuses: string[] };
    w.statuses = [];
    new MutationObserver(() => w.statuses.push(document.getElementById('status')!.textContent!)).observe(document.getElementById('status')!, { childList: true, characterData: true, subtree: true });
  });
  await askOnPage('What is the total?');
  expect(await page.isVisible('#error')).toBe(false);
  // While it worked, the page said what it was doing: the server's progress chunks, then the answer.
  const statuses = await page.evaluate(() => (window as unknown as { statuses: string[] }).statuses);
  expect(statuses).toEqual(expect.arrayContaining(['waiting for the model', 'answering', 'done']));
  expect(statuses.some((t) => /^encoding tile \d+ of \d+$/.test(t))).toBe(true);
  expect(statuses.some((t) => /^SCM pre-pass \d+%$/.test(t))).toBe(true);
  expect(statuses.some((t) => /^prefill \d+%$/.test(t))).toBe(true);
  expect(await page.textContent('#answer')).toBe(first.text);
  expect(await page.isVisible('#heatmap-legend')).toBe(true);

  // A kept token's square is the colour `ask --scm-heatmap` gives it (lib/llm/scm-heatmap.ts heatColour).
  const { heatColour } = await import('../lib/llm/scm-heatmap');
  const block = first.scm!.images[0];
  const top = Math.max(...block.scores);
  const plan = first.images[0];
  const k = block.kept[0];
  const tile = Math.floor(k / 256);
  const w = 800 / plan.detail.cols;
  const h = 600 / plan.detail.rows;
  const x = Math.floor((tile % plan.detail.cols) * w + (((k % 256) % 16) + 0.5) * (w / 16));
  const y = Math.floor(Math.floor(tile / plan.detail.cols) * h + (Math.floor((k % 256) / 16) + 0.5) * (h / 16));
  const [r, g, b] = await pixel('heatmap', x, y);
  const want = heatColour(block.scores[k] / top);
  for (let c = 0; c < 3; c++) expect(Math.abs([r, g, b][c] - want[c])).toBeLessThanOrEqual(3);

  await askOnPage('And the date?');
  expect(await page.textContent('#answer')).toBe(second.text);
  const turns = await page.$$eval('#history .turn', (els) => els.map((e) => [e.className, e.textContent]));
  expect(turns).toEqual([['turn user', 'What is the total?'], ['turn assistant', first.text]]);

  // Another preset: a new plan, and the old heatmap is no longer drawn over it.
  await page.selectOption('#preset', 'fast');
  await page.waitForFunction(() => document.getElementById('heatmap')!.hidden);
  expect(await page.isVisible('#heatmap-legend')).toBe(false);

  // A new conversation forgets the turns.
  await page.click('#new-chat');
  expect(await page.$$('#history .turn')).toHaveLength(0);
}, 180_000);
