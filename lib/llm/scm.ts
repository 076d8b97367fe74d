// SCM in a chat turn (facts §4): which positions are detail tokens, how many survive, and the
// compressed prompt that libllama then prefills.
//
// Intended behaviour (default): each image's detail block — exactly the detail-layer tokens, as
// the MSAC plan places them — is scored and cut to floor(H * keep); every other token stays.
// `referenceExact` reproduces Mini-Monkey's code instead: only the first image of the prompt, its
// first D*256 image tokens from the image's start (D = detail tiles, even when D = 1 and the
// lone detail tile sits in the global slot), and the token right after them dropped as well (the
// `+1` of `keep = [0..s-1] ++ topk ++ [s+H+1 ..]`).
import { InvalidArgumentError } from '../errors';
import type { CropPlan } from '../msac/types';
import { isEmbeddingRows, PromptLayout } from './prompt';
import type { ScmBlock } from './scm-prepass';

export interface ScmOptions {
  /** Fraction of detail tokens kept (default 0.5, as the paper). */
  keep?: number;
  /** Reproduce the reference code's choices, quirks included (see README). Default false. */
  referenceExact?: boolean;
}

export interface ScmSettings {
  keep: number;
  referenceExact: boolean;
}

/** What SCM did in a turn. */
export interface ScmReport {
  /** Positions the turn would have prefilled without SCM, and did with it. */
  tokensBefore: number;
  tokensAfter: number;
  /** Detail tokens scored and kept, over all images of the turn. */
  detailTokens: number;
  detailKept: number;
  /** Milliseconds of the pre-pass (layers 0-1 over the whole prompt). */
  prepassMs: number;
  /** Memory the pre-pass held at its peak. */
  peakBytes: number;
  /** Per scored block (one per image with detail tokens): which tokens were kept and their scores. */
  images: ScmImageReport[];
}

/**
 * One image's scored block, in the image's own token order (facts §3.4: tile-major, 256 tokens a
 * tile, 16x16 row-major within it), so a heatmap can put each score on the pixels it stands for.
 */
export interface ScmImageReport {
  /** Which image of the turn (the index into result.images). */
  image: number;
  /** The block's first token, counted from the image's first token, and its length. */
  offset: number;
  length: number;
  /** Offsets from the block's start of the tokens kept, ascending. */
  kept: number[];
  /** Each token's score: the mean attention later tokens pay it (layers 0-1, over rows and heads). */
  scores: number[];
}

/** `scm` option → settings, or null when off. */
export function scmSettings(o: boolean | ScmOptions | undefined): ScmSettings | null {
  if (o === undefined || o === false) return null;
  if (o === true) return { keep: 0.5, referenceExact: false };
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('scm must be a boolean or {keep?, referenceExact?}');
  const keep = o.keep ?? 0.5;
  if (typeof keep !== 'number' || !(keep > 0 && keep <= 1)) throw new InvalidArgumentError(`scm.keep must be in (0, 1] (got ${String(keep)})`);
  if (o.referenceExact !== undefined && typeof o.referenceExact !== 'boolean') throw new InvalidArgumentError('scm.referenceExact must be a boolean');
  return { keep, referenceExact: o.referenceExact ?? false };
}

/** A block to score, and whether the token right after it goes too (reference-exact only). */
export interface TurnBlock extends ScmBlock {
  dropNext: boolean;
  /** The image slot it belongs to, and that image's first absolute position. */
  image: number;
  imageStart: number;
}

/**
 * The detail blocks of a turn whose layout starts at absolute position `offset`. `plans[i]` is the
 * crop plan of image slot i. Blocks that would leave no token after them are skipped.
 */
export function detailBlocks(layout: PromptLayout, plans: CropPlan[], offset: number, s: ScmSettings): TurnBlock[] {
  const total = offset + layout.reduce((n, p) => n + (p instanceof Int32Array ? p.length : p.tokens), 0);
  const blocks: TurnBlock[] = [];
  let pos = offset;
  for (const p of layout) {
    if (p instanceof Int32Array) {
      pos += p.length;
      continue;
    }
    const plan = plans[p.image];
    let block: TurnBlock | null = null;
    if (s.referenceExact) {
      if (p.image === 0) block = { start: pos, length: plan.detail.cols * plan.detail.rows * plan.tokensPerTile, dropNext: true, image: 0, imageStart: pos };
    } else if (plan.layers.detail.tokenCount > 0) {
      const start = pos + plan.layers.detail.firstToken;
      block = { start, length: plan.layers.detail.tokenCount, dropNext: false, image: p.image, imageStart: pos };
    }
    if (block && block.start + block.length + (block.dropNext ? 1 : 0) < total) blocks.push(block);
    pos += p.tokens;
  }
  return blocks;
}

/** The pre-pass's kept positions and scores per block, as offsets within each image (for heatmaps). */
export function imageReports(blocks: TurnBlock[], kept: Int32Array[], scores: Float32Array[]): ScmImageReport[] {
  return blocks.map((b, i) => ({
    image: b.image,
    offset: b.start - b.imageStart,
    length: b.length,
    kept: Array.from(kept[i], (p) => p - b.start),
    scores: Array.from(scores[i]),
  }));
}

/** Tokens kept of a block of `length`. */
export function keptCount(length: number, keep: number): number {
  return Math.floor(length * keep);
}

/** Positions a turn loses: each block's unkept tokens, plus the reference's extra token. */
export function droppedCount(blocks: TurnBlock[], keep: number): number {
  return blocks.reduce((n, b) => n + b.length - keptCount(b.length, keep) + (b.dropNext ? 1 : 0), 0);
}

/**
 * The turn's parts (starting at absolute position `offset`) without the dropped positions:
 * in each block only `kept[i]` (absolute, ascending) stays, and a `dropNext` block also loses the
 * position right after it. Kept rows keep their order; they are the original embeddings.
 */
export function compressParts(
  parts: (Int32Array | Float32Array)[],
  offset: number,
  blocks: TurnBlock[],
  kept: Int32Array[],
  embeddingWidth: number,
): (Int32Array | Float32Array)[] {
  const drop = new Set<number>();
  blocks.forEach((b, i) => {
    const keepSet = new Set(kept[i]);
    for (let p = b.start; p < b.start + b.length; p++) if (!keepSet.has(p)) drop.add(p);
    if (b.dropNext) drop.add(b.start + b.length);
  });
  const out: (Int32Array | Float32Array)[] = [];
  let pos = offset;
  for (const part of parts) {
    const rowsPart = isEmbeddingRows(part);
    const len = rowsPart ? part.length / embeddingWidth : part.length;
    const keepIdx: number[] = [];
    for (let i = 0; i < len; i++) if (!drop.has(pos + i)) keepIdx.push(i);
    pos += len;
    if (keepIdx.length === len) {
      out.push(part);
    } else if (keepIdx.length > 0) {
      if (!rowsPart) {
        out.push(Int32Array.from(keepIdx, (i) => part[i]));
      } else {
        const rows = new Float32Array(keepIdx.length * embeddingWidth);
        keepIdx.forEach((i, j) => rows.set(part.subarray(i * embeddingWidth, (i + 1) * embeddingWidth), j * embeddingWidth));
        out.push(rows);
      }
    }
  }
  return out;
}
