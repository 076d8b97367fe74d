// A chat completion request body (OpenAI's shape) checked and turned into what the library asks:
// the system message, the conversation as user turns (text and images) and assistant replies,
// and AskOptions. Each message gets a key that says exactly what it prefills, so a slot can tell
// whether its context already holds a request's history (slots.ts).
import { createHash } from 'node:crypto';
import type { AskOptions, ContentPart } from '../llm/session';
import type { ScmOptions } from '../llm/scm';
import type { CropOptions } from '../msac/types';
import { isPresetName, PresetName } from '../msac/presets';
import { DEFAULTS, SERVER_LIMITS } from '../limits';
import { badRequest } from './api-error';
import { checkImageSizes, ImageBudget, imageBytes, ImageSourcePolicy } from './images';

export interface RequestPolicy extends ImageSourcePolicy {
  /** Largest max_tokens accepted. */
  maxTokens: number;
  /** What a request that does not send minimonkey.crop / minimonkey.scm gets (`serve --preset/--scm`). */
  defaults?: { crop?: PresetName; scm?: boolean };
}

export interface Turn {
  user: ContentPart[];
  /** The assistant's reply to it; undefined for the turn this request asks. */
  assistant?: string;
}

export interface ChatRequest {
  model: string;
  system: string | undefined;
  turns: Turn[];
  /** Keys of [system, user, assistant, user, ...]: what the context holds after each message. */
  keys: string[];
  options: Omit<AskOptions, 'signal' | 'onToken' | 'onProgress'>;
  stream: boolean;
  includeUsage: boolean;
  /** minimonkey.scm_heatmap: return each scored token's rectangle of the image (the page draws them). */
  heatmap: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The checked request; throws ApiError 400 naming the field at fault. */
export async function parseChatRequest(body: unknown, policy: RequestPolicy, signal: AbortSignal): Promise<ChatRequest> {
  if (!isObject(body)) throw badRequest('the request body must be a JSON object');
  for (const unsupported of ['tools', 'functions', 'tool_choice', 'logprobs', 'audio']) {
    if (body[unsupported] !== undefined && body[unsupported] !== null && body[unsupported] !== false) {
      throw badRequest(`${unsupported} is not supported by this server`, unsupported, 'unsupported_parameter');
    }
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw badRequest('only n = 1 is supported', 'n', 'unsupported_parameter');
  const options = askOptions(body, policy);
  // The server's defaults, then the request's own: a plain OpenAI client (no extension) gets --preset/--scm.
  const ext = { ...policy.defaults, ...extension(body.minimonkey) };
  Object.assign(options, ext);
  const { system, turns } = await conversation(body.messages, policy, signal);
  const extKey = JSON.stringify([ext.crop ?? null, ext.scm ?? null]);
  const keys = [hash(['system', system ?? null])];
  for (const t of turns) {
    keys.push(hash(['user', partsKey(t.user), extKey]));
    if (t.assistant !== undefined) keys.push(assistantKey(t.assistant));
  }
  const so = body.stream_options;
  return {
    model: typeof body.model === 'string' ? body.model : '',
    system,
    turns,
    keys,
    options,
    stream: body.stream === true,
    includeUsage: isObject(so) && so.include_usage === true,
    heatmap: isObject(body.minimonkey) && body.minimonkey.scm_heatmap === true,
  };
}

/** The key of an assistant message with this text. */
export function assistantKey(text: string): string {
  return hash(['assistant', text]);
}

function hash(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex');
}

function partsKey(parts: ContentPart[]): unknown[] {
  // Images by the hash of their bytes: the same picture sent twice is the same prefix.
  return parts.map((p) => (typeof p === 'string' ? p : p.type === 'text' ? p.text : { image: createHash('sha256').update(p.image as Uint8Array).digest('hex') }));
}

function num(body: Json, name: string, ok: (n: number) => boolean, range: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw badRequest(`${name} must be ${range} (got ${JSON.stringify(v)})`, name);
  return v;
}

function askOptions(body: Json, policy: RequestPolicy): ChatRequest['options'] {
  const o: ChatRequest['options'] = {};
  const maxName = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  const max = num(body, maxName, (n) => Number.isInteger(n) && n >= 1 && n <= policy.maxTokens, `an integer from 1 to ${policy.maxTokens}`);
  o.maxTokens = max ?? Math.min(DEFAULTS.maxTokens, policy.maxTokens);
  // Greedy unless asked: the reference's decoding, and what makes answers reproducible.
  o.temperature = num(body, 'temperature', (n) => n >= 0 && n <= 2, 'a number from 0 to 2') ?? 0;
  const topP = num(body, 'top_p', (n) => n > 0 && n <= 1, 'in (0, 1]');
  if (topP !== undefined) o.topP = topP;
  const seed = num(body, 'seed', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff, 'an integer from 0 to 4294967295');
  if (seed !== undefined) o.seed = seed;
  const stop = body.stop;
  if (typeof stop === 'string') o.stop = [stop];
  else if (Array.isArray(stop)) {
    if (stop.length > 4 || stop.some((s) => typeof s !== 'string' || s.length === 0)) throw badRequest('stop must be a string or up to 4 non-empty strings', 'stop');
    o.stop = stop as string[];
  } else if (stop !== undefined && stop !== null) throw badRequest('stop must be a string or an array of strings', 'stop');
  const rf = body.response_format;
  if (rf !== undefined && rf !== null) {
    if (!isObject(rf)) throw badRequest('response_format must be an object', 'response_format');
    if (rf.type === 'json_object') o.json = true;
    else if (rf.type === 'json_schema') {
      const js = rf.json_schema;
      if (!isObject(js) || !(isObject(js.schema) || typeof js.schema === 'boolean')) throw badRequest('response_format.json_schema.schema must be a JSON Schema', 'response_format.json_schema');
      o.json = js.schema as NonNullable<AskOptions['json']>;
    } else if (rf.type !== 'text') throw badRequest("response_format.type must be 'text', 'json_object' or 'json_schema'", 'response_format.type');
  }
  return o;
}

/** The `minimonkey` extension: crop preset (or ranges) and SCM. */
function extension(v: unknown): { crop?: PresetName | CropOptions; scm?: boolean | ScmOptions } {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw badRequest('minimonkey must be an object', 'minimonkey');
  const out: { crop?: PresetName | CropOptions; scm?: boolean | ScmOptions } = {};
  if (v.crop !== undefined) {
    if (typeof v.crop === 'string' && !isPresetName(v.crop)) throw badRequest(`unknown crop preset '${v.crop}'`, 'minimonkey.crop');
    if (typeof v.crop !== 'string' && !isObject(v.crop)) throw badRequest('minimonkey.crop must be a preset name or {detail, adaptive}', 'minimonkey.crop');
    out.crop = v.crop as PresetName | CropOptions;  // ranges are checked by the library (400 INVALID_ARGUMENT)
  }
  if (v.scm !== undefined) {
    if (typeof v.scm !== 'boolean' && !isObject(v.scm)) throw badRequest('minimonkey.scm must be a boolean or {keep, referenceExact}', 'minimonkey.scm');
    out.scm = v.scm as boolean | ScmOptions;
  }
  return out;
}

async function conversation(messages: unknown, policy: RequestPolicy, signal: AbortSignal): Promise<{ system: string | undefined; turns: Turn[] }> {
  if (!Array.isArray(messages) || messages.length === 0) throw badRequest('messages must be a non-empty array', 'messages');
  if (messages.length > SERVER_LIMITS.messages.default) throw badRequest(`at most ${SERVER_LIMITS.messages.default} messages`, 'messages');
  // Every image counted and sized before any is read (a file named 300 times is one 400, not 2.5 GB read).
  const urls = imageUrls(messages);
  if (urls.length > SERVER_LIMITS.images.default) {
    throw badRequest(`at most ${SERVER_LIMITS.images.default} images per request (got ${urls.length})`, urls[SERVER_LIMITS.images.default].param.replace(/\.image_url\.url$/, ''));
  }
  await checkImageSizes(urls, policy);
  const budget: ImageBudget = { left: policy.maxTotalBytes };
  let system: string | undefined;
  const turns: Turn[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const param = `messages[${i}]`;
    if (!isObject(m)) throw badRequest('each message must be an object', param);
    const role = m.role;
    if (role === 'system' || role === 'developer') {
      if (i !== 0) throw badRequest('a system message may only come first', `${param}.role`);
      system = textOnly(m.content, `${param}.content`);
    } else if (role === 'user') {
      const parts = await userParts(m.content, policy, `${param}.content`, signal, budget);
      const last = turns[turns.length - 1];
      // Consecutive user messages are one turn, as they would be one prompt.
      if (last && last.assistant === undefined) last.user.push('\n', ...parts);
      else turns.push({ user: parts });
    } else if (role === 'assistant') {
      const last = turns[turns.length - 1];
      if (!last || last.assistant !== undefined) throw badRequest('an assistant message must follow a user message', `${param}.role`);
      last.assistant = textOnly(m.content, `${param}.content`);
    } else {
      throw badRequest(`role must be system, user or assistant (got ${JSON.stringify(role)})`, `${param}.role`);
    }
  }
  if (turns.length === 0 || turns[turns.length - 1].assistant !== undefined) throw badRequest('the last message must be a user message', 'messages');
  return { system, turns };
}

function textOnly(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content) && content.every((p) => isObject(p) && p.type === 'text' && typeof p.text === 'string')) {
    return content.map((p) => (p as { text: string }).text).join('');
  }
  throw badRequest('this message must be text (a string or text parts)', param);
}

