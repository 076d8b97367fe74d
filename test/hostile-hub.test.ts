// A hostile or broken hub against `pullModel` (issue 26, finding 8), on loopback: a file listing
// whose `Link: rel="next"` points back at itself, a listing of many pages (no abort listener left
// behind per page), names with a NUL, backslashes, a drive letter, a Windows device name or a
// trailing dot, endless or 100 MB answers, a hub that never answers, one that trickles a byte at a
// time, and one that stalls mid-file. Each ends in a typed DOWNLOAD error within the timeouts given
// or the byte bound, not after undici's 300 s or never.
import { getEventListeners } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pullModel } from '../lib';
import { badRepoPath } from '../lib/hub/repo-path';
import { HubServer } from './helpers/hub-server';
import { tempDir } from './helpers/models';

const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const REPO = 'evil/repo';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, u: URL) => void;

/** A hub that answers model info normally and hands everything else to `route`. */
async function evilHub(route: Handler, info?: Handler): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const held = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(u.pathname + u.search);
    held.add(res);
    res.on('close', () => held.delete(res));
    if (u.pathname.startsWith(`/api/models/${REPO}/revision/`)) {
      if (info) return info(req, res, u);
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Repo-Commit': COMMIT });
      res.end(JSON.stringify({ _id: 'x', id: REPO, private: false, gated: false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z', sha: COMMIT, siblings: [] }));
      return;
    }
    route(req, res, u);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    async close() {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const tree = (res: http.ServerResponse, items: unknown[], next?: string) => {
  res.writeHead(200, { 'Content-Type': 'application/json', ...(next ? { Link: `<${next}>; rel="next"` } : {}) });
  res.end(JSON.stringify(items));
};
const file = (p: string) => ({ type: 'file', oid: '0'.repeat(40), size: 10, path: p });

let n = 0;
const freshHome = () => fs.mkdtempSync(path.join(tempDir(), `hostile-hub-${++n}-`));

async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  const e = await p.then(() => undefined, (err: Error) => err);
  expect(e).toBeDefined();
  return e as Error & { code?: string };
}

describe('a hostile hub listing', () => {
  it('a Link: rel="next" back to the same page is refused before it is fetched again, not followed forever', async () => {
    const hub = await evilHub((req, res, u) => tree(res, [file('README.md')], `http://${req.headers.host}${u.pathname}${u.search}`));
    try {
      const t0 = Date.now();
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home: freshHome() }));
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/links back to a page it already sent/);
      // The second fetch of the same URL is refused before it is sent.
      expect(hub.requests.filter((r) => r.includes('/tree/')).length).toBe(1);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await hub.close();
    }
  });

  it('a listing of 200 pages, all read, leaves no abort listener on the caller\'s signal and no MaxListeners warning', async () => {
    const hub = await evilHub((req, res, u) => {
      const page = Number(u.searchParams.get('cursor') ?? 0);
      const next = new URL(`http://${req.headers.host}${u.pathname}${u.search}`);
      next.searchParams.set('cursor', String(page + 1));
      tree(res, [file(`notes/${page}.txt`)], page < 199 ? next.href : undefined);
    });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const ctl = new AbortController();
    try {
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home: freshHome(), signal: ctl.signal }));
      // All 200 pages were listed; then the plan refuses a repo with neither GGUFs nor a checkpoint.
      expect(e.code).toBe('UNSUPPORTED');
      expect(hub.requests.filter((r) => r.includes('/tree/')).length).toBe(200);
      expect(getEventListeners(ctl.signal, 'abort').length).toBe(0);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await hub.close();
    }
  });

  it.each([
    ['a NUL', 'model\u0000.gguf'],
    ['backslashes', '..\\..\\x.gguf'],
    ['a drive letter', 'C:x.gguf'],
    ['a UNC path', '\\\\server\\share\\x.gguf'],
    ['an absolute path', '/etc/x.gguf'],
    ['a .. part', 'a/../../x.gguf'],
  ])('a file name with %s is refused with DOWNLOAD before anything is written', async (_what, name) => {
    const hub = await evilHub((_req, res) => tree(res, [file(name), file('mmproj-x-f16.gguf')]));
    const home = freshHome();
    try {
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home }));
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/bad file name/);
      expect(fs.readdirSync(home)).toEqual([]);
      expect(hub.requests.some((r) => r.includes('/resolve/'))).toBe(false);
    } finally {
      await hub.close();
    }
  });

  it.each([
    ['a device name', 'CON'],
    ['a device name in lower case with an extension', 'con.txt'],
    ['a device name in mixed case', 'Aux'],
    ['a device name with two extensions', 'nul.tar.gz'],
    ['a COM port', 'COM1.gguf'],
    ['an LPT port', 'lpt9'],
    ['a COM port with a superscript digit', 'COM\u00b9'],
    ['a device name as a folder', 'prn/x.gguf'],
    ['a trailing dot', 'x.gguf.'],
    ['a trailing space', 'x.gguf '],
    ['a dotted folder with a trailing space (Windows reads ..)', '.. /x.gguf'],
    ['a part of 256 bytes', `${'a'.repeat(251)}.gguf`],
    ['a part of 256 bytes in two-byte letters', `${'\u00e9'.repeat(128)}`],
  ])('a name Windows cannot hold (%s) is refused on every OS with DOWNLOAD naming it, before anything is written', async (_what, name) => {
    const hub = await evilHub((_req, res) => tree(res, [file('mmproj-x-f16.gguf'), file(name), file('x-q4_k_m.gguf')]));
    const home = freshHome();
    try {
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home }));
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toContain(`bad file name ${JSON.stringify(name)}`);
      expect(fs.readdirSync(home)).toEqual([]);
      expect(hub.requests.some((r) => r.includes('/resolve/'))).toBe(false);
    } finally {
      await hub.close();
    }
  });

  it('names near the Windows device names and of 255 bytes pass', () => {
    const ok = ['console.txt', 'auxiliary.json', 'nullable.py', 'com10', 'lpt', 'COM0x', 'conf/con_fig.json', 'x/.hidden', `${'a'.repeat(250)}.gguf`, '\u00e9'.repeat(127), 'a b/c d.txt'];
    for (const name of ok) expect([name, badRepoPath(name)]).toEqual([name, undefined]);
  });

  it('the path check refuses every separator a supported OS uses, and passes ordinary names', () => {
    for (const bad of ['a\\b', 'C:x', 'c:/x', 'x:stream', '\\\\s\\x', 'a\u0000b', 'a\nb', '', '.', 'a//b', '/x']) expect(badRepoPath(bad)).toBeDefined();
    for (const ok of ['model.gguf', 'a/b/c.safetensors', 'mmproj-x-f16.gguf', 'dir.with.dots/x', 'ünïcode/名前.txt']) expect(badRepoPath(ok)).toBeUndefined();
  });
});

