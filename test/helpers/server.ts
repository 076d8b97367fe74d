// A real `minimonkey serve` server in the test process on a free loopback port, over the tiny
// random-weight pair, and the same model for asking the library directly.
import fs from 'node:fs';
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

export async function startServer(options: ServeOptions = {}, seed = 4): Promise<TestServer> {
  const pair = await tinyPair('f32', seed);
  const model = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 2, contextSize: 4096 });
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
