// The server's bounds hold in total, not only per request (issue 26, finding 7), on real loopback
// sockets: clients that withhold the last bytes of their bodies cannot make it hold more than
// maxBodyBytesInFlight, nor more requests than its slots and queue; with --allow-files a request's
// images are counted and sized before any is read; a malformed data: or file: URL is a 400 naming it.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './helpers/models';
import { curl, postJson, startServer, TestServer } from './helpers/server';

/** A POST whose body is sent but for its last byte: the server holds what it has read. */
function withhold(url: string, bodyBytes: number): { socket: net.Socket; reply: Promise<string>; finish(): void } {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  socket.setNoDelay(true);
  const body = Buffer.alloc(bodyBytes, 0x20); // spaces: what arrives is not JSON until the end
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
  socket.write(body.subarray(0, bodyBytes - 1));
  let got = '';
  const reply = new Promise<string>((resolve) => {
    socket.on('data', (d) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', () => resolve(got));
    // A reply may come while the body is still open (a refusal): it is whole once its headers and body arrived.
    socket.on('data', () => {
      if (/\r\n\r\n[\s\S]*\}\s*$/.test(got)) resolve(got);
    });
  });
  return { socket, reply, finish: () => socket.end('x') };
}

const status = (raw: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1]);
const code = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error.code;
const tick = () => new Promise((r) => setTimeout(r, 200));

describe('bounds over all connections', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ parallel: 1, queue: 2, maxBodyBytes: 200 * 1024, maxBodyBytesInFlight: 256 * 1024 });
  });
  afterAll(() => srv?.close());

  it('a body that would take the bytes held past maxBodyBytesInFlight is 503 with Retry-After at once; held bytes are given back', async () => {
    const a = withhold(srv.url, 150 * 1024);
    await tick();
    const b = withhold(srv.url, 150 * 1024); // 300 KiB together: refused before it is kept
    const refused = await b.reply;
    expect(status(refused)).toBe(503);
    expect(code(refused)).toBe('server_busy');
    expect(refused).toMatch(/\r\nRetry-After: \d+\r\n/i);
    b.socket.destroy();
    // The server still answers while a body is withheld.
    expect((await curl([`${srv.url}/health`])).status).toBe(200);
    a.finish(); // 150 KiB of spaces and an x: not JSON
    expect(code(await a.reply)).toBe('invalid_json');
    a.socket.destroy();
    // Its bytes were given back: the same body is read now (and is a 400, not a 503).
    const c = withhold(srv.url, 150 * 1024);
    await tick();
    c.finish();
    expect(code(await c.reply)).toBe('invalid_json');
    c.socket.destroy();
  });

  it('past the slots and the queue, a request is 503 before its body is read, whatever its size', async () => {
    const held = [withhold(srv.url, 1024), withhold(srv.url, 1024), withhold(srv.url, 1024)]; // one slot + a queue of 2
    await tick();
    const extra = withhold(srv.url, 1024);
    const refused = await extra.reply;
    expect(status(refused)).toBe(503);
    expect(code(refused)).toBe('server_busy');
    extra.socket.destroy();
    for (const h of held) h.socket.destroy();
    await tick();
    // Closed connections are no longer counted: a real request is answered.
    const ok = await postJson(`${srv.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 2 });
    expect(ok.status).toBe(200);
  });
});

describe('images of one request, with --allow-files', () => {
  let srv: TestServer;
  let big: string;
  beforeAll(async () => {
    srv = await startServer({ allowFiles: true });
    // 9 MiB, under the one-image limit (20 MiB); eight of them (72 MiB) pass the request's 64 MiB.
    big = path.join(fs.mkdtempSync(path.join(tempDir(), 'totals-')), 'big scan.png');
    fs.writeFileSync(big, Buffer.alloc(9 * 1024 * 1024, 1));
  });
  afterAll(() => srv?.close());
  const ask = (urls: string[]) => postJson(`${srv.url}/v1/chat/completions`, {
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Total?' }, ...urls.map((url) => ({ type: 'image_url', image_url: { url } }))] }],
    max_tokens: 2,
  });

  it('one file named 300 times is one 400 for the count, before any is read', async () => {
    const r = await ask(Array(300).fill(big));
    expect(r.status).toBe(400);
    expect(r.json().error.message).toMatch(/at most 8 images per request \(got 300\)/);
  });

  it('eight large files together are images_too_large by their sizes, before any is read', async () => {
    const r = await ask(Array(8).fill(big));
    expect(r.status).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'images_too_large', param: 'messages[0].content[8].image_url.url' });
  });

  it('a data: URL of broken percent-encoding and a file: URL of another host are 400s naming the part', async () => {
    const bad = await ask(['data:image/png,%E0%A4%A']);
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'invalid_image_url', param: 'messages[0].content[1].image_url.url' });
    const remote = await ask(['file://fileserver/share/scan.png']);
    expect(remote.status).toBe(400);
    expect(remote.json().error).toMatchObject({ code: 'image_unreadable', param: 'messages[0].content[1].image_url.url' });
  });
});

describe('close while a body is withheld', () => {
  it('does not wait for a body that has not all come: the close is prompt and the client is hung up on', async () => {
    const srv = await startServer({});
    const held = withhold(srv.url, 1024);
    await tick();
    const t0 = Date.now();
    await srv.close(); // drains up to 2 s: before, it waited past that, for the request timeout (120 s)
    expect(Date.now() - t0).toBeLessThan(1500);
    await held.reply; // the socket was closed by the server
    expect(held.socket.destroyed || held.socket.readableEnded).toBe(true);
  });
});