/**
 * Streams `head` and then copies of `chunk` as fast as the client reads (backpressure respected),
 * until the client goes away or `limit` bytes (a safety bound: the code before the cap read on).
 * `sent()` is the bytes handed to the socket.
 */
function flood(res: http.ServerResponse, head: string, chunk: string, limit = 64 * 1024 * 1024): void {
  const block = Buffer.from(chunk.repeat(Math.ceil(65536 / chunk.length)));
  let closed = false;
  res.on('close', () => (closed = true));
  const more = () => {
    while (!closed) {
      if (flooded >= limit) return void res.destroy();
      flooded += block.length;
      if (!res.write(block)) return void res.once('drain', more);
    }
  };
  res.write(head);
  more();
}
let flooded = 0;

const MAX_ANSWER = 16 * 1024 * 1024;
const entry = JSON.stringify(file('notes/a-file-in-an-endless-listing.txt'));

describe('hub answers bounded in bytes (HUB_LIMITS.answerBytes)', () => {
  beforeEach(() => (flooded = 0));

  it('an endless listing page (no Content-Length) fails at 16 MiB with DOWNLOAD naming the limit, read as it streams', async () => {
    const hub = await evilHub((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      flood(res, '[', `${entry},`);
    });
    try {
      const t0 = Date.now();
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home: freshHome() }));
      const took = Date.now() - t0;
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/the hub's file listing page is larger than 16777216 bytes \(HUB_LIMITS\.answerBytes\)/);
      expect(took).toBeLessThan(5000);
      // Refused at the bound: the hub got to send the 16 MiB and what the sockets buffer, no more.
      expect(flooded).toBeGreaterThan(MAX_ANSWER);
      expect(flooded).toBeLessThan(MAX_ANSWER + 8 * 1024 * 1024);
    } finally {
      await hub.close();
    }
  });

  it('a 100 MB listing page that says its Content-Length is refused before its body is read', async () => {
    const hub = await evilHub((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(100_000_000) });
      flood(res, '[', `${entry},`, 100_000_000);
    });
    try {
      const t0 = Date.now();
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home: freshHome() }));
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/file listing page is larger than 16777216 bytes \(HUB_LIMITS\.answerBytes\)/);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(flooded).toBeLessThan(MAX_ANSWER);
    } finally {
      await hub.close();
    }
  });

  it('an endless model info answer and an endless error body are bounded the same way', async () => {
    const info = await evilHub(
      () => undefined,
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        flood(res, '{"sha":"', 'a');
      },
    );
    try {
      const e = await failure(pullModel({ repo: REPO, endpoint: info.url, home: freshHome() }));
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/the hub's model info is larger than 16777216 bytes/);
    } finally {
      await info.close();
    }
    flooded = 0;
    const failing = await evilHub((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      flood(res, '', 'Internal Server Error ');
    });
    try {
      const e = await failure(pullModel({ repo: REPO, endpoint: failing.url, home: freshHome() }));
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/the hub's error body \(500\) is larger than 16777216 bytes/);
      expect(flooded).toBeLessThan(MAX_ANSWER + 8 * 1024 * 1024);
    } finally {
      await failing.close();
    }
  });
});

