// Reference tokenizer: what HF `tokenizers` does with Qwen2's tokenizer.json, in plain TypeScript
// with no floats. Added tokens are split out first (at each position the longest one wins); each
// remaining chunk is NFC-normalized, split by Qwen2's pre-tokenizer regex, every piece is written
// in GPT-2's byte-level alphabet, and BPE merges it: repeatedly merge the adjacent pair with the
// best (lowest) merge rank, leftmost on ties. The byte alphabet covers every byte, so nothing is
// ever unknown.
import { splitAdded } from './sentencepiece';

export interface RefBpeTokenizer {
  /** Byte-level token text → id (the BPE model's vocabulary). */
  vocab: Map<string, number>;
  /** Merge rules, best first. */
  merges: [string, string][];
  /** Added tokens: content → id. */
  added: Map<string, number>;
  /** tokenizer.json's normalizer is NFC (Qwen2's is). */
  nfc: boolean;
}

/** GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100 on, in byte order. */
export function byteAlphabet(): string[] {
  const keep: number[] = [];
  for (let b = '!'.charCodeAt(0); b <= '~'.charCodeAt(0); b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return out;
}

/** The order GPT-2 (and Qwen2) give the 256 single-byte tokens their ids: kept bytes first, then the others. */
export function byteTokenOrder(): string[] {
  return byteAlphabet().sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
}

// Unicode White_Space, which Oniguruma's \s means (JS's \s differs: it adds U+FEFF, lacks U+0085).
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/**
 * Qwen2's split, tokenizer.json's `(?i:'s|'t|'re|'ve|'m|'ll|'d)|…` with the case-insensitive group
 * written out (JS has no inline flags) and \s spelled as White_Space.
 */
const QWEN2_SPLIT = new RegExp(
  `'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*|[${WS}]*[\\r\\n]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  'gu',
);

/** The pre-tokenizer's pieces; they always cover the whole text. */
export function qwen2Split(text: string): string[] {
  const pieces = text.match(QWEN2_SPLIT) ?? [];
  if (pieces.join('') !== text) throw new Error(`reference: the split lost text in ${JSON.stringify(text)}`);
  return pieces;
}

/** One piece's BPE symbols (byte-level text). */
export function bpeSymbols(piece: string, ranks: Map<string, number>): string[] {
  const alphabet = byteAlphabet();
  const symbols = Array.from(Buffer.from(piece, 'utf8'), (b) => alphabet[b]);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        best = i;
        bestRank = r;
      }
    }
    if (best < 0) return symbols;
    symbols.splice(best, 2, symbols[best] + symbols[best + 1]);
  }
}

function encodeChunk(tok: RefBpeTokenizer, chunk: string, ranks: Map<string, number>): number[] {
  const text = tok.nfc ? chunk.normalize('NFC') : chunk;
  const ids: number[] = [];
  for (const piece of qwen2Split(text)) {
    for (const s of bpeSymbols(piece, ranks)) {
      const id = tok.vocab.get(s);
      if (id === undefined) throw new Error(`reference: merged symbol ${JSON.stringify(s)} is not in the vocabulary`);
      ids.push(id);
    }
  }
  return ids;
}

/** HF tokenization (no BOS: Qwen2's tokenizer adds none). */
export function hfBpeTokenize(tok: RefBpeTokenizer, text: string): number[] {
  const ranks = new Map(tok.merges.map(([a, b], i) => [`${a} ${b}`, i]));
  const out: number[] = [];
  for (const part of splitAdded(text, tok.added)) out.push(...(typeof part === 'number' ? [part] : encodeChunk(tok, part, ranks)));
  return out;
}
