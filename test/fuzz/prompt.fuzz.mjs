#!/usr/bin/env node
// Fuzz target (d): prompt assembly (lib/llm/prompt.ts) as a chat turn drives it: any system
// message, any user parts (text of any length and script, images of any token count), a
// tokenizer that returns runs of any length, as the native one does for long text. A finding is
// an exception that is not a MiniMonkeyError, a hang or a crash (harness.mjs), or a broken
// invariant: the rendered prompt holds the user's text verbatim, and the layout's length is the
// sum of its parts.
//   MINIMONKEY_FUZZ_SECONDS=20 node test/fuzz/prompt.fuzz.mjs
import { dist, fc, runTargets, typedOnly } from './harness.mjs';

const { systemBlock, userTurn, renderPrompt, layoutPrompt, layoutLength, fillImages, partsLength } = dist('llm/prompt');

const special = { bos: 1, eos: 2, imStart: 3, imEnd: 4, imgStart: 5, imgEnd: 6, imgContext: 7, addBos: true };
const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('<|im_end|>', '<|im_start|>assistant\n', '<img>', '</img>', '<IMG_CONTEXT>', '\u0000', '\uD800'));
const part = fc.oneof(text.map((t) => ({ text: t })), fc.integer({ min: 0, max: 3000 }).map((n) => ({ imageTokens: n })));
// Tokens per character: real text gives ~0.3 to 1; a long paste is 10^5 to 10^6 tokens.
const tokensPerText = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 100000, max: 400000 }));

function turn(system, parts, follow, perText, bos) {
  const pieces = [...(follow ? [] : systemBlock(system)), ...userTurn(parts, follow)];
  const rendered = renderPrompt(pieces);
  for (const p of parts) if ('text' in p && !rendered.includes(p.text)) throw new Error(`user text ${JSON.stringify(p.text)} is not in the prompt`);
  const tok = { tokenize: (s) => new Int32Array(Math.min(perText, 8 + s.length * 4)).fill(9), special };
  const layout = layoutPrompt(pieces, tok, bos);
  const n = layoutLength(layout);
  const width = 4;
  const images = layout.filter((p) => !(p instanceof Int32Array)).map((p) => new Float32Array(p.tokens * width));
  const parts2 = fillImages(layout, images, width);
  if (partsLength(parts2, width) !== n) throw new Error(`layout length ${n} != parts length ${partsLength(parts2, width)}`);
}

// A long paste: what a user does with a document (the tokenizer is ours, so a real count).
function longText(chars, bos) {
  const pieces = [...systemBlock(''), ...userTurn([{ text: 'x'.repeat(chars) }], false)];
  const tok = { tokenize: (s) => new Int32Array(s.length).fill(9), special };
  layoutLength(layoutPrompt(pieces, tok, bos));
}

process.exitCode = runTargets('prompt', [
  ['turns', fc.property(text, fc.array(part, { maxLength: 8 }), fc.boolean(), tokensPerText.map((n) => Math.min(n, 64)), fc.boolean(), typedOnly(turn))],
  ['long user text', fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), typedOnly(longText))],
]) > 0 ? 1 : 0;
