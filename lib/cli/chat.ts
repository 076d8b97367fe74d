// `minimonkey chat`: a multi-turn conversation on one session, one question per line. Works the
// same with a terminal (prompt, progress bars, Ctrl-C stops a reply) and with piped input (each
// line answered in turn, exit at end of input), so scripts and tests can drive it.
import readline from 'node:readline';
import { AbortError, MiniMonkeyError } from '../errors';
import type { ChatSession, ContentPart } from '../llm/session';
import { MiniMonkey } from '../model';
import type { IsolatedMiniMonkey } from '../isolate/isolated-model';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';
import { ASK_OPTIONS, ASK_USAGE, askArgs, AskArgs, askOptions, ISOLATE_OPTIONS, ISOLATE_USAGE, LOAD_OPTIONS, LOAD_USAGE, loadArgs, LoadArgs, missingFile, requireModelFiles } from './model-args';
import { ProgressBar, replySummary, scmSummary } from './progress';

const COMMANDS = `  /image FILE [question]   attach an image to this question (or, with no question, to the next)
  @FILE [question]         the same; several @FILEs attach several images; "quote" paths with spaces
  /reset                   forget the conversation and start a new one
  /exit                    leave (so do Ctrl-D and the end of piped input)
  /help                    these commands`;

const USAGE = `usage: minimonkey chat --model FILE --mmproj FILE [options]

A conversation with the model, one question per line; each reply streams to stdout. Follow-up
questions reuse the conversation (only the new turn is prefilled). Input may be piped: every line
is answered in turn and the command exits at the end of input (exit 1 if a turn failed).

options:
${LOAD_USAGE}
${ISOLATE_USAGE}
${ASK_USAGE}
  --system TEXT          system message (default InternVL2's)
  -h, --help             this help

in the conversation:
${COMMANDS}
`;

