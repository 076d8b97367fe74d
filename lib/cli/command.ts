// The shape of a subcommand and the one runner main.ts drives them with, so every command treats
// its command line the same way: options parsed strictly (an unknown flag is a usage error), help
// on stdout with exit 0, a bad command line on stderr with the usage and exit 2, Ctrl-C as
// interrupt.ts says (exit 130), a typed failure as its message and code with exit 1.
import { parseArgs, ParseArgsConfig } from 'node:util';
import { AbortError, MiniMonkeyError } from '../errors';
import { asIoError } from '../util/io-error';
import type { Interrupts } from './interrupt';
import { didYouMean } from './suggest';

/** A bad command line: the runner prints it with the command's usage and exits 2. */
export class UsageError extends Error {}

/** True when parseArgs or a command's own checks rejected the command line. */
export function isUsageError(e: unknown): boolean {
  return e instanceof UsageError || String((e as { code?: unknown })?.code ?? '').startsWith('ERR_PARSE_ARGS');
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

type StrictConfig<O extends OptionSpec> = { args: string[]; options: O; allowPositionals: boolean; strict: true };

/**
 * node:util parseArgs, always strict, so no command can accept a flag it does not know. An unknown flag
 * is said plainly, with the closest flag the command has (parseArgs' own text is about positionals).
 */
export function parseOptions<O extends OptionSpec>(argv: string[], options: O, allowPositionals = false): ReturnType<typeof parseArgs<StrictConfig<O>>> {
  try {
    return parseArgs<StrictConfig<O>>({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    const unknown = (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec((e as Error).message)?.[1] : undefined;
    if (unknown === undefined) throw e;
    const flags = Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
    const flag = unknown.split('=')[0];
    throw new UsageError(`Unknown option '${flag}'${didYouMean(flag, flags.filter((f) => f.startsWith('--')))}`);
  }
}

export interface CliContext {
  /** Aborted by Ctrl-C; pass it to everything that can take long. */
  signal: AbortSignal;
  interrupts: Interrupts;
}

export interface CliCommand<T> {
  usage: string;
  /** The checked command line, or 'help'. Throws UsageError (or a parseArgs error) for a bad one. */
  parse(argv: string[]): T | 'help';
  run(args: T, ctx: CliContext): Promise<number>;
}

/** Runs `cmd` on `argv` with the exit-code contract above. */
export async function runCommand<T>(name: string, cmd: CliCommand<T>, argv: string[], interrupts: Interrupts): Promise<number> {
  const usageError = (e: unknown) => {
    process.stderr.write(`minimonkey ${name}: ${(e as Error).message}\n\n${cmd.usage}`);
    return 2;
  };
  let args: T | 'help';
  try {
    args = cmd.parse(argv);
  } catch (e) {
    if (!isUsageError(e)) throw e;
    return usageError(e);
  }
  if (args === 'help') {
    process.stdout.write(cmd.usage);
    return 0;
  }
  const interrupted = (): number => {
    process.stderr.write(`minimonkey ${name}: interrupted\n`);
    return interrupts.exitCode!;
  };
  try {
    const code = await cmd.run(args, { signal: interrupts.signal, interrupts });
    return interrupts.exitCode !== undefined ? interrupted() : code;
  } catch (e) {
    if (interrupts.exitCode !== undefined) {
      if (!(e instanceof AbortError)) process.stderr.write(`minimonkey ${name}: ${(e as Error)?.message ?? String(e)}\n`);
      return interrupted();
    }
    if (isUsageError(e)) return usageError(e);
    const typed = asIoError(e); // a raw EISDIR from deep down still gets a code and a path
    if (!(typed instanceof MiniMonkeyError)) throw e; // not ours: main prints it
    process.stderr.write(`minimonkey ${name}: ${typed.message} [${typed.code}]\n`);
    return 1;
  }
}
