// The internlm2-chat prompt Mini-Monkey was trained on (facts §3.4), built as pieces so that
// template tokens go in as ids, user text is tokenized as plain text (a user cannot smuggle in
// `<|im_end|>`), and each image becomes a slot its embeddings fill:
//
//   <s><|im_start|>system\n{SYS}<|im_end|><|im_start|>user\n<img>{<IMG_CONTEXT>×N}</img>\n{question}<|im_end|><|im_start|>assistant\n
//
// No newline after <|im_end|> (InternVL2.5 / InternVL3 put one there: the family's separator,
// lib/family.ts). A follow-up turn starts with the <|im_end|> that closes the previous reply
// (generation stops on it without feeding it back).
import { INTERNVL2_SYSTEM_MESSAGE } from '../family';
import type { NativeSpecialTokens } from '../native';

/** InternVL2's default system message (157 bytes, facts §3.4); each family has its own (lib/family.ts). */
export const DEFAULT_SYSTEM_MESSAGE = INTERNVL2_SYSTEM_MESSAGE;

export type SpecialName = '<|im_start|>' | '<|im_end|>' | '<img>' | '</img>';

export type PromptPiece =
  | { kind: 'special'; name: SpecialName }
  | { kind: 'text'; text: string }
  /** `tokens` embedding rows of image number `image` (in the order images appear). */
  | { kind: 'image'; image: number; tokens: number };

/** What a user turn holds, in order: text, and images by their token count. */
export type TurnPart = { text: string } | { imageTokens: number };

const special = (name: SpecialName): PromptPiece => ({ kind: 'special', name });
const text = (t: string): PromptPiece => ({ kind: 'text', text: t });

/**
 * `<|im_start|>system\n{system}<|im_end|>{sep}` (BOS is added separately, as the tokenizer does).
 * `sep` is the family's turn separator: '' for internlm2-chat, '\n' for ChatML (InternVL2.5 / 3).
 */
export function systemBlock(system: string, sep: '' | '\n' = ''): PromptPiece[] {
  return [special('<|im_start|>'), text(`system\n${system}`), special('<|im_end|>'), ...(sep ? [text(sep)] : [])];
}

/**
 * A user turn and the open assistant header. Each image renders as `<img>…</img>\n`, so
 * `[image, "What is this?"]` gives the reference's `<img>…</img>\nWhat is this?`.
 */
export function userTurn(parts: TurnPart[], closePreviousReply: boolean, sep: '' | '\n' = ''): PromptPiece[] {
  const out: PromptPiece[] = [];
  if (closePreviousReply) out.push(special('<|im_end|>'), ...(sep ? [text(sep)] : []));
  out.push(special('<|im_start|>'), text('user\n'));
  let image = 0;
  for (const p of parts) {
    if ('imageTokens' in p) {
      out.push(special('<img>'), { kind: 'image', image: image++, tokens: p.imageTokens }, special('</img>'), text('\n'));
    } else if (p.text.length > 0) {
      out.push(text(p.text));
    }
  }
  out.push(special('<|im_end|>'), ...(sep ? [text(sep)] : []), special('<|im_start|>'), text('assistant\n'));
  return mergeText(out);
}

/** Adjacent text pieces joined: each text piece is tokenized as one fragment, as a whole-string tokenizer would. */
function mergeText(pieces: PromptPiece[]): PromptPiece[] {
  const out: PromptPiece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (p.kind === 'text' && last?.kind === 'text') out[out.length - 1] = text(last.text + p.text);
    else out.push(p);
  }
  return out;
}

/** The prompt as the reference writes it (image slots as `<IMG_CONTEXT>` × N; BOS not included). */
export function renderPrompt(pieces: PromptPiece[]): string {
  return pieces
    .map((p) => (p.kind === 'special' ? p.name : p.kind === 'text' ? p.text : '<IMG_CONTEXT>'.repeat(p.tokens)))
    .join('');
}

export interface PromptTokenizer {
  tokenize(text: string): Int32Array;
  special: NativeSpecialTokens;
}

/** The prompt tokenized: token runs, and slots for each image's embedding rows. */
export type PromptLayout = (Int32Array | { image: number; tokens: number })[];

/** Tokenizes the pieces (text as plain text, template tokens as ids); `bos` prepends BOS. */
export function layoutPrompt(pieces: PromptPiece[], tok: PromptTokenizer, bos: boolean): PromptLayout {
  const ids: Record<SpecialName, number> = {
    '<|im_start|>': tok.special.imStart,
    '<|im_end|>': tok.special.imEnd,
    '<img>': tok.special.imgStart,
    '</img>': tok.special.imgEnd,
  };
  const layout: PromptLayout = [];
  let run: number[] = bos ? [tok.special.bos] : [];
  const flush = () => {
    if (run.length > 0) layout.push(Int32Array.from(run));
    run = [];
  };
  for (const p of pieces) {
    if (p.kind === 'special') run.push(ids[p.name]);
    else if (p.kind === 'text') {
      // A loop, not push(...ids): spreading a long question's ids overflows the stack.
      for (const id of tok.tokenize(p.text)) run.push(id);
    }
    else {
      flush();
      layout.push({ image: p.image, tokens: p.tokens });
    }
  }
  flush();
  return layout;
}

/**
 * Whether a prefill part is embedding rows (else token ids). By tag rather than `instanceof`, so
 * arrays made in another realm (the addon's, a vm context's) are recognised too.
 */
export function isEmbeddingRows(p: Int32Array | Float32Array): p is Float32Array {
  return Object.prototype.toString.call(p) === '[object Float32Array]';
}

/** Token ids, of any realm (as isEmbeddingRows). */
export function isTokenRun(p: unknown): p is Int32Array {
  return Object.prototype.toString.call(p) === '[object Int32Array]';
}

/** Positions taken by prefill parts. */
export function partsLength(parts: (Int32Array | Float32Array)[], embeddingWidth: number): number {
  return parts.reduce((n, p) => n + (isEmbeddingRows(p) ? p.length / embeddingWidth : p.length), 0);
}

/** Positions the prompt takes: its tokens plus one per image embedding row. */
export function layoutLength(layout: PromptLayout): number {
  return layout.reduce((n, p) => n + (p instanceof Int32Array ? p.length : p.tokens), 0);
}

/** The prefill parts: token runs, and each image slot filled with that image's embeddings. */
export function fillImages(layout: PromptLayout, images: Float32Array[], embeddingWidth: number): (Int32Array | Float32Array)[] {
  return layout.map((p) => {
    if (p instanceof Int32Array) return p;
    const e = images[p.image];
    if (!e || e.length !== p.tokens * embeddingWidth) throw new Error(`image ${p.image}: embeddings do not match the prompt's slot`);
    return e;
  });
}