interface Parsed {
  load: LoadArgs;
  ask: AskArgs;
  system?: string;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values, positionals } = parseOptions(argv, { ...LOAD_OPTIONS, ...ISOLATE_OPTIONS, ...ASK_OPTIONS, system: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (questions are typed in the conversation)`);
  return { load: loadArgs(values), ask: askArgs(values), system: values.system };
}

/** One input line, understood. */
type Line =
  | { kind: 'empty' | 'exit' | 'reset' | 'help' }
  | { kind: 'unknown'; command: string }
  | { kind: 'ask'; images: string[]; question: string };

/** Reads a path at the start of `s`: "quoted" (may hold spaces) or up to the first space. */
function takePath(s: string): { path: string; rest: string } {
  if (s.startsWith('"')) {
    const end = s.indexOf('"', 1);
    if (end > 0) return { path: s.slice(1, end), rest: s.slice(end + 1).trimStart() };
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(s);
  return m ? { path: m[1], rest: m[2] } : { path: '', rest: '' };
}

export function parseLine(raw: string): Line {
  let s = raw.trim();
  if (s === '') return { kind: 'empty' };
  const images: string[] = [];
  if (s.startsWith('/')) {
    const [command] = s.split(/\s+/, 1);
    if (command === '/exit' || command === '/quit') return { kind: 'exit' };
    if (command === '/reset') return { kind: 'reset' };
    if (command === '/help') return { kind: 'help' };
    if (command !== '/image') return { kind: 'unknown', command };
    const { path, rest } = takePath(s.slice(command.length).trimStart());
    if (path === '') return { kind: 'unknown', command: '/image with no file' };
    images.push(path);
    s = rest;
  }
  while (s.startsWith('@') && s.length > 1) {
    const { path, rest } = takePath(s.slice(1));
    images.push(path);
    s = rest;
  }
  return { kind: 'ask', images, question: s.trim() };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const load = requireModelFiles(args.load);

  const interactive = process.stdin.isTTY === true;
  const bar = new ProgressBar();
  // Ctrl-C stops the reply (or load) in flight; with nothing in flight it leaves: the default
  // interrupt (interrupt.ts), exit 130.
  let inFlight: AbortController | undefined = new AbortController();
  let rl: readline.Interface | undefined;
  const onInterrupt = () => {
    if (inFlight && !inFlight.signal.aborted) {
      inFlight.abort();
      return;
    }
    ctx.interrupts.stop();
  };
  const restore = ctx.interrupts.handle(onInterrupt);
  // Stopping (Ctrl-C with nothing in flight, or SIGTERM) ends the load or reply and the input loop.
  const onStop = () => {
    inFlight?.abort();
    rl?.close();
  };
  ctx.signal.addEventListener('abort', onStop, { once: true });

  let model: MiniMonkey | IsolatedMiniMonkey | undefined;
  try {
    try {
      model = await MiniMonkey.load({ ...load, signal: inFlight.signal, onProgress: bar.onLoad });
    } catch (e) {
      // Stopped while loading: nothing to talk to, so Ctrl-C here leaves, as interrupt.ts says.
      if (inFlight.signal.aborted && e instanceof AbortError && ctx.interrupts.exitCode === undefined) ctx.interrupts.stop();
      throw e;
    }
    bar.clear();
    inFlight = undefined;
    const session = await model.chat(args.system !== undefined ? { system: args.system } : {});
    if (interactive) process.stderr.write(`minimonkey chat: ask a question; /help lists the commands, /exit leaves.\n`);

    rl = readline.createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
    rl.on('SIGINT', onInterrupt); // a terminal in raw mode delivers Ctrl-C to readline, not as a signal
    rl.setPrompt('> ');
    let pending: string[] = [];
    let failed = false;
    if (interactive) rl.prompt();
    for await (const raw of rl) {
      const line = parseLine(raw);
      if (line.kind === 'exit') break;
      if (line.kind === 'reset') {
        await session.reset();
        pending = [];
        process.stderr.write('(conversation reset)\n');
      } else if (line.kind === 'help') {
        process.stderr.write(`${COMMANDS}\n`);
      } else if (line.kind === 'unknown') {
        process.stderr.write(`unknown command ${line.command}; /help lists the commands\n`);
        failed = true;
      } else if (line.kind === 'ask') {
        const missingImage = imageProblem(line.images);
        if (missingImage) {
          process.stderr.write(`${missingImage}\n`);
          failed = true;
        } else {
          pending.push(...line.images);
          if (line.question !== '') {
            const images = pending;
            pending = [];
            inFlight = new AbortController();
            if (!(await answer(session, images, line.question, args.ask, inFlight.signal, bar, interactive))) failed = true;
            inFlight = undefined;
          } else if (line.images.length > 0) {
            process.stderr.write(`(${pending.length === 1 ? 'image' : `${pending.length} images`} attached to the next question)\n`);
          }
        }
      }
      if (interactive) rl.prompt();
    }
    if (ctx.interrupts.exitCode !== undefined) return ctx.interrupts.exitCode;
    if (interactive) process.stdout.write('\n');
    return failed && !interactive ? 1 : 0;
  } finally {
    bar.clear();
    rl?.close();
    model?.dispose();
    restore();
    ctx.signal.removeEventListener('abort', onStop);
  }
}

/** Why a turn's images cannot be used (missing, a FIFO, a folder...), or undefined: the turn fails, the chat goes on. */
function imageProblem(images: string[]): string | undefined {
  try {
    return missingFile(images.map((f) => ['image', f] as [string, string]));
  } catch (e) {
    if (!(e instanceof MiniMonkeyError)) throw e;
    return `${e.message} [${e.code}]`;
  }
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };

/** Streams one reply; a failed turn is reported and the conversation goes on (the library rolled it back). */
async function answer(session: ChatSession, images: string[], question: string, a: AskArgs, signal: AbortSignal, bar: ProgressBar, interactive: boolean): Promise<boolean> {
  const content: ContentPart[] = [...images.map((image) => ({ type: 'image' as const, image })), question];
  const reply = session.ask(content, { ...askOptions(a, signal), onProgress: bar.onAsk });
  let started = false;
  try {
    for await (const piece of reply) {
      if (!started) bar.clear();
      started = true;
      process.stdout.write(piece);
    }
    const result = await reply;
    bar.clear();
    process.stdout.write('\n');
    const scm = (result as { scm?: unknown }).scm;
    if (interactive) process.stderr.write(`(${replySummary(result)}${scm !== undefined ? `; scm: ${scmSummary(scm)}` : ''})\n`);
    return true;
  } catch (e) {
    bar.clear();
    if (started) process.stdout.write('\n');
    if (e instanceof AbortError) {
      process.stderr.write('(stopped; this question was forgotten)\n');
      return false;
    }
    if (!(e instanceof MiniMonkeyError)) throw e;
    const hint = e.code === 'CONTEXT_OVERFLOW' ? ' (/reset starts a new conversation)' : '';
    process.stderr.write(`error: ${e.message} [${e.code}]${hint}\n`);
    return false;
  }
}
