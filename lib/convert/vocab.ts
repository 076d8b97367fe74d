// The llama.cpp SPM ('llama') vocabulary of a converted text model, as llama.cpp's InternLM2
// converter builds it (conversion/internlm.py `set_vocab`, facts §5.2): the SentencePiece pieces
// in id order, then the added tokens of tokenizer_config.json / added_tokens.json at their ids
// (score −1000, CONTROL if special, else USER_DEFINED), padded to the embedding's row count.
// Unlike llama.cpp's script, the 9 InternVL tokens past the SentencePiece vocabulary are appended
// (their script stops at the SP size, facts §5.2 "conversion caveat"), and SP user-defined pieces
// keep type USER_DEFINED, so llama.cpp matches them whole, as SentencePiece does.
import { ModelLoadError } from '../errors';
import { CHAT_EOS, chatTemplate, collectAdded, configBool, readTokenizerConfig, tokenText } from './added-tokens';
import { PieceType, SpModel, SpModelType } from './sentencepiece';

/** A SentencePiece ('llama' / SPM) vocabulary, ready for the GGUF tokenizer keys. */
export interface SpmVocab {
  model: 'llama';
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

export function buildVocab(dir: string, sp: SpModel, embeddingRows: number): SpmVocab {
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

  const tokCfg = readTokenizerConfig(dir);
  const added = collectAdded(dir, tokCfg, [], embeddingRows);
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
  return {
    model: 'llama',
    tokens,
    scores,
    types,
    bosId,
    eosId: chatEos ? chatEos.id : eosFromCfg,
    unkId: unkId >= 0 ? unkId : 0,
    padId: lookup('pad_token', undefined),
    addBos: configBool(tokCfg, 'add_bos_token', true),
    addEos: configBool(tokCfg, 'add_eos_token', false),
    addSpacePrefix: sp.addDummyPrefix,
    chatTemplate: chatTemplate(tokCfg),
    warnings,
  };
}
