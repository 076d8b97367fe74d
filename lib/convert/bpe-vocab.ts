// The llama.cpp `gpt2` (byte-level BPE) vocabulary of a converted Qwen2 text model, as llama.cpp's
// converter builds it (conversion/base.py `get_vocab_base` + gguf-py `SpecialVocab`): tokens in id
// order (NORMAL), added tokens at their ids (CONTROL if special or spelled `<|…|>`, else
// USER_DEFINED), gaps and rows past the tokenizer as unused [PADn] pieces, merges as "a b".
import { ModelLoadError } from '../errors';
import { TokenType } from '../gguf/constants';
import { AddedToken, CHAT_EOS, chatTemplate, collectAdded, configBool, JsonObject, readTokenizerConfig, tokenText } from './added-tokens';
import { TextConfig } from './hf-config';
import { HfBpeTokenizer } from './hf-tokenizer';

/** A byte-level BPE ('gpt2') vocabulary, ready for the GGUF tokenizer keys. */
export interface BpeVocab {
  model: 'gpt2';
  /** llama.cpp's pre-tokenizer name: Qwen2's split regex. */
  pre: 'qwen2';
  tokens: string[];
  types: TokenType[];
  /** "a b" per merge rule, highest priority first. */
  merges: string[];
  bosId: number;
  eosId: number;
  padId: number | undefined;
  addBos: boolean;
  addEos: boolean;
  chatTemplate: string | undefined;
  warnings: string[];
}

/** The document separator of Qwen2's vocabulary: its bos (config.json bos_token_id) and pad. */
const QWEN2_ENDOFTEXT = '<|endoftext|>';

/** llama.cpp's `does_token_look_special`, the part that applies here: `<|…|>` added tokens are control tokens. */
const looksSpecial = (t: string) => t.startsWith('<|') && t.endsWith('|>');

export function buildBpeVocab(dir: string, tok: HfBpeTokenizer, text: TextConfig, embeddingRows: number): BpeVocab {
  const warnings = [...tok.warnings];
  const tokCfg = readTokenizerConfig(dir);
  const added = collectAdded(dir, tokCfg, tok.added, embeddingRows);
  let maxId = -1;
  for (const id of tok.vocab.values()) maxId = Math.max(maxId, id);
  for (const a of added) maxId = Math.max(maxId, a.id);
  if (maxId >= embeddingRows) {
    throw new ModelLoadError(`${tok.source}: the tokenizer has ids up to ${maxId} but the embedding has only ${embeddingRows} rows`);
  }
  const size = embeddingRows;
  const tokens: (string | undefined)[] = new Array(size).fill(undefined);
  const types: TokenType[] = new Array(size).fill(TokenType.UNUSED);
  for (const [t, id] of tok.vocab) {
    tokens[id] = t;
    types[id] = TokenType.NORMAL;
  }
  for (const a of added) {
    const before = tokens[a.id];
    if (before !== undefined && before !== a.content) warnings.push(`added token ${a.id} '${a.content}' replaces the BPE token '${before}'`);
    tokens[a.id] = a.content;
    types[a.id] = a.special || looksSpecial(a.content) ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  const filled = tokens.map((t, i) => t ?? `[PAD${i}]`);
  const index = new Map<string, number>();
  filled.forEach((t, i) => {
    if (index.has(t)) throw new ModelLoadError(`${tok.source}: token ${JSON.stringify(t)} has two ids (${index.get(t)} and ${i})`);
    index.set(t, i);
  });

  const ids = specialIds(dir, tokCfg, added, index, text);
  return {
    model: 'gpt2',
    pre: 'qwen2',
    tokens: filled,
    types,
    // llama.cpp splits a merge at its first space, so a space inside a pair's text is written as
    // U+0120, which is what the byte-level alphabet calls the space byte anyway.
    merges: tok.merges.map(([a, b]) => `${a.replace(/ /g, '\u0120')} ${b.replace(/ /g, '\u0120')}`),
    ...ids,
    addBos: configBool(tokCfg, 'add_bos_token', false),
    addEos: configBool(tokCfg, 'add_eos_token', false),
    chatTemplate: chatTemplate(tokCfg),
    warnings,
  };
}

/**
 * bos / eos / pad. A token tokenizer_config.json names must exist. Qwen2's tokenizer_config has
 * no bos_token, so bos falls back to llm_config.bos_token_id (what llama.cpp reads from a plain
 * Qwen2 config.json), then `<|endoftext|>`. eos is `<|im_end|>` when the chat token exists, as for
 * InternLM2 (the runtime stops on it), else tokenizer_config's eos_token, then llm_config's id.
 */
function specialIds(dir: string, tokCfg: JsonObject | undefined, added: AddedToken[], index: Map<string, number>, text: TextConfig) {
  const named = (key: string): number | undefined => {
    const t = tokenText(tokCfg?.[key]);
    if (t === undefined) return undefined;
    const id = index.get(t);
    if (id === undefined) throw new ModelLoadError(`${dir}/tokenizer_config.json: ${key} '${t}' is not in the vocabulary`);
    return id;
  };
  const inRange = (id: number | undefined) => (id !== undefined && id < index.size ? id : undefined);
  const bosId = named('bos_token') ?? inRange(text.bosTokenId) ?? index.get(QWEN2_ENDOFTEXT);
  if (bosId === undefined) {
    throw new ModelLoadError(`${dir}: no bos token (tokenizer_config.json has no bos_token, llm_config no bos_token_id, and there is no ${QWEN2_ENDOFTEXT})`);
  }
  const chatEos = added.find((a) => a.content === CHAT_EOS);
  const eosFromCfg = named('eos_token');
  const eosId = chatEos?.id ?? eosFromCfg ?? inRange(text.eosTokenId);
  if (eosId === undefined) throw new ModelLoadError(`${dir}: no eos token (no ${CHAT_EOS}, no eos_token in tokenizer_config.json, no eos_token_id in llm_config)`);
  return { bosId, eosId, padId: named('pad_token') };
}
