// Options shared by the commands that run the model (ask, chat, demo): how the pair is loaded
// (--model, --mmproj, --threads, --context) and how a question is answered (--preset,
// --max-tokens, --temperature, --seed, --scm). Checks happen here so every command rejects bad
// values the same way, before any file is read (exit 2).
import fs from 'node:fs';
import { IoError } from '../errors';
import { checkKvCacheType, DEFAULTS, FILE_LIMITS, KV_CACHE_TYPES, KvCacheType, LIMITS, limitRange } from '../limits';
import type { AskOptions } from '../llm/session';
import { isPresetName, PRESET_NAMES, PresetName } from '../msac/presets';
import { checkInputFile, readInputFileSync } from '../util/file-kind';
import { OptionSpec, UsageError } from './command';
import { parseRepoRef } from '../hub/home';
import { resolveModelFiles } from '../model/resolve';
import { FAMILY_NAMES, FamilyName, isFamilyName } from '../family';
import { checkDevice, DeviceOption } from '../devices';

export const LOAD_OPTIONS = {
  model: { type: 'string', short: 'm' },
  mmproj: { type: 'string' },
  threads: { type: 'string', short: 't' },
  context: { type: 'string' },
  family: { type: 'string' },
  device: { type: 'string' },
  'gpu-layers': { type: 'string' },
  'kv-cache-type': { type: 'string' },
  'no-page-cache': { type: 'boolean' },
} as const satisfies OptionSpec;

/** ask, chat and serve: the model in a child process (lib/isolate). */
export const ISOLATE_OPTIONS = { isolate: { type: 'boolean' } } as const satisfies OptionSpec;

export const ISOLATE_USAGE = `  --isolate              run the model in a child process: a crash there is a WORKER error
                         (exit 1), not the end of this process; the next question starts it again`;

