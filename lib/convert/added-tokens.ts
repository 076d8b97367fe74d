// The tokenizer files every HF tokenizer shares, whatever its model: tokenizer_config.json (added
// tokens, bos/eos/pad, chat template) and added_tokens.json. Used by both vocabulary builders
// (SentencePiece in vocab.ts, byte-level BPE in bpe-vocab.ts).
import path from 'node:path';
import { ModelLoadError } from '../errors';
import { isInputFile, readInputFileSync } from '../util/file-kind';

export type JsonObject = Record<string, unknown>;

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** The chat models' end-of-turn token; llama.cpp's converter makes it eos (facts §5.2). */
export const CHAT_EOS = '<|im_end|>';

/** A JSON object file, or undefined when the file does not exist. */
export function readJsonObject(file: string): JsonObject | undefined {
  if (!isInputFile(file, 'tokenizer file')) return undefined; // a FIFO or a folder: refused (IO)
  try {
    const v = JSON.parse(readInputFileSync(file, 'tokenizer file').toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as JsonObject;
  } catch (e) {
    throw new ModelLoadError(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

export function readTokenizerConfig(dir: string): JsonObject | undefined {
  return readJsonObject(path.join(dir, 'tokenizer_config.json'));
}

/** A token given as a string or as an AddedToken object {content}. */
export function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * Added tokens by id, later sources overriding earlier ones: added_tokens.json (no special flag),
 * then `extra` (tokenizer.json's added_tokens), then tokenizer_config.json's added_tokens_decoder.
 *
 * Every id must be below `idLimit`, the embedding's row count: a token id is a row of the
 * embedding, whose bytes the checkpoint file really holds, so the bound is as large as any real
 * vocabulary and no larger than the file. Checked here, before the vocabulary builders pad their
 * arrays up to the largest id (an id of 100,000,000 would otherwise fill the heap with padding).
 */
export function collectAdded(dir: string, tokCfg: JsonObject | undefined, extra: AddedToken[], idLimit: number): AddedToken[] {
  const byId = new Map<number, AddedToken>();
  const checkId = (id: number, where: string, what: string) => {
    if (id >= idLimit) {
      throw new ModelLoadError(`${where}: ${what} has id ${id}, but the embedding has only ${idLimit} rows (ids 0..${idLimit - 1})`);
    }
  };
  const addedJsonFile = path.join(dir, 'added_tokens.json');
  const addedJson = readJsonObject(addedJsonFile);
  if (addedJson) {
    for (const [content, id] of Object.entries(addedJson)) {
      if (!Number.isSafeInteger(id) || (id as number) < 0) throw new ModelLoadError(`${addedJsonFile}: bad id for '${content}'`);
      checkId(id as number, addedJsonFile, `token '${content}'`);
      byId.set(id as number, { id: id as number, content, special: false });
    }
  }
  for (const a of extra) {
    checkId(a.id, `${dir}/tokenizer.json`, `added token '${a.content}'`);
    byId.set(a.id, a);
  }
  const decoder = tokCfg?.added_tokens_decoder;
  if (decoder !== undefined) {
    if (typeof decoder !== 'object' || decoder === null) throw new ModelLoadError(`${dir}/tokenizer_config.json: added_tokens_decoder is not an object`);
    for (const [key, data] of Object.entries(decoder as JsonObject)) {
      const id = Number(key);
      const content = tokenText(data);
      if (!Number.isSafeInteger(id) || id < 0 || content === undefined) throw new ModelLoadError(`${dir}/tokenizer_config.json: bad added token '${key}'`);
      checkId(id, `${dir}/tokenizer_config.json`, `added token '${content}'`);
      byId.set(id, { id, content, special: (data as { special?: unknown }).special === true });
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** tokenizer_config.json's boolean `key`, or `fallback`. */
export function configBool(tokCfg: JsonObject | undefined, key: string, fallback: boolean): boolean {
  return typeof tokCfg?.[key] === 'boolean' ? (tokCfg[key] as boolean) : fallback;
}

/** tokenizer_config.json's chat_template when it is a single string. */
export function chatTemplate(tokCfg: JsonObject | undefined): string | undefined {
  const t = tokCfg?.chat_template;
  return typeof t === 'string' ? t : undefined;
}
