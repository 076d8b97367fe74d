// Electron apps often run native work in worker threads or utility processes: the addon must
// load and work in a second environment of the same process (N-API instance data, no globals).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { VisionEncoder } from '../lib/vision/encoder';
import { distinctTiles, tinyPair } from './helpers/models';

const dist = path.join(__dirname, '..', 'dist', 'lib', 'index.js');

function inWorker(code: string, workerData: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (c) => c !== 0 && reject(new Error(`worker exited with ${c}`)));
  });
}

describe('worker threads', () => {
  it('loads the addon and encodes in a worker, with the same result as the main thread', async () => {
    const { mmproj } = await tinyPair('f32');
    const tiles = distinctTiles(1, 448, 3);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const mm = require(workerData.dist);
      (async () => {
        const enc = await mm.VisionEncoder.load(workerData.mmproj, { threads: 1 });
        const out = await enc.encode(workerData.tiles, 1);
        enc.dispose();
        parentPort.postMessage({ out, info: mm.runtimeInfo() });
      })().catch((e) => parentPort.postMessage({ error: e.message, code: e.code }));
    `;
    const fromWorker = (await inWorker(code, { dist, mmproj, tiles })) as { out: Float32Array; error?: string };
    expect(fromWorker.error).toBeUndefined();
    const enc = await VisionEncoder.load(mmproj, { threads: 1 });
    const here = await enc.encode(tiles, 1);
    enc.dispose();
    expect(Array.from(fromWorker.out)).toEqual(Array.from(here));
  });
});
