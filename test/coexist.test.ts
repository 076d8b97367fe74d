// minimonkey and node-llama-cpp 3.22.1 (npm, its own prebuilt ggml and libllama) in one Node process,
// as in an Electron app that uses both. Ours are private (libmm-*.so, found by $ORIGIN) so neither
// library can bind to the other's ggml: in both load orders, each generates exactly what it does alone.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tinyPair } from './helpers/models';

const root = path.join(__dirname, '..');
// node-llama-cpp is installed once, by scripts/node-llama-cpp-anchor.mjs (shared with bench:llm).
const nlcDir = path.join(root, 'test', '.cache', 'node-llama-cpp-3.22.1');
const supported = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64', 'win32-x64'].includes(`${process.platform}-${process.arch}`);
const onSupported = supported ? test : test.skip;

let pair: { model: string; mmproj: string };

function child(order: string): Record<string, string> {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'helpers', 'coexist-child.mjs'), order, pair.model, pair.mmproj, nlcDir], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`child (${order}) failed: ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

beforeAll(async () => {
  pair = await tinyPair('f32', 3);
  if (!supported) return;
  execFileSync(process.execPath, [path.join(root, 'scripts', 'node-llama-cpp-anchor.mjs'), nlcDir], { stdio: 'ignore' });
}, 900_000);

describe('minimonkey beside node-llama-cpp in one process', () => {
  let alone: { mm: string; nlc: string };

  onSupported('each alone: the replies both are held to', () => {
    const mm = child('mm');
    const nlc = child('nlc');
    expect(mm.mm0.split(',').length).toBeGreaterThan(0);
    expect(mm.mm1).toBe(mm.mm0); // greedy: the same twice
    expect(nlc.nlc1).toBe(nlc.nlc0);
    alone = { mm: mm.mm0, nlc: nlc.nlc0 };
  }, 600_000);

  onSupported.each(['mm,nlc', 'nlc,mm'])('loaded in the order %s, both generate as they do alone', (order) => {
    expect(alone).toBeDefined();
    const both = child(order);
    expect([both.mm0, both.mm1]).toEqual([alone.mm, alone.mm]);
    expect([both.nlc0, both.nlc1]).toEqual([alone.nlc, alone.nlc]);
  }, 600_000);

  onSupported('our libraries are the ones the addon maps: private names, from its own folder', () => {
    const r = spawnSync(process.execPath, ['-e', `
      const info = require(${JSON.stringify(path.join(root, 'dist', 'lib', 'index.js'))}).runtimeInfo();
      process.stdout.write(JSON.stringify(info.backendModules.filter((m) => m.loaded).map((m) => m.path)) + '\\n');
      process.stdout.write(require('fs').readFileSync('/proc/self/maps', 'utf8'));`], { encoding: 'utf8' });
    if (process.platform !== 'linux') return;
    expect(r.status).toBe(0);
    const [modulesLine, ...maps] = r.stdout.split('\n');
    // GPU backend modules (libggml-vulkan.so, ...) come from their own folders (build/backends, an
    // optional package), each the one runtimeInfo() reports; everything else sits beside the addon.
    const gpuModules = new Set((JSON.parse(modulesLine) as string[]).map((f) => fs.realpathSync(f)));
    const mapped = [...new Set(maps.map((l) => l.trim().split(/\s+/)[5]).filter((f) => f && /ggml|llama/.test(f)))].filter((f) => !gpuModules.has(f));
    const addonDir = path.dirname(mapped.find((f) => f.endsWith('libmm-llama.so'))!);
    expect(mapped.every((f) => path.dirname(f) === addonDir)).toBe(true);
    expect(mapped.map((f) => path.basename(f)).filter((f) => !/^libmm-|^libggml-cpu-/.test(f))).toEqual([]);
    for (const m of gpuModules) expect(path.basename(m)).toMatch(/^libggml-(vulkan|cuda|metal|hip|musa|sycl|opencl)\.so$/);
  });
});
