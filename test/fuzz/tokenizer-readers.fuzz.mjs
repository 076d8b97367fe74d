#!/usr/bin/env node
// Fuzz target (c): the converter's tokenizer-file readers, fed the files a downloaded checkpoint
// folder could hold: tokenizer.model (SentencePiece protobuf), tokenizer.json, vocab.json +
// merges.txt, tokenizer_config.json, added_tokens.json. Each must accept the file or throw a
// MiniMonkeyError; anything else, a hang or a crash is a finding (harness.mjs).
//   MINIMONKEY_FUZZ_SECONDS=20 node test/fuzz/tokenizer-readers.fuzz.mjs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dist, fc, root, runTargets, typedOnly } from './harness.mjs';

const { parseSentencePiece } = dist('convert/sentencepiece');
const { readHfBpeTokenizer, QWEN2_PRE_REGEX } = dist('convert/hf-tokenizer');
const { collectAdded, readTokenizerConfig, tokenText, configBool, chatTemplate } = dist('convert/added-tokens');
const { buildBpeVocab } = dist('convert/bpe-vocab');
const { BYTE_CHARS } = dist('convert/byte-level');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minimonkey-fuzz-tok-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'added_tokens.json'];
/** Makes the checkpoint folder hold exactly `files` (name -> string | bytes). */
function folder(files) {
  for (const f of FILES) if (!(f in files)) fs.rmSync(path.join(dir, f), { force: true });
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), v);
  return dir;
}

// --- SentencePiece protobuf ------------------------------------------------------------------
const varint = (n) => {
  const out = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const field = (num, wire, body) => {
  const tag = varint(num * 8 + wire);
  if (wire === 2) return [...tag, ...varint(body.length), ...body];
  return [...tag, ...body];
};
const anyVarint = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(Number), fc.constantFrom(-1, 2 ** 53, 2 ** 63));
const pieceMsg = fc.record({
  piece: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => [...Buffer.from(s)]), fc.uint8Array({ maxLength: 6 }).map((a) => [...a])),
  score: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((a) => [...a]),
  type: anyVarint,
  extra: fc.array(fc.uint8Array({ maxLength: 4 }).map((a) => [...a]), { maxLength: 2 }),
}).map((p) => [...field(1, 2, p.piece), ...field(2, 5, p.score), ...field(3, 0, varint(p.type)), ...p.extra.flat()]);
const trainerMsg = fc.tuple(anyVarint, anyVarint).map(([t, b]) => [...field(3, 0, varint(t)), ...field(35, 0, varint(b))]);
const normMsg = fc.tuple(fc.string({ maxLength: 10 }), anyVarint, anyVarint).map(([n, a, b]) => [
  ...field(1, 2, [...Buffer.from(n)]), ...field(3, 0, varint(a)), ...field(4, 0, varint(b)),
]);
const modelProto = fc
  .array(fc.oneof(pieceMsg.map((b) => field(1, 2, b)), trainerMsg.map((b) => field(2, 2, b)), normMsg.map((b) => field(3, 2, b)),
    fc.uint8Array({ maxLength: 12 }).map((a) => [...a])), { maxLength: 24 })
  .map((parts) => Uint8Array.from(parts.flat()));
