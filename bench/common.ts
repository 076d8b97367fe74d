// Shared pieces of the benchmarks: where synthetic models and native tools live, timing, tables.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { documentPixels } from '../lib/demo/document-image';
import { sharpLib } from '../lib/image/sharp-lib';
import { packageRoot } from '../lib/native';
import { runtimeInfo } from '../lib/runtime';
import { synthesize } from '../lib/synth/synthesize';

export const cacheDir = path.join(packageRoot, 'bench', '.cache');
export const toolsDir = path.join(packageRoot, 'build', 'tools');

export function tool(name: string): string {
  // Ours and llama.cpp's tools all land in bin/, beside the CPU variant modules.
  const candidates = [path.join(toolsDir, 'bin', name), path.join(toolsDir, name)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`${name} is not built: run \`npm run build:tools\``);
  return found;
}

/** Runs a native tool that prints one JSON line on stdout. */
export function runJsonTool<T>(name: string, args: string[]): T {
  const out = execFileSync(tool(name), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

/**
 * The machine line every benchmark prints first: the CPU and the variant of ggml's CPU backend each
 * side runs (ours: the one the addon loaded; llama.cpp's tools: the one ggml_backend_load_all took).
 */
export function machineLine(theirsVariant?: string): string {
  const info = runtimeInfo();
  const features = Object.entries(info.cpu.features).filter(([, v]) => v === '1').map(([k]) => k).join(' ');
  return `cpu: ${info.cpuModel} (${os.cpus().length} logical cores)\n` +
    `minimonkey: ggml cpu variant ${info.cpu.variant} (${features})` +
    (theirsVariant ? `; llama.cpp: ${theirsVariant}` : '') + '\n';
}

export function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ')).join('\n');
}

/**
 * A file of the synthetic pair the benchmarks run on, written once and cached: `--shape internvl2-2b`
 * (the default: real InternVL2-2B dimensions, the figures README quotes) or `--shape tiny` (seconds;
 * CI runs every benchmark once this way to keep the commands working, its ratios mean little).
 */
export async function benchFile(part: 'vision' | 'text', type: string): Promise<string> {
  const shape = argValue('shape', 'internvl2-2b');
  if (shape !== 'internvl2-2b' && shape !== 'tiny') throw new Error(`--shape ${shape}: expected internvl2-2b or tiny`);
  const dir = path.join(cacheDir, shape);
  const file = path.join(dir, part === 'vision' ? `mmproj-${shape}-${type}.gguf` : `model-${shape}-${type}.gguf`);
  if (fs.existsSync(file)) return file;
  process.stderr.write(`writing the ${shape} synthetic ${part === 'vision' ? 'mmproj' : 'text model'} (${type}) to ${dir} ...\n`);
  const out = await synthesize({
    shape, outDir: dir, seed: 0, parts: [part],
    ...(part === 'vision' ? { visionType: type as 'f16' } : { textType: type as 'q4_0' }),
  });
  return part === 'vision' ? out.mmproj : out.model;
}

/** The drawn 1344x896 document page the end-to-end and page-cache benchmarks ask about (made once, kept in the bench cache). */
export async function pagePng(): Promise<string> {
  const file = path.join(cacheDir, 'e2e-page-1344x896.png');
  if (!fs.existsSync(file)) {
    const px = documentPixels({ width: 1344, height: 896 });
    fs.mkdirSync(cacheDir, { recursive: true });
    // sharp on first use, as the library loads it: the other benchmarks run where it cannot.
    await sharpLib()(Buffer.from(px.data.buffer, px.data.byteOffset, px.data.byteLength), { raw: { width: px.width, height: px.height, channels: 3 } })
      .png()
      .toFile(file);
  }
  return file;
}