export const ASK_OPTIONS = {
  preset: { type: 'string', short: 'p' },
  'max-tokens': { type: 'string', short: 'n' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  scm: { type: 'boolean' },
  'json-schema': { type: 'string' },
  grammar: { type: 'string' },
} as const satisfies OptionSpec;

export const LOAD_USAGE = `  -m, --model FILE       the text model GGUF, or hf:owner/name for a model fetched with \`minimonkey pull\`
  --mmproj FILE          the vision projector GGUF (not needed with hf:owner/name)
  -t, --threads N        CPU threads (default: the physical cores; at most the logical CPUs)
  --context N            tokens of context per conversation (default: what each turn's crop plan
                         and --max-tokens need, up to the model's trained context)
  --family NAME          ${FAMILY_NAMES.join(' | ')}: prompt template and system message
                         (default: detected from the text model's chat template)
  --device NAME          auto | cpu | a ggml device (Vulkan0, CUDA0: \`minimonkey runtime\` lists them);
                         default ${DEFAULTS.device}: the first GPU found, else the CPU
  --gpu-layers N         text-model layers on that GPU (default ${DEFAULTS.gpuLayers}: all)
  --kv-cache-type TYPE   ${KV_CACHE_TYPES.join(' | ')}: the context's KV cells (default ${DEFAULTS.kvCacheType};
                         q8_0 about halves the context's memory)
  --no-page-cache        do not read or store image embeddings in MINIMONKEY_HOME/page-cache
                         (also MINIMONKEY_PAGE_CACHE=off)`;

export const ASK_USAGE = `  -p, --preset NAME      crop preset: ${PRESET_NAMES.join(', ')} (default: default)
  -n, --max-tokens N     most tokens to generate (default ${DEFAULTS.maxTokens})
  --temperature T        0 = greedy, the reference's decoding (default ${DEFAULTS.temperature})
  --seed N               sampling seed, for temperature > 0 (default ${DEFAULTS.seed})
  --scm                  scale compression (SCM): fewer detail tokens, faster prefill
  --json-schema FILE     answer with JSON that validates against this JSON Schema file
  --grammar FILE         answer following this GBNF grammar file (start rule: root)`;

function kvCacheTypeFlag(text: string): KvCacheType {
  try {
    return checkKvCacheType(text);
  } catch (e) {
    throw new UsageError(`--kv-cache-type: ${(e as Error).message}`);
  }
}

function deviceFlag(text: string): DeviceOption {
  try {
    return checkDevice(text);
  } catch (e) {
    throw new UsageError(`--device: ${(e as Error).message}`);
  }
}

/** A flag whose range is the API's own (lib/limits.ts): the CLI says the same numbers. */
export function limitFlag(text: string | undefined, flag: string, name: keyof typeof LIMITS): number | undefined {
  const r = limitRange(name);
  return integer(text, flag, r.min, r.max);
}

/** An integer flag from min to max (a usage error otherwise). */
export function intFlag(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  return integer(text, flag, min, max);
}

function integer(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

export interface LoadArgs {
  model: string;
  /** Undefined only with an hf: model (the pulled mmproj). */
  mmproj?: string;
  threads?: number;
  contextSize?: number;
  family?: FamilyName;
  device?: DeviceOption;
  gpuLayers?: number;
  kvCacheType?: KvCacheType;
  /** --isolate (ask, chat, serve). */
  isolate?: 'process';
  /** On (`{}`: MINIMONKEY_HOME/page-cache) unless --no-page-cache or MINIMONKEY_PAGE_CACHE=off. */
  pageCache: false | Record<string, never>;
}

/** MINIMONKEY_PAGE_CACHE=off (or 0, false, no): the CLI's page cache is off, as with --no-page-cache. */
export function pageCacheOffByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(off|0|false|no)$/i.test((env.MINIMONKEY_PAGE_CACHE ?? '').trim());
}

/** --model/--mmproj/--threads/--context/--family/--device/--gpu-layers/--kv-cache-type/--no-page-cache, checked. */
export function loadArgs(values: {
  model?: string; mmproj?: string; threads?: string; context?: string; family?: string; device?: string; 'gpu-layers'?: string; isolate?: boolean;
  'kv-cache-type'?: string; 'no-page-cache'?: boolean;
}): LoadArgs {
  if (!values.model) throw new UsageError('--model is required');
  if (!values.mmproj && !values.model.startsWith('hf:')) throw new UsageError('--mmproj is required (or --model hf:owner/name for a pulled model)');
  if (values.model.startsWith('hf:')) parseHfRef(values.model);
  return {
    model: values.model,
    mmproj: values.mmproj,
    threads: limitFlag(values.threads, '--threads', 'threads'),
    contextSize: limitFlag(values.context, '--context', 'contextSize'),
    ...(values.family !== undefined ? { family: familyFlag(values.family) } : {}),
    ...(values.device !== undefined ? { device: deviceFlag(values.device) } : {}),
    ...(values['gpu-layers'] !== undefined ? { gpuLayers: limitFlag(values['gpu-layers'], '--gpu-layers', 'gpuLayers') } : {}),
    ...(values['kv-cache-type'] !== undefined ? { kvCacheType: kvCacheTypeFlag(values['kv-cache-type']) } : {}),
    ...(values.isolate === true ? { isolate: 'process' as const } : {}),
    pageCache: values['no-page-cache'] === true || pageCacheOffByEnv() ? false : {},
  };
}

export interface AskArgs {
  crop: PresetName;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  scm: boolean;
  /** --json-schema: the parsed schema file. */
  json?: object | boolean;
  /** --grammar: the grammar file's text. */
  grammar?: string;
}

/** --preset/--max-tokens/--temperature/--seed/--scm, checked. */
export function askArgs(values: {
  preset?: string; 'max-tokens'?: string; temperature?: string; seed?: string; scm?: boolean; 'json-schema'?: string; grammar?: string;
}): AskArgs {
  const crop = values.preset ?? 'default';
  if (!isPresetName(crop)) throw new UsageError(`unknown preset '${crop}'; expected one of ${PRESET_NAMES.join(', ')}`);
  let temperature: number | undefined;
  if (values.temperature !== undefined) {
    temperature = Number(values.temperature);
    if (values.temperature.trim() === '' || !(temperature >= 0 && temperature <= 100)) {
      throw new UsageError(`--temperature must be a number from 0 to 100, got '${values.temperature}'`);
    }
  }
  return {
    crop,
    maxTokens: limitFlag(values['max-tokens'], '--max-tokens', 'maxTokens'),
    temperature,
    seed: limitFlag(values.seed, '--seed', 'seed'),
    scm: values.scm === true,
    ...constraintArgs(values['json-schema'], values.grammar),
  };
}

// --json-schema / --grammar: read now, so a missing or malformed file is a usage error (exit 2).
function constraintArgs(schemaFile: string | undefined, grammarFile: string | undefined): { json?: object | boolean; grammar?: string } {
  if (schemaFile !== undefined && grammarFile !== undefined) throw new UsageError('give --json-schema or --grammar, not both');
  // Through the one input reader: a FIFO, a device or a /proc file is refused (IO) before any read, and the size is bounded.
  const read = (flag: string, file: string) => {
    try {
      return readInputFileSync(file, `${flag} file`, { maxBytes: FILE_LIMITS.textBytes.default }).toString('utf8');
    } catch (e) {
      if (e instanceof IoError && !/\(ENOENT\)|\(EACCES\)|\(EISDIR\)/.test(e.message)) throw e;
      throw new UsageError(`${flag}: cannot read ${file}`);
    }
  };
  if (grammarFile !== undefined) return { grammar: read('--grammar', grammarFile) };
  if (schemaFile === undefined) return {};
  try {
    return { json: JSON.parse(read('--json-schema', schemaFile)) as object | boolean };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--json-schema: ${schemaFile} is not JSON (${(e as Error).message})`);
  }
}

/** The library's AskOptions for these arguments. `scm` is passed only when asked for. */
export function askOptions(a: AskArgs, signal?: AbortSignal): AskOptions {
  const o: AskOptions = { crop: a.crop, signal };
  if (a.maxTokens !== undefined) o.maxTokens = a.maxTokens;
  if (a.temperature !== undefined) o.temperature = a.temperature;
  if (a.seed !== undefined) o.seed = a.seed;
  if (a.scm) o.scm = true;
  if (a.json !== undefined) o.json = a.json as AskOptions['json'];
  if (a.grammar !== undefined) o.grammar = a.grammar;
  return o;
}

export function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Says which of the given files is missing (a message naming it), or undefined when all are
 * readable files. Checked before the model loads, so a typo costs no load time. A folder, FIFO,
 * device, socket or /proc path throws an IoError (file-kind.ts): it would block or fail the load.
 */
export function missingFile(files: [what: string, file: string][]): string | undefined {
  for (const [what, file] of files) {
    checkInputFile(file, what);
    if (!fs.existsSync(file)) return `${what} file not found: ${file}`;
  }
  return undefined;
}

function familyFlag(name: string): FamilyName {
  if (!isFamilyName(name)) throw new UsageError(`--family must be one of ${FAMILY_NAMES.join(', ')}, got '${name}'`);
  return name;
}

function parseHfRef(ref: string): void {
  try {
    parseRepoRef(ref);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The pair's paths (an hf: model resolved to what pull left), checked to exist (exit 1 if not). */
export function requireModelFiles(load: LoadArgs): LoadArgs & { mmproj: string } {
  const resolved = resolveModelFiles(load);
  requireFiles([['model', resolved.model], ['mmproj', resolved.mmproj]]);
  return resolved;
}

/** missingFile, as an IoError (exit 1 with its code). */
export function requireFiles(files: [what: string, file: string][]): void {
  const missing = missingFile(files);
  if (missing) throw new IoError(missing);
}