describe('hub timeouts', () => {
  it('a hub that accepts and never answers fails after timeouts.responseMs', async () => {
    const hub = await evilHub(() => {
      /* never answers */
    });
    try {
      const t0 = Date.now();
      // model info answers; the listing never does.
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home: freshHome(), timeouts: { responseMs: 300 } }));
      const took = Date.now() - t0;
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/did not answer within 300 ms \(timeouts\.responseMs\)/);
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(5000);
    } finally {
      await hub.close();
    }
  });

  it('a hub that trickles its listing a byte at a time fails after timeouts.idleMs', async () => {
    const hub = await evilHub((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('[');
      const t = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(t));
    });
    try {
      const t0 = Date.now();
      const e = await failure(pullModel({ repo: REPO, endpoint: hub.url, home: freshHome(), timeouts: { idleMs: 400 } }));
      const took = Date.now() - t0;
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/sent under \d+ bytes in 400 ms \(timeouts\.idleMs\)/);
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(5000);
    } finally {
      await hub.close();
    }
  });

  it('a file download that stalls mid-body fails after timeouts.idleMs with DOWNLOAD, and the bytes so far stay to resume', async () => {
    const hub = await HubServer.start();
    // Each try gets 50,000 bytes more, then stalls: five tries cannot finish 400,000.
    const bytes = Buffer.alloc(400_000, 7);
    hub.add({ id: 'tiny/stall', commit: COMMIT, files: { 'm-Q4_K_M.gguf': bytes, 'mmproj-m-f16.gguf': Buffer.alloc(3000, 1) } });
    hub.faults.stall = { 'm-Q4_K_M.gguf': 50_000 };
    const home = freshHome();
    try {
      const t0 = Date.now();
      const e = await failure(pullModel({ repo: 'tiny/stall', endpoint: hub.url, home, timeouts: { idleMs: 300 } }));
      expect(e.code).toBe('DOWNLOAD');
      expect(e.message).toMatch(/timeouts\.idleMs/);
      // Five tries, each ended by the idle timeout (plus the back-off between them).
      expect(Date.now() - t0).toBeLessThan(15_000);
      const partial = fs.readdirSync(path.join(home, 'partial'), { recursive: true }) as string[];
      expect(partial.some((f) => f.endsWith('.incomplete'))).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('timeouts outside HUB_LIMITS are refused with INVALID_ARGUMENT before any request', async () => {
    for (const timeouts of [{ responseMs: 0 }, { idleMs: -1 }, { responseMs: 1.5 }, { idleMs: 1e12 }, 'fast']) {
      const e = await failure(pullModel({ repo: REPO, endpoint: 'http://127.0.0.1:9', home: freshHome(), timeouts: timeouts as never }));
      expect(e.code).toBe('INVALID_ARGUMENT');
    }
  });
});
