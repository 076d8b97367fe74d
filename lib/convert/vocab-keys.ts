// The `tokenizer.*` keys of a converted text model, for either vocabulary kind, named as
// gguf-py/gguf/constants.py names them: SentencePiece ('llama', with scores, unk and the space
// prefix flag) or byte-level BPE ('gpt2', with the pre-tokenizer name and merges).
import { GgufValueType } from '../gguf/constants';
import { GgufWriter } from '../gguf/writer';
import { BpeVocab } from './bpe-vocab';
import { SpmVocab } from './vocab';

export type ConvertedVocab = SpmVocab | BpeVocab;

export function writeTokenizerKeys(w: GgufWriter, vocab: ConvertedVocab): void {
  w.addString('tokenizer.ggml.model', vocab.model);
  w.addString('tokenizer.ggml.pre', vocab.model === 'gpt2' ? vocab.pre : 'default');
  w.addArray('tokenizer.ggml.tokens', GgufValueType.STRING, vocab.tokens);
  if (vocab.model === 'llama') w.addArray('tokenizer.ggml.scores', GgufValueType.FLOAT32, vocab.scores);
  w.addArray('tokenizer.ggml.token_type', GgufValueType.INT32, vocab.types);
  if (vocab.model === 'gpt2') w.addArray('tokenizer.ggml.merges', GgufValueType.STRING, vocab.merges);
  w.addU32('tokenizer.ggml.bos_token_id', vocab.bosId);
  w.addU32('tokenizer.ggml.eos_token_id', vocab.eosId);
  if (vocab.model === 'llama') w.addU32('tokenizer.ggml.unknown_token_id', vocab.unkId);
  if (vocab.padId !== undefined) w.addU32('tokenizer.ggml.padding_token_id', vocab.padId);
  w.addBool('tokenizer.ggml.add_bos_token', vocab.addBos);
  w.addBool('tokenizer.ggml.add_eos_token', vocab.addEos);
  if (vocab.model === 'llama') w.addBool('tokenizer.ggml.add_space_prefix', vocab.addSpacePrefix);
  if (vocab.chatTemplate !== undefined) w.addString('tokenizer.chat_template', vocab.chatTemplate);
}
