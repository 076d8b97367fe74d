// The model-family table, one place. What differs between the model families minimonkey runs
// lives here, and loading (the pair check), prompting (template, system message), SCM, the
// converter (which HF LLM classes, how q/k rows are laid out) and the special-token check read it
// from here:
//
//   - the text architectures (llama.cpp names), with the facts about each that the converter and
//     the SCM pre-pass depend on;
//   - the chat families: InternVL2 / Mini-Monkey (internlm2-chat, facts §3.4) and InternVL2.5 /
//     InternVL3 (ChatML with InternVL's own system message, `internvl2_5` in InternVL's
//     conversation.py), detected from the loaded text model (its chat template, read by libllama).
//
// Facts that libllama knows about a loaded model (rope type, head counts, context, the chat
// template) come from the model's info, not from parsing the GGUF again; `checkArch` checks the
// table against what libllama says.
import { UnsupportedError } from './errors';
import type { PresetName } from './msac/presets';

/** LLM architectures, by llama.cpp name. */
export type TextArch = 'internlm2' | 'llama' | 'qwen2';

export interface TextArchFacts {
  arch: TextArch;
  /** Hugging Face `architectures` class names converted to this arch. */
  hfClasses: readonly string[];
  /**
   * libllama's rope type for the arch (llama_model_rope_type): 'norm' rotates pairs (2i, 2i+1), so
   * the converter permutes HF's rotate_half q/k rows; 'neox' rotates (i, i + d/2), HF's own order.
   */
  rope: 'norm' | 'neox';
  /** q/k/v biases: always (Qwen2), never (the others; a config asking for them is refused). */
  qkvBias: boolean;
  /** The tokenizer the checkpoint brings: SentencePiece (tokenizer.model) or byte-level BPE (tokenizer.json). */
  tokenizer: 'spm' | 'bpe';
  /** SCM's pre-pass (native/core/scm_*) implements this arch's layers 0-1. */
  scm: boolean;
}

export const TEXT_ARCHS: Readonly<Record<TextArch, TextArchFacts>> = Object.freeze({
  internlm2: { arch: 'internlm2', hfClasses: ['InternLM2ForCausalLM'], rope: 'norm', qkvBias: false, tokenizer: 'spm', scm: true },
  llama: { arch: 'llama', hfClasses: ['LlamaForCausalLM'], rope: 'norm', qkvBias: false, tokenizer: 'spm', scm: true },
  qwen2: { arch: 'qwen2', hfClasses: ['Qwen2ForCausalLM'], rope: 'neox', qkvBias: true, tokenizer: 'bpe', scm: true },
});

export const isTextArch = (a: string): a is TextArch => Object.prototype.hasOwnProperty.call(TEXT_ARCHS, a);

/** The arch for a Hugging Face LLM class name, or undefined. */
export function archOfHfClass(hfClass: string): TextArch | undefined {
  return (Object.values(TEXT_ARCHS) as TextArchFacts[]).find((f) => f.hfClasses.includes(hfClass))?.arch;
}

export const HF_CLASSES: readonly string[] = (Object.values(TEXT_ARCHS) as TextArchFacts[]).flatMap((f) => f.hfClasses);

/** The prompt's special tokens, by role (their strings are the same in every family so far). */
export interface SpecialStrings {
  imStart: string;
  imEnd: string;
  imgStart: string;
  imgEnd: string;
  imgContext: string;
}

export type FamilyName = 'internvl2' | 'internvl2.5';

export interface ModelFamily {
  name: FamilyName;
  /** In words, for messages. */
  label: string;
  /** The LLM archs this family's checkpoints use. */
  archs: readonly TextArch[];
  /** The system message the model was trained with. */
  systemMessage: string;
  /**
   * What follows `<|im_end|>` before the next `<|im_start|>`: '' for internlm2-chat (MPT style,
   * sep `<|im_end|>`), '\n' for ChatML (internvl2_5, sep `<|im_end|>\n`).
   */
  turnSeparator: '' | '\n';
  special: SpecialStrings;
  /** Image tokens per 448x448 tile (pixel shuffle 0.5 of a 32x32 patch grid). */
  tokensPerTile: number;
  /** The crop preset for images without one. */
  defaultPreset: PresetName;
  /** SCM (Mini-Monkey's scale compression) applies: it only needs the LLM's layers 0-1. */
  scm: boolean;
}