/** The image_url URLs of the user messages, with their JSON paths (malformed parts are left to userParts). */
function imageUrls(messages: unknown[]): { url: string; param: string }[] {
  const out: { url: string; param: string }[] = [];
  messages.forEach((m, i) => {
    if (!isObject(m) || m.role !== 'user' || !Array.isArray(m.content)) return;
    m.content.forEach((p: unknown, j: number) => {
      if (!isObject(p) || p.type !== 'image_url') return;
      const iu = p.image_url;
      const url = typeof iu === 'string' ? iu : isObject(iu) && typeof iu.url === 'string' ? iu.url : undefined;
      if (url !== undefined) out.push({ url, param: `messages[${i}].content[${j}].image_url.url` });
    });
  });
  return out;
}

async function userParts(content: unknown, policy: RequestPolicy, param: string, signal: AbortSignal, budget: ImageBudget): Promise<ContentPart[]> {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content) || content.length === 0) throw badRequest('content must be a string or a non-empty array of parts', param);
  const out: ContentPart[] = [];
  for (let j = 0; j < content.length; j++) {
    const p = content[j];
    const pp = `${param}[${j}]`;
    if (isObject(p) && p.type === 'text' && typeof p.text === 'string') out.push({ type: 'text', text: p.text });
    else if (isObject(p) && p.type === 'image_url') {
      const iu = p.image_url;
      const url = typeof iu === 'string' ? iu : isObject(iu) && typeof iu.url === 'string' ? iu.url : undefined;
      if (url === undefined) throw badRequest('image_url must be {url}', `${pp}.image_url`);
      out.push({ type: 'image', image: await imageBytes(url, policy, `${pp}.image_url.url`, signal, budget) });
    } else {
      throw badRequest("each part must be {type: 'text', text} or {type: 'image_url', image_url: {url}}", pp);
    }
  }
  return out;
}
