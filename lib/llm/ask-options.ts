// What ChatSession.ask takes, and the same checked once at its edge into the object a turn runs
// on: ranges from LIMITS, defaults from DEFAULTS. The turn, the prompt and the generation loop read
// that object and check nothing again (the addon's own re-check of sampling and grammar stays).
import { InvalidArgumentError } from '../errors';
import type { ImageInput, LoadImageOptions } from '../image/load';
import { checkInt, DEFAULTS } from '../limits';
import type { PresetName } from '../msac/presets';
import type { CropOptions } from '../msac/types';
import { checkCallback, checkSignal } from '../util/abort';
import { checkSampling, SamplingOptions } from './sampling';
import { scmSettings, ScmOptions, ScmSettings } from './scm';
import { constraintGrammar, JsonSchema } from './structured';

export type ContentPart = string | { type: 'text'; text: string } | { type: 'image'; image: ImageInput; crop?: PresetName | CropOptions };
/** A question: plain text, or text and images in the order they should appear. */
export type Content = string | ContentPart[];

/** What a turn is doing: decode (images read, of the turn's), encode (tiles through the vision tower, of all the turn's tiles), scm (the pre-pass), prefill (prompt tokens). */
export interface AskProgress {
  phase: 'decode' | 'encode' | 'scm' | 'prefill';
  done: number;
  total: number;
}

export interface AskOptions extends SamplingOptions {
  /** Crop preset or ranges for images that do not set their own (default 'default', the reference's). */
  crop?: PresetName | CropOptions;
  /** How images are read (EXIF orientation, alpha, pixel limit). */
  image?: LoadImageOptions;
  /** Most tokens to generate (default DEFAULTS.maxTokens, 512: the reference demo's). */
  maxTokens?: number;
  /** The reply ends before the first of these strings (which is not part of it). */
  stop?: string[];
  /**
   * Scale compression (SCM, off by default as in the reference evaluation): the first two LLM
   * layers score each image's detail tokens and only the top `keep` fraction is prefilled.
   */
  scm?: boolean | ScmOptions;
  /**
   * Structured answer: the reply is JSON that validates against this JSON Schema (`true`: any JSON
   * value), parsed into `result.json`. Enforced by a grammar; a schema feature that cannot be
   * enforced is an UnsupportedError before any work (README "Structured answers").
   */
  json?: true | JsonSchema;
  /** A GBNF grammar (llama.cpp's syntax, start rule `root`) the reply must follow; not with `json`. */
  grammar?: string;
  signal?: AbortSignal;
  /** Each piece of text as it is generated, with the id of the token that completed it. */
  onToken?: (text: string, token: number) => void;
  onProgress?: (p: AskProgress) => void;
}

export interface SettledAsk {
  crop: PresetName | CropOptions | undefined;
  image: LoadImageOptions | undefined;
  maxTokens: number;
  stop: string[];
  /** null: SCM off. */
  scm: ScmSettings | null;
  /** Only the known keys, as the addon reads them. */
  sampling: SamplingOptions;
  /** The GBNF of `json` or `grammar`, bounded and measured; undefined: unconstrained. */
  grammar: string | undefined;
  /** `json` was asked for: the reply is parsed. */
  json: boolean;
  signal: AbortSignal | undefined;
  onToken: ((text: string, token: number) => void) | undefined;
  onProgress: ((p: AskProgress) => void) | undefined;
}

/** The question as parts, each checked to be text or an image. */
export function settleContent(content: Content): ContentPart[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) throw new InvalidArgumentError('content must be a string or an array of parts');
  for (const p of content) {
    if (typeof p === 'string') continue;
    if (p && typeof p === 'object' && p.type === 'text' && typeof p.text === 'string') continue;
    if (p && typeof p === 'object' && p.type === 'image' && p.image !== undefined && p.image !== null) continue;
    throw new InvalidArgumentError("each content part must be a string, {type: 'text', text} or {type: 'image', image}");
  }
  return content;
}

/** `o` checked and completed; throws InvalidArgumentError (UnsupportedError for a schema that cannot be enforced). */
export function settleAsk(o: AskOptions): SettledAsk {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('options must be an object');
  const maxTokens = checkInt('maxTokens', o.maxTokens) ?? DEFAULTS.maxTokens;
  checkSignal(o.signal);
  checkCallback(o.onToken, 'onToken');
  checkCallback(o.onProgress, 'onProgress');
  if (o.image !== undefined && (o.image === null || typeof o.image !== 'object')) throw new InvalidArgumentError('image options must be an object');
  if (o.stop !== undefined && (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string'))) {
    throw new InvalidArgumentError('stop must be an array of strings');
  }
  const scm = scmSettings(o.scm);
  const sampling = checkSampling(o);
  return {
    crop: o.crop,
    image: o.image,
    maxTokens,
    stop: o.stop ?? [],
    scm,
    sampling,
    grammar: constraintGrammar(o),
    json: o.json !== undefined,
    signal: o.signal,
    onToken: o.onToken,
    onProgress: o.onProgress,
  };
}
