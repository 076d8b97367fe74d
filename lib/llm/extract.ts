// model.extract(image, schema): one question about one document image whose answer is JSON of the
// schema's shape. The question names the fields (and their descriptions) in the schema's order;
// the grammar guarantees the shape; the reply is parsed into the value returned.
import { IncompleteError, InvalidArgumentError } from '../errors';
import type { ImageInput } from '../image/load';
import type { PresetName } from '../msac/presets';
import type { CropOptions } from '../msac/types';
import type { ScmOptions } from './scm';
import { AskOptions, settleAsk, settleContent, SettledAsk } from './ask-options';
import type { AskResult, ChatSession } from './session';
import type { JsonSchema } from './json-schema';

export interface ExtractOptions {
  /** Said before the field list (default: "Read this document and extract these fields."). */
  instructions?: string;
  crop?: PresetName | CropOptions;
  scm?: boolean | ScmOptions;
  /** Most tokens of the answer (default 1024). */
  maxTokens?: number;
  signal?: AbortSignal;
}

type Obj = { [k: string]: unknown };

function fieldLines(schema: Obj, indent: string, depth: number): string[] {
  const props = schema.properties as Obj | undefined;
  if (!props || typeof props !== 'object' || depth > 3) return [];
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const lines: string[] = [];
  for (const [name, s] of Object.entries(props)) {
    const p = (s && typeof s === 'object' ? s : {}) as Obj;
    const about = typeof p.description === 'string' ? p.description : typeof p.title === 'string' ? p.title : '';
    const type = Array.isArray(p.type) ? p.type.join(' or ') : typeof p.type === 'string' ? p.type : '';
    const detail = [type, required.has(name) ? '' : 'optional'].filter(Boolean).join(', ');
    lines.push(`${indent}- ${name}${detail ? ` (${detail})` : ''}${about ? `: ${about}` : ''}`);
    const items = p.items && typeof p.items === 'object' ? (p.items as Obj) : undefined;
    lines.push(...fieldLines(items ?? p, `${indent}  `, depth + 1));
  }
  return lines;
}

/** The question extract() asks: the instructions, then one line per field with its description. */
export function extractionQuestion(schema: JsonSchema, instructions?: string): string {
  const head = instructions ?? 'Read this document and extract these fields.';
  const obj = typeof schema === 'object' && schema !== null ? (schema as Obj) : {};
  const lines = fieldLines(obj, '', 0);
  const about = typeof obj.description === 'string' ? `${obj.description}\n` : '';
  return `${head}\n${about}${lines.length > 0 ? `${lines.join('\n')}\n` : ''}Answer with JSON only.`;
}

/**
 * The extraction's ask, settled before any session is made: a bad option fails before a sequence is
 * waited for or a context allocated.
 */
export function settleExtract(schema: JsonSchema, o: ExtractOptions): SettledAsk {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('extract options must be an object');
  if (o.instructions !== undefined && typeof o.instructions !== 'string') throw new InvalidArgumentError('instructions must be a string');
  const ask: AskOptions = { json: schema, maxTokens: o.maxTokens ?? 1024, crop: o.crop, signal: o.signal };
  if (o.scm !== undefined) ask.scm = o.scm;
  return settleAsk(ask);
}

/** Runs the extraction on a fresh session (disposed after). */
export async function extract<T>(
  chat: () => Promise<ChatSession>, image: ImageInput, schema: JsonSchema, o: ExtractOptions = {},
): Promise<T> {
  const ask = settleExtract(schema, o);
  const question = settleContent([{ type: 'image', image }, extractionQuestion(schema, o.instructions)]);
  const session = await chat();
  try {
    const result: AskResult = await session.askSettled(question, ask);
    if (result.json === undefined) {
      throw new IncompleteError(`the answer stopped (${result.finishReason}) after ${result.tokens.generated} tokens, before its JSON was complete`, result);
    }
    return result.json as T;
  } finally {
    session.dispose();
  }
}
