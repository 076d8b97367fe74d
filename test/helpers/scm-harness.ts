// What the SCM tests share: image-like rows, the prompt as float64 rows for the reference, and
// libllama's own layer-0 output (`l_out-0`) captured by the mm-layer-capture tool.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isEmbeddingRows } from '../../lib/llm/prompt';
import { tempDir } from './models';

export const root = path.join(__dirname, '..', '..');
export const capture = path.join(root, 'build', 'tools', 'bin', 'mm-layer-capture');

export function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Image-like rows: random, around the scale of the projector's output. */
export function rows(n: number, width: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * width }, () => (r() - 0.5) * 2);
}

/** The prompt as float64 rows: token rows looked up in token_embd (f32 in the tiny model), image rows as given. */
export function toF64Rows(parts: (Int32Array | Float32Array)[], tokenEmbd: Float64Array, width: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (const p of parts) {
    if (isEmbeddingRows(p)) {
      for (let i = 0; i < p.length / width; i++) out.push(Float64Array.from(p.subarray(i * width, (i + 1) * width)));
    } else {
      for (const id of p) out.push(tokenEmbd.slice(id * width, (id + 1) * width));
    }
  }
  return out;
}

export function captureLayer0(model: string, parts: (Int32Array | Float32Array)[], width: number): Float32Array {
  const dir = fs.mkdtempSync(path.join(tempDir(), 'capture-'));
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const head = Buffer.alloc(8);
    head.writeInt32LE(isEmbeddingRows(p) ? 1 : 0, 0);
    head.writeInt32LE(isEmbeddingRows(p) ? p.length / width : p.length, 4);
    chunks.push(head, Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  }
  fs.writeFileSync(path.join(dir, 'prompt.bin'), Buffer.concat(chunks));
  execFileSync(capture, [model, path.join(dir, 'prompt.bin'), path.join(dir, 'out.f32'), '2']);
  const b = fs.readFileSync(path.join(dir, 'out.f32'));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}


/** Builds the capture tool (once per machine; cmake knows when it is up to date). */
export function buildCaptureTool(): void {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-tools.mjs'), 'mm-layer-capture'], { cwd: root, stdio: 'ignore' });
}
