// `minimonkey serve` as curl sees it: OpenAI's error shape and status codes, the bearer key, the
// body, image and max_tokens limits, a full server's 503 with Retry-After, a bounded queue, a
// client that disconnects mid-stream (its slot is freed), and concurrent requests answered as
// each would be alone.
import { curl, openStream, pageImage, postJson, startServer, TestServer, waitHealth } from './helpers/server';

const hello = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 };
// A reply that runs until it is cut: greedy on the tiny pair (seed 4), this prompt goes on for
// 17,320 tokens (minutes), in a context large enough for them.
const LONG_PROMPT = 'Write a very long story about the sea';
const long = { messages: [{ role: 'user', content: LONG_PROMPT }], max_tokens: 60000 };

function expectError(r: { status: number; json(): any }, status: number, code: string, param?: string) {
  expect(r.status).toBe(status);
  const e = r.json().error;
  expect(typeof e.message).toBe('string');
  expect(e.code).toBe(code);
  expect(typeof e.type).toBe('string');
  if (param !== undefined) expect(e.param).toBe(param);
}

describe('errors, auth and limits', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ apiKey: 'sekrit', maxBodyBytes: 64 * 1024, maxImageBytes: 4 * 1024, maxTokens: 50 });
  });
  afterAll(() => srv?.close());
  const key = ['-H', 'Authorization: Bearer sekrit'];
  const api = () => `${srv.url}/v1/chat/completions`;

  it('binds to loopback by default', () => {
    expect(srv.server.address.address).toBe('127.0.0.1');
  });

  it('the bearer key: missing or wrong is 401 with WWW-Authenticate; right is 200; /health and the page need none', async () => {
    const none = await postJson(api(), hello);
    expectError(none, 401, 'invalid_api_key');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expectError(await postJson(api(), hello, ['-H', 'Authorization: Bearer wrong']), 401, 'invalid_api_key');
    expectError(await curl([`${srv.url}/v1/models`]), 401, 'invalid_api_key');
    const ok = await postJson(api(), hello, key);
    expect(ok.status).toBe(200);
    expect(ok.json().choices[0].message.content.length).toBeGreaterThan(0);
    expect((await curl([`${srv.url}/health`])).json()).toMatchObject({ status: 'ok', slots: 1, busy: 0, queued: 0 });
    const page = await curl([`${srv.url}/`]);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
  });

  it('error shapes: bad JSON 400, wrong method 405, unknown route 404, bad messages and parameters 400 naming the field', async () => {
    expectError(await curl(['-X', 'POST', ...key, '-H', 'Content-Type: application/json', '--data-binary', '{not json', api()]), 400, 'invalid_json');
    // What another site's page could send without a CORS preflight is refused.
    expectError(await curl(['-X', 'POST', ...key, '--data-binary', JSON.stringify(hello), api()]), 415, 'unsupported_media_type');
    expectError(await curl(['-X', 'POST', ...key, '-H', 'Content-Type: text/plain', '--data-binary', JSON.stringify(hello), api()]), 415, 'unsupported_media_type');
    // A rebound DNS name pointing at 127.0.0.1 is not a loopback host.
    expectError(await curl(['-H', 'Host: evil.example:80', `${srv.url}/health`]), 403, 'forbidden_host');
    expect((await curl(['-H', `Host: localhost:${srv.server.address.port}`, `${srv.url}/health`])).status).toBe(200);
    const get = await curl([...key, api()]);
    expectError(get, 405, 'method_not_allowed');
    expect(get.headers.allow).toBe('POST');
    expectError(await curl([...key, `${srv.url}/v1/embeddings`]), 404, 'not_found');
    expectError(await curl([`${srv.url}/nothing`]), 404, 'not_found');
    expectError(await postJson(api(), { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }, key), 400, 'invalid_value', 'messages');
    expectError(await postJson(api(), { messages: [{ role: 'tool', content: 'a' }] }, key), 400, 'invalid_value', 'messages[0].role');
    expectError(await postJson(api(), { ...hello, temperature: 5 }, key), 400, 'invalid_value', 'temperature');
    expectError(await postJson(api(), { ...hello, n: 2 }, key), 400, 'unsupported_parameter', 'n');
    expectError(await postJson(api(), { ...hello, minimonkey: { crop: 'huge' } }, key), 400, 'invalid_value', 'minimonkey.crop');
    // A library error keeps its code: scm.keep out of range is the library's INVALID_ARGUMENT.
    expectError(await postJson(api(), { ...hello, minimonkey: { scm: { keep: 3 } } }, key), 400, 'invalid_argument');
  });

  it('limits: body over --max-body is 413, an image over --max-image 400, max_tokens over the limit 400', async () => {
    const big = { ...hello, messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] };
    expectError(await postJson(api(), big, key), 413, 'request_too_large');
    const img = await pageImage(800, 600);
    expect(img.bytes.length).toBeGreaterThan(4 * 1024);
    const withImage = { ...hello, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: img.dataUrl } }] }] };
    expectError(await postJson(api(), withImage, key), 400, 'image_too_large', 'messages[0].content[0].image_url.url');
    expectError(await postJson(api(), { ...hello, max_tokens: 51 }, key), 400, 'invalid_value', 'max_tokens');
    const file = { ...hello, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: img.file } }] }] };
    expectError(await postJson(api(), file, key), 400, 'image_url_not_allowed');
    expect(srv.log.some((l) => / POST \/v1\/chat\/completions 413 \d+ms request_too_large$/.test(l))).toBe(true);
  });
});

