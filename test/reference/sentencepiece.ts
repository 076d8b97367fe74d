// Reference tokenizer: what HF's slow InternLM2Tokenizer does with a SentencePiece BPE model
// (facts §1.6), in plain TypeScript. Added tokens are split out first (HF's trie: at each
// position the longest added token wins); every other chunk is SentencePiece-encoded on its own:
// dummy-prefix space, spaces → ▁, then BPE — repeatedly merge the adjacent pair whose
// concatenation is a piece with the highest score (leftmost on ties) — and unknown symbols fall
// back to their UTF-8 bytes (<0xXX> pieces).

export interface RefPiece {
  piece: string;
  score: number;
  /** 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  type: number;
}

export interface RefTokenizer {
  pieces: RefPiece[];
  addDummyPrefix: boolean;
  /** Added tokens (content → id), split out of the text before SentencePiece sees it. */
  added: Map<string, number>;
  bosId: number;
}

/** SentencePiece BPE of one chunk of plain text (no added tokens inside). */
export function spEncode(tok: RefTokenizer, chunk: string): number[] {
  const mergeable = new Map<string, { id: number; score: number }>();
  tok.pieces.forEach((p, id) => {
    // SentencePiece keeps control, unknown and byte pieces out of the merge table.
    if ((p.type === 1 || p.type === 4) && !mergeable.has(p.piece)) mergeable.set(p.piece, { id, score: p.score });
  });
  const normalized = ((tok.addDummyPrefix ? ' ' : '') + chunk).replace(/ /g, '▁');
  const symbols = Array.from(normalized);
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const m = mergeable.get(symbols[i] + symbols[i + 1]);
      if (m && m.score > bestScore) {
        best = i;
        bestScore = m.score;
      }
    }
    if (best < 0) break;
    symbols.splice(best, 2, symbols[best] + symbols[best + 1]);
  }
  const ids: number[] = [];
  for (const s of symbols) {
    const m = mergeable.get(s);
    if (m) {
      ids.push(m.id);
      continue;
    }
    for (const byte of Buffer.from(s, 'utf8')) {
      const name = `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
      const id = tok.pieces.findIndex((p) => p.type === 6 && p.piece === name);
      if (id < 0) throw new Error(`reference: no byte piece ${name}`);
      ids.push(id);
    }
  }
  return ids;
}

/**
 * HF's handling of added tokens: the text split at them (longest first, left to right), each hit an
 * id and each stretch between hits a string for the model's own encoder.
 */
export function splitAdded(text: string, added: Map<string, number>): (string | number)[] {
  const names = [...added.keys()].sort((a, b) => b.length - a.length);
  const out: (string | number)[] = [];
  let chunk = '';
  let i = 0;
  while (i < text.length) {
    const hit = names.find((a) => text.startsWith(a, i));
    if (hit) {
      if (chunk) out.push(chunk);
      chunk = '';
      out.push(added.get(hit)!);
      i += hit.length;
    } else {
      chunk += text[i];
      i++;
    }
  }
  if (chunk) out.push(chunk);
  return out;
}

/** HF tokenization: optional BOS, added tokens split out, each remaining chunk SentencePiece-encoded. */
export function hfTokenize(tok: RefTokenizer, text: string, addBos: boolean): number[] {
  const out: number[] = addBos ? [tok.bosId] : [];
  for (const part of splitAdded(text, tok.added)) out.push(...(typeof part === 'number' ? [part] : spEncode(tok, part)));
  return out;
}