const SPECIAL: SpecialStrings = Object.freeze({ imStart: '<|im_start|>', imEnd: '<|im_end|>', imgStart: '<img>', imgEnd: '</img>', imgContext: '<IMG_CONTEXT>' });

/** InternVL2's (and Mini-Monkey's) system message, 157 bytes (facts §3.4). */
export const INTERNVL2_SYSTEM_MESSAGE =
  '你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。';

/** InternVL2.5's and InternVL3's system message (InternVL conversation.py, template `internvl2_5`). */
export const INTERNVL2_5_SYSTEM_MESSAGE =
  '你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。';

export const FAMILIES: Readonly<Record<FamilyName, ModelFamily>> = Object.freeze({
  internvl2: {
    name: 'internvl2', label: 'Mini-Monkey / InternVL2', archs: ['internlm2', 'llama'], systemMessage: INTERNVL2_SYSTEM_MESSAGE,
    turnSeparator: '', special: SPECIAL, tokensPerTile: 256, defaultPreset: 'default', scm: true,
  },
  'internvl2.5': {
    name: 'internvl2.5', label: 'InternVL2.5 / InternVL3', archs: ['qwen2', 'internlm2', 'llama'], systemMessage: INTERNVL2_5_SYSTEM_MESSAGE,
    turnSeparator: '\n', special: SPECIAL, tokensPerTile: 256, defaultPreset: 'default', scm: true,
  },
});

/** What the loaded text model tells us (libllama's view of it). */
export interface LoadedTextFacts {
  arch: string;
  /** libllama's rope type ('norm', 'neox', ...); absent from an older addon. */
  ropeType?: string;
  /** The GGUF's default chat template as libllama read it ('' or absent when none). */
  chatTemplate?: string;
}

/** The arch's table entry, checked against libllama's own reading of the model. */
export function checkArch(t: LoadedTextFacts, file: string): TextArchFacts {
  if (!isTextArch(t.arch)) throw new UnsupportedError(`${file}: text architecture '${t.arch}' is not supported (${Object.keys(TEXT_ARCHS).join(', ')})`);
  const facts = TEXT_ARCHS[t.arch];
  if (t.ropeType !== undefined && t.ropeType !== facts.rope) {
    throw new UnsupportedError(`${file}: libllama runs this ${t.arch} model with ${t.ropeType} rope, not the ${facts.rope} rope minimonkey's table has for ${t.arch}`);
  }
  return facts;
}

export const FAMILY_NAMES = Object.freeze(Object.keys(FAMILIES) as FamilyName[]);

export const isFamilyName = (n: unknown): n is FamilyName => typeof n === 'string' && Object.prototype.hasOwnProperty.call(FAMILIES, n);

/**
 * The family of a loaded text model, from its chat template (libllama's reading of
 * tokenizer.chat_template, which llama.cpp's converter and ours copy from tokenizer_config.json):
 * InternVL2.5 and InternVL3 write their system message ("书生·万象") into the template; InternVL2
 * and Mini-Monkey have a generic ChatML template (shared/real: `'<|im_end|>' + '\n'`, although the
 * model was trained without that newline, facts §3.4), so the newline alone says nothing. Anything
 * without InternVL2.5's mark is Mini-Monkey's internlm2-chat. `family` in the load options overrides.
 */
export function detectFamily(t: LoadedTextFacts): ModelFamily {
  const tmpl = t.chatTemplate ?? '';
  if (tmpl.includes('书生·万象')) return FAMILIES['internvl2.5'];
  return FAMILIES.internvl2;
}