// The real InternLM2 tokenizer.model with a few bytes changed, dropped or cut off.
const realModel = (() => {
  const f = path.join(root, '..', 'shared', 'real', 'internvl2-2b', 'tokenizer.model');
  return fs.existsSync(f) ? fs.readFileSync(f) : undefined;
})();
const mutatedReal = realModel
  ? fc.tuple(fc.array(fc.tuple(fc.nat(realModel.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(realModel.length))
      .map(([edits, cut]) => {
        const b = Uint8Array.from(realModel.subarray(0, cut > realModel.length / 2 ? realModel.length : cut * 2));
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        return b;
      })
  : modelProto;

// --- tokenizer.json and friends --------------------------------------------------------------
const byteVocab = Object.fromEntries(BYTE_CHARS.map((c, i) => [c, i]));
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string({ maxLength: 6 }), fc.integer(), fc.constant([]), fc.constant({}));
const token = fc.oneof(fc.constantFrom(...BYTE_CHARS.slice(0, 40)), fc.string({ maxLength: 4 }), fc.constantFrom('<|im_end|>', '<|endoftext|>', ' ', ''));
const vocab = fc.oneof(
  fc.dictionary(token, fc.oneof(fc.nat(400), junk)).map((extra) => ({ ...byteVocab, ...extra })),
  fc.dictionary(token, fc.oneof(fc.nat(400), junk), { maxKeys: 6 }),
  junk,
);
const merge = fc.oneof(fc.tuple(token, token).map(([a, b]) => `${a} ${b}`), fc.tuple(token, token), fc.string({ maxLength: 6 }), junk);
const splitStep = fc.record({ type: fc.constant('Split'), pattern: fc.oneof(fc.record({ Regex: fc.oneof(fc.constant(QWEN2_PRE_REGEX), fc.string()) }), junk), behavior: fc.oneof(fc.constant('Isolated'), junk), invert: fc.oneof(fc.boolean(), junk) }, { requiredKeys: [] });
const byteStep = fc.record({ type: fc.constant('ByteLevel'), add_prefix_space: fc.oneof(fc.boolean(), junk), use_regex: fc.oneof(fc.boolean(), junk) }, { requiredKeys: ['type'] });
// Deeply nested Sequence steps are spliced in as text: JSON.stringify itself overflows on them.
const DEEP = '\u0000deep:';
const nest = (step, depth) => `${DEEP}${depth}:${JSON.stringify(step)}`;
const toJson = (v) => JSON.stringify(v).replace(/"\\u0000deep:(\d+):((?:[^"\\]|\\.)*)"/g, (_, d, step) =>
  '{"type":"Sequence","pretokenizers":['.repeat(Number(d)) + JSON.parse(`"${step}"`) + ']}'.repeat(Number(d)));
