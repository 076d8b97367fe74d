// The two synthetic model shapes: `tiny` for tests (generated in well under a second) and
// `internvl2-2b` with the real InternVL2-2B / Mini-Monkey dimensions (facts §1) for benchmarks.

export interface VisionShape {
  imageSize: number;
  patchSize: number;
  hidden: number;
  heads: number;
  ffn: number;
  layers: number;
}

export interface TextShape {
  embd: number;
  ffn: number;
  layers: number;
  heads: number;
  kvHeads: number;
  contextLength: number;
  ropeTheta: number;
  rmsEps: number;
  /** Total vocabulary size; `tiny` uses the smallest vocabulary that holds every piece. */
  vocabSize: number | 'minimal';
}

export interface ModelShape {
  name: ShapeName;
  vision: VisionShape;
  text: TextShape;
}

export type ShapeName = 'tiny' | 'internvl2-2b';

export const SHAPES: Record<ShapeName, ModelShape> = {
  // 448/14 keeps the real 32x32 patch grid, so tiling, CLS and pixel shuffle are exercised as is.
  tiny: {
    name: 'tiny',
    vision: { imageSize: 448, patchSize: 14, hidden: 32, heads: 2, ffn: 64, layers: 2 },
    text: { embd: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, contextLength: 4096, ropeTheta: 1e6, rmsEps: 1e-5, vocabSize: 'minimal' },
  },
  'internvl2-2b': {
    name: 'internvl2-2b',
    vision: { imageSize: 448, patchSize: 14, hidden: 1024, heads: 16, ffn: 4096, layers: 24 },
    text: { embd: 2048, ffn: 8192, layers: 24, heads: 16, kvHeads: 8, contextLength: 32768, ropeTheta: 1e6, rmsEps: 1e-5, vocabSize: 92553 },
  },
};