describe('busy, queue and disconnects', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ parallel: 1, maxWaiting: 1, maxTokens: 60000 }, 65536);
  });
  afterAll(() => srv?.close());
  const api = () => `${srv.url}/v1/chat/completions`;

  it('one slot busy and one request queued: the next gets 503 with Retry-After; a disconnect mid-stream frees the slot for the queued one', async () => {
    const held = await openStream(srv.url, long);
    await waitHealth(srv.url, (h) => h.busy === 1);
    const queued = postJson(api(), hello); // waits for the slot
    await waitHealth(srv.url, (h) => h.queued === 1);
    const refused = await postJson(api(), hello);
    expectError(refused, 503, 'server_busy');
    expect(refused.headers['retry-after']).toBe('2');

    expect(held.received()).toContain('data: ');
    expect(held.received()).not.toContain('[DONE]'); // still generating when cut
    held.cut();
    const served = await queued;
    expect(served.status).toBe(200);
    expect(served.json().usage.completion_tokens).toBe(8);
    await waitHealth(srv.url, (h) => h.busy === 0 && h.queued === 0);
    // The cut request is logged as the client's doing, with how long it ran.
    expect(srv.log.some((l) => / POST \/v1\/chat\/completions 499 \d+ms aborted$/.test(l))).toBe(true);
  });

  it('a disconnect while queued leaves the queue; the slot then serves the next request as if nothing happened', async () => {
    const alone = (await postJson(api(), hello)).json().choices[0].message.content;
    const held = await openStream(srv.url, long);
    const waiting = await openStreamQueued(srv.url);
    await waitHealth(srv.url, (h) => h.busy === 1 && h.queued === 1);
    waiting.destroy();
    await waitHealth(srv.url, (h) => h.queued === 0);
    held.cut();
    await waitHealth(srv.url, (h) => h.busy === 0);
    const after = await postJson(api(), hello);
    expect(after.json().choices[0].message.content).toBe(alone);
  });
});

/** A request that will wait in the queue (it gets no bytes until then): its socket, to cut. */
function openStreamQueued(url: string) {
  const http = require('node:http') as typeof import('node:http');
  const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  req.on('error', () => {});
  req.end(JSON.stringify({ ...hello, stream: true }));
  return req;
}

describe('concurrency', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ parallel: 2, queue: 8, allowFiles: true });
  });
  afterAll(() => srv?.close());

  it('--allow-files: an absolute path is read as the image, answered as its data: URL is', async () => {
    const img = await pageImage(640, 480, 6);
    const ask = (url: string) => postJson(`${srv.url}/v1/chat/completions`, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'Total?' }] }], max_tokens: 6, minimonkey: { crop: 'fast' } });
    const byData = (await ask(img.dataUrl)).json();
    const byFile = (await ask(img.file)).json();
    expect(byFile.choices[0].message.content).toBe(byData.choices[0].message.content);
    expect(byFile.minimonkey.image_cache_hits).toBe(1); // the same bytes: the embedding cache across requests
    expectError(await ask(`${img.file}.missing`), 400, 'image_unreadable');
  });

  it('N concurrent requests (over 2 slots, the rest queued) each get the greedy answer they get alone', async () => {
    const img = await pageImage(640, 480, 5);
    const bodies = [
      { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 10 },
      { messages: [{ role: 'user', content: 'What is the date?' }], max_tokens: 10 },
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: img.dataUrl } }, { type: 'text', text: 'Total?' }] }], max_tokens: 10, minimonkey: { crop: 'fast' } },
      { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Who signed it?' }], max_tokens: 10 },
      { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 10, stream: true },
    ];
    const api = `${srv.url}/v1/chat/completions`;
    const text = (r: { body: string; json(): any }, stream: boolean) =>
      stream
        ? r.body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).choices[0]?.delta?.content ?? '').join('')
        : r.json().choices[0].message.content;
    const alone: string[] = [];
    for (const b of bodies) alone.push(text(await postJson(api, b), b.stream === true));
    expect(new Set(alone).size).toBeGreaterThan(2); // different questions, different answers
    const together = await Promise.all(bodies.map((b) => postJson(api, b)));
    expect(together.map((r) => r.status)).toEqual(bodies.map(() => 200));
    expect(together.map((r, i) => text(r, bodies[i].stream === true))).toEqual(alone);
    const slots = new Set(together.filter((_, i) => !bodies[i].stream).map((r) => r.json().minimonkey.slot));
    expect(slots).toEqual(new Set([0, 1]));
  });
});
