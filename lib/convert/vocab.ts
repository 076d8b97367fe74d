// The llama.cpp SPM ('llama') vocabulary of a converted text model, as llama.cpp's InternLM2
// converter builds it (conversion/internlm.py `set_vocab`, facts §5.2): the SentencePiece pieces
// in id order, then the added tokens of tokenizer_config.json / added_tokens.json at their ids
// (score −1000, CONTROL if special, else USER_DEFINED), padded to the embedding's row count.
// Unlike llama.cpp's script, the 9 InternVL tokens past the SentencePiece vocabulary are appended
// (their script stops at the SP size, facts §5.2 "conversion caveat"), and SP user-defined pieces
// keep type USER_DEFINED, so llama.cpp matches them whole, as SentencePiece does.
import fs from 'node:fs';
import path from 'node:path';
import { ModelLoadError } from '../errors';
import { PieceType, SpModel, SpModelType } from './sentencepiece';

export interface ConvertedVocab {
  tokens: string[];
  scores: number[];
  types: PieceType[];
  bosId: number;
  eosId: number;
  unkId: number;
  padId: number | undefined;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  chatTemplate: string | undefined;
  /** Things a user should know about (unusual normalizer, renamed pieces). */
  warnings: string[];
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** The chat models' end-of-turn token; llama.cpp's converter makes it eos (facts §5.2). */
export const CHAT_EOS = '<|im_end|>';

function readJson(file: string): Record<string, unknown> | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ModelLoadError(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** A token given as a string or as an AddedToken object {content}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

function collectAdded(dir: string, tokCfg: Record<string, unknown> | undefined): AddedToken[] {
  const byId = new Map<number, AddedToken>();
  const addedJsonFile = path.join(dir, 'added_tokens.json');
  const addedJson = readJson(addedJsonFile);
  if (addedJson) {
    for (const [content, id] of Object.entries(addedJson)) {
      if (!Number.isSafeInteger(id) || (id as number) < 0) throw new ModelLoadError(`${addedJsonFile}: bad id for '${content}'`);
      byId.set(id as number, { id: id as number, content, special: false });
    }
  }
  const decoder = tokCfg?.added_tokens_decoder;
  if (decoder !== undefined) {
    if (typeof decoder !== 'object' || decoder === null) throw new ModelLoadError(`${dir}/tokenizer_config.json: added_tokens_decoder is not an object`);
    for (const [key, data] of Object.entries(decoder as Record<string, unknown>)) {
      const id = Number(key);
      const content = tokenText(data);
      if (!Number.isSafeInteger(id) || id < 0 || content === undefined) throw new ModelLoadError(`${dir}/tokenizer_config.json: bad added token '${key}'`);
      byId.set(id, { id, content, special: (data as { special?: unknown }).special === true });
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

export function buildVocab(dir: string, sp: SpModel, embeddingRows: number): ConvertedVocab {
  const warnings: string[] = [];
  if (sp.modelType !== SpModelType.BPE) {
    warnings.push(`tokenizer.model is a SentencePiece ${SpModelType[sp.modelType] ?? sp.modelType} model; llama.cpp's SPM tokenizer implements BPE merges, so tokenization may differ`);
  }
  if (sp.removeExtraWhitespaces) warnings.push('tokenizer.model collapses repeated whitespace (remove_extra_whitespaces); llama.cpp does not');
  if (sp.normalizerName !== 'identity') warnings.push(`tokenizer.model uses the '${sp.normalizerName}' normalizer; llama.cpp applies no normalization`);

  const tokens: string[] = [];
  const scores: number[] = [];
  const types: PieceType[] = [];
  for (const p of sp.pieces) {
    let text = p.piece;
    if (text === '\x00') {
      text = '🐉'; // llama.cpp's converter does the same: a NUL piece cannot live in a C string
      warnings.push("piece '\\x00' renamed to '🐉', as llama.cpp's converter does");
    }
    let type = p.type;
    if (text.startsWith('[UNUSED')) type = PieceType.UNUSED;
    tokens.push(text);
    scores.push(p.score);
    types.push(type);
  }

  const tokCfg = readJson(path.join(dir, 'tokenizer_config.json'));
  const added = collectAdded(dir, tokCfg);
  for (const a of added) {
    while (tokens.length <= a.id) {
      tokens.push(`[PAD${tokens.length}]`);
      scores.push(-1000);
      types.push(PieceType.UNUSED);
    }
    if (a.id < sp.pieces.length && types[a.id] !== PieceType.UNUSED && tokens[a.id] !== a.content) {
      warnings.push(`added token ${a.id} '${a.content}' replaces the SentencePiece piece '${tokens[a.id]}'`);
    }
    tokens[a.id] = a.content;
    scores[a.id] = -1000;
    types[a.id] = a.special ? PieceType.CONTROL : PieceType.USER_DEFINED;
  }
  // Pieces never filled by an added token (gaps) stay [PAD] pieces, unused.
  if (tokens.length > embeddingRows) {
    throw new ModelLoadError(`${dir}: the tokenizer has ${tokens.length} tokens but the embedding has only ${embeddingRows} rows`);
  }
  while (tokens.length < embeddingRows) {
    tokens.push(`[PAD${tokens.length}]`);
    scores.push(-1000);
    types.push(PieceType.UNUSED);
  }

  const index = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (!index.has(t)) index.set(t, i);
  });
  const lookup = (key: string, fallback: number | undefined): number | undefined => {
    const text = tokenText(tokCfg?.[key]);
    if (text === undefined) return fallback;
    const id = index.get(text);
    if (id === undefined) throw new ModelLoadError(`${dir}/tokenizer_config.json: ${key} '${text}' is not in the vocabulary`);
    return id;
  };
  const unkId = types.indexOf(PieceType.UNKNOWN);
  const bosId = lookup('bos_token', index.get('<s>') ?? 1)!;
  const eosFromCfg = lookup('eos_token', index.get('</s>') ?? 2)!;
  const chatEos = added.find((a) => a.content === CHAT_EOS);
  const bool = (key: string, fallback: boolean) => (typeof tokCfg?.[key] === 'boolean' ? (tokCfg[key] as boolean) : fallback);
  const template = tokCfg?.chat_template;
  return {
    tokens,
    scores,
    types,
    bosId,
    eosId: chatEos ? chatEos.id : eosFromCfg,
    unkId: unkId >= 0 ? unkId : 0,
    padId: lookup('pad_token', undefined),
    addBos: bool('add_bos_token', true),
    addEos: bool('add_eos_token', false),
    addSpacePrefix: sp.addDummyPrefix,
    chatTemplate: typeof template === 'string' ? template : undefined,
    warnings,
  };
}
