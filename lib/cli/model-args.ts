// Options shared by the commands that run the model (ask, chat, demo): how the pair is loaded
// (--model, --mmproj, --threads, --context) and how a question is answered (--preset,
// --max-tokens, --temperature, --seed, --scm). Checks happen here so every command rejects bad
// values the same way, before any file is read (exit 2).
import fs from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { AskOptions } from '../llm/session';
import { isPresetName, PRESET_NAMES, PresetName } from '../msac/presets';

/** A bad command line: the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export const LOAD_OPTIONS = {
  model: { type: 'string', short: 'm' },
  mmproj: { type: 'string' },
  threads: { type: 'string', short: 't' },
  context: { type: 'string' },
} as const satisfies OptionSpec;

export const ASK_OPTIONS = {
  preset: { type: 'string', short: 'p' },
  'max-tokens': { type: 'string', short: 'n' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  scm: { type: 'boolean' },
  'json-schema': { type: 'string' },
  grammar: { type: 'string' },
} as const satisfies OptionSpec;

export const LOAD_USAGE = `  -m, --model FILE       the text model GGUF (internlm2)
  --mmproj FILE          the vision projector GGUF (clip / internvl)
  -t, --threads N        CPU threads (default: all cores)
  --context N            tokens of context per conversation (default 8192)`;

export const ASK_USAGE = `  -p, --preset NAME      crop preset: ${PRESET_NAMES.join(', ')} (default: default)
  -n, --max-tokens N     most tokens to generate (default 512)
  --temperature T        0 = greedy, the reference's decoding (default 0)
  --seed N               sampling seed, for temperature > 0
  --scm                  scale compression (SCM): fewer detail tokens, faster prefill
  --json-schema FILE     answer with JSON that validates against this JSON Schema file
  --grammar FILE         answer following this GBNF grammar file (start rule: root)`;

/** True when parseArgs or our own checks rejected the command line. */
export function isUsageError(e: unknown): boolean {
  return e instanceof UsageError || String((e as { code?: unknown })?.code ?? '').startsWith('ERR_PARSE_ARGS');
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
  mmproj: string;
  threads?: number;
  contextSize?: number;
}

/** --model/--mmproj/--threads/--context, checked. */
export function loadArgs(values: { model?: string; mmproj?: string; threads?: string; context?: string }): LoadArgs {
  if (!values.model) throw new UsageError('--model is required');
  if (!values.mmproj) throw new UsageError('--mmproj is required');
  return {
    model: values.model,
    mmproj: values.mmproj,
    threads: integer(values.threads, '--threads', 1, 1024),
    contextSize: integer(values.context, '--context', 64, 1 << 24),
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
    maxTokens: integer(values['max-tokens'], '--max-tokens', 1, 1 << 24),
    temperature,
    seed: integer(values.seed, '--seed', 0, 0xffffffff),
    scm: values.scm === true,
    ...constraintArgs(values['json-schema'], values.grammar),
  };
}

// --json-schema / --grammar: read now, so a missing or malformed file is a usage error (exit 2).
function constraintArgs(schemaFile: string | undefined, grammarFile: string | undefined): { json?: object | boolean; grammar?: string } {
  if (schemaFile !== undefined && grammarFile !== undefined) throw new UsageError('give --json-schema or --grammar, not both');
  const read = (flag: string, file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
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
 * readable files. Checked before the model loads, so a typo costs no load time.
 */
export function missingFile(files: [what: string, file: string][]): string | undefined {
  for (const [what, file] of files) {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return `${what} file not found: ${file}`;
    }
    if (!st.isFile()) return `${what} is not a file: ${file}`;
  }
  return undefined;
}

/** Runs a command's parser: the parsed options, or the exit code after `--help` (0) or a usage error (2). */
export function parseCommand<T extends object>(command: string, usage: string, parse: (argv: string[]) => T | 'help', argv: string[]): T | number {
  try {
    const p = parse(argv);
    if (p === 'help') {
      process.stdout.write(usage);
      return 0;
    }
    return p;
  } catch (e) {
    if (!isUsageError(e)) throw e;
    process.stderr.write(`minimonkey ${command}: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
}
