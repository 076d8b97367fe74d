// Tiny synthetic model pairs for tests, written by our own synthesizer into a temp folder once per
// test file (they take well under a second).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readGgufHeader, readTensorF32 } from '../../lib/gguf/reader';
import { synthesize } from '../../lib/synth/synthesize';
import type { RefConfig, RefWeights } from '../reference/internvit';

const made = new Map<string, Promise<{ mmproj: string; model: string }>>();
let tmpRoot: string | undefined;

export function tempDir(): string {
  if (!tmpRoot) {
    tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'minimonkey-test-'));
    process.on('exit', () => fs.rmSync(tmpRoot!, { recursive: true, force: true }));
  }
  return tmpRoot;
}

export type VisionType = 'f32' | 'bf16' | 'f16' | 'q8_0' | 'q4_0' | 'q4_1';

/** The tiny pair for `seed` with the given vision weight type. */
export function tinyPair(visionType: VisionType = 'f32', seed = 1): Promise<{ mmproj: string; model: string }> {
  const key = `${visionType}-${seed}`;
  let p = made.get(key);
  if (!p) {
    const outDir = path.join(tempDir(), `tiny-${key}`);
    p = synthesize({ shape: 'tiny', outDir, seed, visionType: visionType as 'f32', textType: 'f32' });
    made.set(key, p);
  }
  return p;
}

/** Every tensor of a GGUF file as float64, for the reference implementations. */
export async function loadRefWeights(file: string): Promise<RefWeights> {
  const header = await readGgufHeader(file);
  const weights: RefWeights = new Map();
  for (const t of header.tensors) {
    const f32 = await readTensorF32(file, t);
    weights.set(t.name, { ne: t.ne, data: Float64Array.from(f32) });
  }
  return weights;
}

/** The reference configuration read back from an mmproj's keys. */
export async function refConfig(file: string): Promise<RefConfig> {
  const { kv } = await readGgufHeader(file);
  const num = (k: string) => Number(kv.get(k)!.value);
  return {
    imageSize: num('clip.vision.image_size'),
    patchSize: num('clip.vision.patch_size'),
    hidden: num('clip.vision.embedding_length'),
    heads: num('clip.vision.attention.head_count'),
    layers: num('clip.vision.block_count'),
    ffn: num('clip.vision.feed_forward_length'),
    lnEps: num('clip.vision.attention.layer_norm_epsilon'),
    projLnEps: 1e-5,
  };
}

/** Tiles with distinct content per tile (different seeds and gradients), normalized-range floats. */
export function distinctTiles(count: number, size: number, seed = 7): Float32Array {
  const out = new Float32Array(count * 3 * size * size);
  let s = seed >>> 0;
  for (let t = 0; t < count; t++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          const noise = s / 2 ** 32 - 0.5;
          // a per-tile, per-channel gradient makes tiles and positions distinguishable
          const grad = Math.sin((x * (t + 1)) / 37 + c) * Math.cos((y * (c + 2)) / 53 - t);
          out[((t * 3 + c) * size + y) * size + x] = 1.5 * grad + noise;
        }
      }
    }
  }
  return out;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** max |a − b| / max |b|: the error relative to the reference's own scale. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / maxAbs(b);
}
