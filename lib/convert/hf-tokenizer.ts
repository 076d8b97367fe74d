// Reads a Hugging Face byte-level BPE tokenizer (Qwen2's): `tokenizer.json` (model.type "BPE",
// vocab, merges as "a b" strings or [a, b] pairs, added_tokens, normalizer, pre_tokenizer), or,
// without it, the slow tokenizer's vocab.json + merges.txt. Anything llama.cpp's `gpt2` tokenizer
// with the `qwen2` pre-tokenizer would not reproduce is refused with a typed error.
import path from 'node:path';
import { ModelLoadError, UnsupportedError } from '../errors';
import { checkInputFile, isInputFile, readInputFileSync } from '../util/file-kind';
import { AddedToken, JsonObject, readJsonObject } from './added-tokens';
import { BYTE_CHARS } from './byte-level';

/**
 * Qwen2's pre-tokenizer split, as tokenizer.json writes it; llama.cpp implements the same split for
 * `tokenizer.ggml.pre = "qwen2"` (src/llama-vocab.cpp, LLAMA_VOCAB_PRE_TYPE_QWEN2).
 */
export const QWEN2_PRE_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

export interface HfBpeTokenizer {
  /** The BPE model's own tokens (byte-level text) → id; added tokens are separate. */
  vocab: Map<string, number>;
  /** Merge rules, highest priority first. */
  merges: [string, string][];
  /** tokenizer.json's added_tokens (empty for vocab.json + merges.txt). */
  added: AddedToken[];
  /** What the user should know (e.g. a normalizer llama.cpp does not apply). */
  warnings: string[];
  /** The file(s) read, for messages. */
  source: string;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseVocab(v: unknown, where: string): Map<string, number> {
  if (!isObject(v)) throw new ModelLoadError(`${where}: the vocabulary is missing or not an object`);
  const vocab = new Map<string, number>();
  const seenIds = new Set<number>();
  for (const [token, id] of Object.entries(v)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) throw new ModelLoadError(`${where}: token ${JSON.stringify(token)} has a bad id ${JSON.stringify(id)}`);
    if (seenIds.has(id as number)) throw new ModelLoadError(`${where}: id ${id} is given to more than one token`);
    seenIds.add(id as number);
    vocab.set(token, id as number);
  }
  if (vocab.size === 0) throw new ModelLoadError(`${where}: the vocabulary is empty`);
  return vocab;
}

/** One merge: "a b" (exactly one space; tokens never hold a raw space in byte-level BPE) or [a, b]. */
function parseMerge(m: unknown, what: string): [string, string] {
  if (typeof m === 'string') {
    const parts = m.split(' ');
    if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return [parts[0], parts[1]];
  } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string' && m[0] !== '' && m[1] !== '') {
    return [m[0], m[1]];
  }
  throw new ModelLoadError(`${what} ${JSON.stringify(m)} is not "a b" or ["a", "b"]`);
}

function checkByteLevel(vocab: Map<string, number>, merges: [string, string][], where: string): void {
  const missing = BYTE_CHARS.filter((c) => !vocab.has(c));
  if (missing.length > 0) {
    throw new UnsupportedError(`${where}: not a byte-level BPE vocabulary (${missing.length} of the 256 byte characters are missing, e.g. ${JSON.stringify(missing[0])})`);
  }
  merges.forEach(([a, b], i) => {
    for (const t of [a, b, a + b]) {
      if (!vocab.has(t)) throw new ModelLoadError(`${where}: merge ${i} "${a} ${b}" uses ${JSON.stringify(t)}, which is not in the vocabulary`);
    }
  });
}

/** Sequences nest this deep at most; real tokenizers nest one level (fuzzing found 3,000 levels overflowing the stack). */
const MAX_SEQUENCE_DEPTH = 32;

