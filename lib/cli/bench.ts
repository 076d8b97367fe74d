// `minimonkey bench [vision|llm|scm|all] [options]`: runs the compiled benchmarks (dist/bench/*.js),
// passing the options through. Each benchmark writes its synthetic model on first use
// and needs the llama.cpp anchors built (`npm run build:tools`); it says so when they are not.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../addon-loader';
import { removeTempsOf } from '../util/safe-write';
import { CliCommand, CliContext, OptionSpec, parseOptions, UsageError } from './command';

const USAGE = `usage: minimonkey bench [vision|llm|scm|e2e|page-cache|all] [options passed to the benchmark]

Runs the benchmarks beside llama.cpp built from the same pinned source (build the anchors first:
npm run build:tools -- mm-clip-bench llama-bench llama-mtmd-cli). With no target, all run in this order.

  vision   ms per tile of our vision tower vs llama.cpp's clip encoder
           options: --tiles 2 --threads N --types f16,bf16,q8_0,q4_0
  llm      prefill and decode tokens/s of our chat path vs llama-bench
           options: --types q4_0,q8_0 --threads N --prompt 512 --gen 32 --reps 2
           concurrent sessions on one shared context: --sessions 1,2,4 --image 1536
           (--only sequences runs just those)
  scm      time to first token with and without SCM on a 1344x896 page (ocr preset)
           options: --preset ocr --text-type q4_0 --vision-type f16 --threads N --keep 0.5
  e2e      one question about a 1344x896 page, stage by stage, without and with SCM, each stage
           beside llama.cpp at equal work; peak RSS beside llama-mtmd-cli's
           options: --preset default --text-type q4_0 --vision-types f16,q8_0 --threads N --gen 16
  page-cache
           the same page asked first with an empty page cache, then a new question in a new
           process (embeddings from disk) and in the same one, without and with SCM
           options: --preset default --text-type q4_0 --vision-type q8_0 --threads N --gen 8
  --shape internvl2-2b|tiny
           the synthetic pair: real InternVL2-2B dimensions (default; the figures in README)
           or the tiny test shape (seconds; checks that a benchmark runs, not how fast)
  -h, --help   this help
`;

const TARGETS = ['vision', 'llm', 'scm', 'e2e', 'page-cache'] as const;
type Target = (typeof TARGETS)[number];

// The options each benchmark reads (bench/*.ts, through argValue); all take a value.
const COMMON = ['shape', 'threads'];
const OPTIONS: Record<Target, string[]> = {
  vision: [...COMMON, 'tiles', 'types'],
  llm: [...COMMON, 'types', 'prompt', 'gen', 'reps', 'sessions', 'image', 'only'],
  scm: [...COMMON, 'preset', 'text-type', 'vision-type', 'keep'],
  e2e: [...COMMON, 'preset', 'text-type', 'vision-types', 'gen'],
  'page-cache': [...COMMON, 'preset', 'text-type', 'vision-type', 'gen'],
};

// From dist/lib/cli/ the compiled benchmarks are in dist/bench/.
const script = (t: Target) => path.join(__dirname, '..', '..', 'bench', `${t}.js`);
/** Where the benchmarks write their synthetic models (bench/common.ts's cacheDir). */
const cacheDir = path.join(packageRoot, 'bench', '.cache');

interface Parsed {
  targets: readonly Target[];
  passthrough: string[];
}

/**
 * The benchmarks read their options loosely (a flag they do not know is ignored), so they are
 * checked here: a flag no chosen benchmark reads is a usage error, not minutes of the wrong run.
 */
function parse(argv: string[]): Parsed | 'help' {
  const [first, ...rest] = argv;
  if (first === '-h' || first === '--help' || first === 'help') return 'help';
  let targets: readonly Target[] = TARGETS;
  let passthrough = argv;
  if (first !== undefined && !first.startsWith('-')) {
    if (first !== 'all' && !(TARGETS as readonly string[]).includes(first)) throw new UsageError(`unknown benchmark '${first}'`);
    targets = first === 'all' ? TARGETS : [first as Target];
    passthrough = rest;
  }
  const names = new Set(targets.flatMap((t) => OPTIONS[t]));
  const spec: OptionSpec = { help: { type: 'boolean', short: 'h' } };
  for (const n of names) spec[n] = { type: 'string' };
  const { values } = parseOptions(passthrough, spec);
  if (values.help) return 'help';
  return { targets, passthrough };
}

/**
 * Runs one benchmark with stdio passed through; resolves to its exit code. Ctrl-C reaches the
 * child through the terminal's process group; it is also forwarded (a SIGINT sent to this process
 * alone). A child ended by a signal cannot clean up, so its temp model files are removed here.
 */
function runScript(file: string, args: string[], signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit' });
    const forward = () => child.kill('SIGINT');
    signal.addEventListener('abort', forward, { once: true });
    child.on('error', (e) => {
      signal.removeEventListener('abort', forward);
      reject(e);
    });
    child.on('exit', (code, sig) => {
      signal.removeEventListener('abort', forward);
      if (child.pid !== undefined) removeTempsOf(cacheDir, child.pid);
      resolve(code ?? (sig === 'SIGINT' ? 130 : 1));
    });
  });
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  for (const t of args.targets) {
    const file = script(t);
    if (!fs.existsSync(file)) {
      process.stderr.write(`minimonkey bench: ${file} not found (compile with \`npm run build:ts\`)\n`);
      return 1;
    }
    const code = await runScript(file, args.passthrough, ctx.signal);
    if (code !== 0 || ctx.signal.aborted) return code;
  }
  return 0;
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