const json = (arb) => arb.map(toJson);
const preTokenizer = fc.oneof(
  fc.tuple(splitStep, byteStep).map(([s, b]) => ({ type: 'Sequence', pretokenizers: [s, b] })),
  fc.array(fc.oneof(splitStep, byteStep, fc.record({ type: fc.string({ maxLength: 8 }) }), junk), { maxLength: 4 }).map((p) => ({ type: 'Sequence', pretokenizers: p })),
  // deep nesting: a file can nest Sequence steps as deep as it likes
  fc.tuple(byteStep, fc.integer({ min: 1, max: Number(process.env.MINIMONKEY_FUZZ_MAX_DEPTH || 20000) })).map(([b, d]) => nest(b, d)),
  junk,
);
const addedTok = fc.oneof(fc.record({ id: fc.oneof(fc.nat(500), junk), content: fc.oneof(token, junk), special: fc.oneof(fc.boolean(), junk) }, { requiredKeys: [] }), junk);
const tokenizerJson = fc.record({
  model: fc.oneof(fc.record({
    type: fc.oneof(fc.constant('BPE'), junk), vocab, merges: fc.oneof(fc.array(merge, { maxLength: 8 }), junk),
    byte_fallback: fc.oneof(fc.boolean(), junk), dropout: fc.oneof(fc.double(), junk),
    continuing_subword_prefix: fc.oneof(fc.string({ maxLength: 3 }), junk), end_of_word_suffix: fc.oneof(fc.string({ maxLength: 3 }), junk),
  }, { requiredKeys: ['type', 'vocab', 'merges'] }), junk),
  normalizer: fc.oneof(fc.constant(null), fc.record({ type: fc.oneof(fc.constant('NFC'), fc.string({ maxLength: 5 })) }), junk),
  pre_tokenizer: preTokenizer,
  added_tokens: fc.oneof(fc.array(addedTok, { maxLength: 5 }), junk),
}, { requiredKeys: [] });
const rawText = fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.integer({ min: 1, max: 100000 }).map((d) => '['.repeat(d) + ']'.repeat(d)), fc.constant('\uFEFF{}'));
const tokenizerConfig = fc.oneof(
  fc.record({
    added_tokens_decoder: fc.oneof(fc.dictionary(fc.oneof(fc.nat(500).map(String), fc.string({ maxLength: 4 })), fc.oneof(addedTok, token)), junk),
    bos_token: fc.oneof(token, fc.record({ content: token }), junk), eos_token: fc.oneof(token, junk), pad_token: fc.oneof(token, junk),
    add_bos_token: fc.oneof(fc.boolean(), junk), chat_template: fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.record({ name: fc.string() })), junk),
  }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 3 }),
);
const addedJson = fc.oneof(fc.dictionary(token, fc.oneof(fc.nat(500), junk)), fc.jsonValue({ maxDepth: 2 }));
const textConfig = fc.record({
  arch: fc.constant('qwen2'), bosTokenId: fc.option(fc.integer({ min: -2, max: 600 }), { nil: undefined }),
  eosTokenId: fc.option(fc.integer({ min: -2, max: 600 }), { nil: undefined }),
});
const maybe = (arb) => fc.option(arb, { nil: undefined });
const checkpoint = fc.record({
  'tokenizer.json': maybe(fc.oneof(json(tokenizerJson), rawText)),
  'vocab.json': maybe(fc.oneof(json(vocab), rawText)),
  'merges.txt': maybe(fc.oneof(fc.array(merge.map(String), { maxLength: 8 }).map((l) => ['#version: 0.2', ...l].join('\n')), rawText)),
  'tokenizer_config.json': maybe(fc.oneof(json(tokenizerConfig), rawText)),
  'added_tokens.json': maybe(fc.oneof(json(addedJson), rawText)),
}).map((files) => Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)));

/** The converter's path for a Qwen2 checkpoint: tokenizer files, then the gpt2 vocabulary. */
function convertTokenizer(files, text, rows) {
  const d = folder(files);
  const tok = readHfBpeTokenizer(d);
  buildBpeVocab(d, tok, text, rows);
}

process.exitCode = runTargets('tokenizer-readers', [
  ['sentencepiece: protobuf', fc.property(modelProto, typedOnly((b) => parseSentencePiece(b)))],
  ['sentencepiece: bytes', fc.property(fc.uint8Array({ maxLength: 512 }), typedOnly((b) => parseSentencePiece(b)))],
  ['sentencepiece: real file mutated', fc.property(mutatedReal, typedOnly((b) => parseSentencePiece(b)))],
  ['hf-tokenizer + bpe-vocab', fc.property(checkpoint, textConfig, fc.integer({ min: 0, max: 600 }), typedOnly(convertTokenizer))],
  // A well-formed model, so that every run reaches the pre-tokenizer checks (the walk of nested steps).
  ['hf-tokenizer: pre_tokenizer', fc.property(preTokenizer, fc.oneof(fc.constant(null), junk), typedOnly((pre, normalizer) => {
    const model = { type: 'BPE', vocab: byteVocab, merges: [] };
    readHfBpeTokenizer(folder({ 'tokenizer.json': toJson({ model, normalizer, pre_tokenizer: pre }) }));
  }))],
  ['added-tokens', fc.property(checkpoint, fc.oneof(tokenizerConfig, fc.anything()), typedOnly((files, cfg) => {
    const d = folder(files);
    const tc = readTokenizerConfig(d);
    collectAdded(d, tc, [], 1 << 20);
    collectAdded(d, cfg && typeof cfg === "object" ? cfg : undefined, [], 1 << 20);
    tokenText(cfg);
    configBool(cfg && typeof cfg === 'object' ? cfg : undefined, 'add_bos_token', false);
    chatTemplate(tc);
  }))],
]) > 0 ? 1 : 0;