/** Pre-tokenizer steps, flattening a Sequence, in order; without recursion. */
function steps(v: unknown, where = 'tokenizer.json'): JsonObject[] {
  const out: JsonObject[] = [];
  const stack: { node: unknown; depth: number }[] = [{ node: v, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (!isObject(node)) continue;
    if (node.type === 'Sequence' && Array.isArray(node.pretokenizers)) {
      if (depth >= MAX_SEQUENCE_DEPTH) throw new UnsupportedError(`${where}: pre_tokenizer Sequences nested deeper than ${MAX_SEQUENCE_DEPTH}`);
      for (let i = node.pretokenizers.length - 1; i >= 0; i--) stack.push({ node: node.pretokenizers[i], depth: depth + 1 });
    } else {
      out.push(node);
    }
  }
  return out;
}

/** Refuses a tokenizer.json whose text handling differs from what llama.cpp's qwen2 pre-tokenizer does. */
function checkTextHandling(json: JsonObject, where: string, warnings: string[]): void {
  const norm = json.normalizer;
  if (norm !== null && norm !== undefined) {
    const type = isObject(norm) ? norm.type : undefined;
    if (type !== 'NFC') throw new UnsupportedError(`${where}: normalizer ${JSON.stringify(type ?? norm)} is not supported (none or NFC only)`);
    warnings.push('tokenizer.json normalizes text to NFC; llama.cpp does not, so text that is not already NFC may tokenize differently');
  }
  const pre = steps(json.pre_tokenizer, where);
  const byteLevel = pre.find((s) => s.type === 'ByteLevel');
  if (!byteLevel) throw new UnsupportedError(`${where}: the pre-tokenizer has no ByteLevel step; only byte-level BPE (Qwen2's) is supported`);
  if (byteLevel.add_prefix_space === true) throw new UnsupportedError(`${where}: ByteLevel add_prefix_space = true is not supported`);
  const splits = pre.filter((s) => s.type === 'Split');
  const regex = splits.map((s) => (isObject(s.pattern) ? s.pattern.Regex : undefined));
  const isQwen2 = splits.length === 1 && regex[0] === QWEN2_PRE_REGEX && splits[0].behavior === 'Isolated' && splits[0].invert !== true &&
    byteLevel.use_regex !== true;
  if (!isQwen2) {
    throw new UnsupportedError(`${where}: the pre-tokenizer is not Qwen2's (split ${JSON.stringify(regex)}, ByteLevel use_regex ${JSON.stringify(byteLevel.use_regex)}), which is the only byte-level one supported`);
  }
  const other = pre.find((s) => s.type !== 'ByteLevel' && s.type !== 'Split');
  if (other) throw new UnsupportedError(`${where}: pre-tokenizer step '${String(other.type)}' is not supported`);
}

function parseAddedTokens(v: unknown, where: string): AddedToken[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ModelLoadError(`${where}: added_tokens is not a list`);
  return v.map((a, i) => {
    if (!isObject(a) || !Number.isSafeInteger(a.id) || (a.id as number) < 0 || typeof a.content !== 'string' || a.content === '') {
      throw new ModelLoadError(`${where}: added_tokens[${i}] needs an id and a non-empty content`);
    }
    return { id: a.id as number, content: a.content, special: a.special === true };
  });
}

function fromTokenizerJson(file: string): HfBpeTokenizer {
  const json = readJsonObject(file)!;
  const model = json.model;
  if (!isObject(model)) throw new ModelLoadError(`${file}: no model object`);
  if (model.type !== 'BPE') throw new UnsupportedError(`${file}: tokenizer model '${String(model.type)}' is not supported (byte-level BPE only)`);
  if (model.byte_fallback === true) throw new UnsupportedError(`${file}: BPE byte_fallback is not supported (byte-level BPE only)`);
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (typeof model[key] === 'string' && model[key] !== '') throw new UnsupportedError(`${file}: BPE ${key} ${JSON.stringify(model[key])} is not supported`);
  }
  // HF applies dropout at inference too, so a tokenizer with it is not deterministic.
  if (typeof model.dropout === 'number' && model.dropout > 0) throw new UnsupportedError(`${file}: BPE dropout is not supported`);
  if (!Array.isArray(model.merges)) throw new ModelLoadError(`${file}: model.merges is missing or not a list`);
  const warnings: string[] = [];
  checkTextHandling(json, file, warnings);
  const vocab = parseVocab(model.vocab, `${file} model.vocab`);
  const merges = model.merges.map((m, i) => parseMerge(m, `${file}: merge ${i}`));
  checkByteLevel(vocab, merges, file);
  return { vocab, merges, added: parseAddedTokens(json.added_tokens, file), warnings, source: file };
}

/** merges.txt: an optional "#version" first line, then one "a b" per line. */
function readMergesTxt(file: string): [string, string][] {
  let text: string;
  checkInputFile(file, 'merges file');
  try {
    text = readInputFileSync(file, 'merges file').toString('utf8');
  } catch (e) {
    throw new ModelLoadError((e as Error).message, { cause: e }); // readInputFileSync names the file
  }
  const lines = text.split(/\r?\n/);
  if (lines[0]?.startsWith('#')) lines[0] = '';
  const merges: [string, string][] = [];
  lines.forEach((line, i) => {
    if (line.trim() !== '') merges.push(parseMerge(line.trim(), `${file}: line ${i + 1}`));
  });
  return merges;
}

function fromVocabAndMerges(vocabFile: string, mergesFile: string): HfBpeTokenizer {
  const vocab = parseVocab(readJsonObject(vocabFile), vocabFile);
  const merges = readMergesTxt(mergesFile);
  checkByteLevel(vocab, merges, `${vocabFile} + merges.txt`);
  // The slow Qwen2Tokenizer hard-codes Qwen2's split regex and NFC; nothing to check in the files.
  const warnings = ['no tokenizer.json: vocab.json + merges.txt read with the slow Qwen2 tokenizer\'s fixed pre-tokenizer (Qwen2 split, NFC, which llama.cpp does not apply)'];
  return { vocab, merges, added: [], warnings, source: `${vocabFile} + merges.txt` };
}

/** The byte-level BPE tokenizer of a checkpoint folder: tokenizer.json, else vocab.json + merges.txt. */
export function readHfBpeTokenizer(dir: string): HfBpeTokenizer {
  const json = path.join(dir, 'tokenizer.json');
  if (isInputFile(json, 'tokenizer')) return fromTokenizerJson(json);
  const vocab = path.join(dir, 'vocab.json');
  const merges = path.join(dir, 'merges.txt');
  if (isInputFile(vocab, 'vocabulary') && isInputFile(merges, 'merges file')) return fromVocabAndMerges(vocab, merges);
  throw new ModelLoadError(`${dir}: no tokenizer.json (or vocab.json + merges.txt) for the byte-level BPE tokenizer`);
}
