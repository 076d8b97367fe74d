// A real `minimonkey serve` server in the test process on a free loopback port, over the tiny
// random-weight pair, and the same model for asking the library directly.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { MiniMonkey } from '../../lib';
import { documentImage } from '../../lib/demo/document-image';
import { MiniMonkeyServer, ServeOptions } from '../../lib/server/server';
import { tempDir, tinyPair } from './models';

export interface TestServer {
  model: MiniMonkey;
  server: MiniMonkeyServer;
  url: string;
  /** Log lines the server wrote. */
  log: string[];
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions = {}, contextSize = 4096, seed = 4): Promise<TestServer> {
  const pair = await tinyPair('f32', seed);
  const model = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 2, contextSize });
  const log: string[] = [];
  const server = await MiniMonkeyServer.start(model, { port: 0, log: (l) => log.push(l), ...options });
  return {
    model, server, url: server.url, log,
    async close() {
      await server.close(2000);
      model.dispose();
    },
  };
}

/** A document page PNG written once per test file: its path and its bytes as a data: URL. */
export async function pageImage(width = 800, height = 600, seed = 3): Promise<{ file: string; bytes: Buffer; dataUrl: string }> {
  const bytes = await documentImage({ width, height, seed });
  const file = path.join(fs.mkdtempSync(path.join(tempDir(), 'server-')), 'page.png');
  fs.writeFileSync(file, bytes);
  return { file, bytes, dataUrl: `data:image/png;base64,${bytes.toString('base64')}` };
}

export interface CurlReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  json(): any;
}

/** Runs curl (never blocking this process's event loop: the server lives in it). */
export function curl(args: string[], stdin?: string): Promise<CurlReply> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-sS', '-D', '-', '--max-time', '60', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited ${code}: ${err}`));
      // The last header block (a 100 Continue may come first), then the body.
      const blocks = out.split('\r\n\r\n');
      let i = 0;
      while (i < blocks.length - 1 && /^HTTP\/1\.1 100/.test(blocks[i])) i++;
      const [statusLine, ...lines] = blocks[i].split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const k = l.indexOf(':');
        headers[l.slice(0, k).toLowerCase()] = l.slice(k + 1).trim();
      }
      const body = blocks.slice(i + 1).join('\r\n\r\n');
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, json: () => JSON.parse(body) });
    });
    p.stdin.end(stdin ?? '');
  });
}

/** curl arguments for a JSON POST of `body` (sent on stdin: bodies can be large). */
export function postJson(url: string, body: unknown, extra: string[] = []): Promise<CurlReply> {
  return curl(['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', '@-', ...extra, url], JSON.stringify(body));
}

/**
 * A streaming request held open: resolves once its first SSE bytes arrived (its slot is busy);
 * `cut()` disconnects it mid-stream.
 */
export function openStream(url: string, body: unknown): Promise<{ cut(): void; received(): string }> {
  return new Promise((resolve, reject) => {
    let got = '';
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        const first = got.length === 0;
        got += d;
        if (first) resolve({ cut: () => req.destroy(), received: () => got });
      });
      res.on('error', () => {});
    });
    req.on('error', (e) => (got.length === 0 ? reject(e) : undefined));
    req.end(JSON.stringify({ ...(body as object), stream: true }));
  });
}

/** Polls /health until `ok` says yes (or fails after `ms`). */
export async function waitHealth(url: string, ok: (h: { busy: number; queued: number }) => boolean, ms = 10_000): Promise<{ busy: number; queued: number }> {
  const end = Date.now() + ms;
  for (;;) {
    const h = (await (await fetch(`${url}/health`)).json()) as { busy: number; queued: number };
    if (ok(h)) return h;
    if (Date.now() > end) throw new Error(`health never matched: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
