// `minimonkey batch <files|folders|globs...> (-q "<question>" | --json-schema FILE) --out results.jsonl`:
// every image and PDF page asked the same question, one JSON line per page appended to --out as it
// finishes; a re-run skips the pages already answered there. --workers N runs N local worker
// processes; --queue redis://... hands the pages to `minimonkey worker` processes anywhere.
import { IoError } from '../errors';
import { BATCH_LIMITS } from '../limits';
import { defaultThreads } from '../threads';
import { MiniMonkey } from '../model';
import { runPool, threadsPerWorker } from '../batch/pool';
import { driveBatch, onModel, PageRunner } from '../batch/run';
import type { BatchTask } from '../batch/task';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';
import { ASK_OPTIONS, ASK_USAGE, askArgs, intFlag, LOAD_OPTIONS, LOAD_USAGE, loadArgs, LoadArgs, requireModelFiles } from './model-args';
import { PDF_OPTIONS, PDF_USAGE, pdfArgs, PdfArgs } from './pdf-args';
import { BatchProgress } from './progress';

const USAGE = `usage: minimonkey batch <file|folder|glob>... -q "<question>" --out results.jsonl --model FILE --mmproj FILE [options]
       minimonkey batch <file|folder|glob>... --json-schema FILE --out results.jsonl ...
       minimonkey batch <file|folder|glob>... -q "..." --out results.jsonl --queue redis://HOST:6379

Asks every image and PDF page the same question (or reads each into a JSON Schema) and appends one
JSON line per page to --out as it finishes: {file, page, answer | value, tokens, timings, error}.
A re-run with the same question and options skips the pages already answered (keyed by content
hash, page, question and options); failed pages are tried again. Ctrl-C stops it (exit 130),
losing only the pages in flight. Exit 0 when every page has an answer, 1 when some failed.

options:
  -q, --question TEXT    the question asked of every page
  -o, --out FILE         the JSONL results file (appended to; required)
${PDF_USAGE}
  --workers N            N local worker processes, each with its own model and threads/N
                         threads (default 1: in this process)
  --queue URL            enqueue the pages on Redis (BullMQ) for \`minimonkey worker\` processes and
                         collect their results; no model is loaded here
  --queue-name NAME      the queue's name (default minimonkey)
${LOAD_USAGE}
${ASK_USAGE}
  -h, --help             this help
`;

interface Parsed {
  inputs: string[];
  out: string;
  load?: LoadArgs;
  task: BatchTask;
  pdf: PdfArgs;
  workers: number;
  queue?: string;
  queueName: string;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values, positionals } = parseOptions(
    argv,
    {
      ...LOAD_OPTIONS, ...ASK_OPTIONS, ...PDF_OPTIONS,
      question: { type: 'string', short: 'q' },
      out: { type: 'string', short: 'o' },
      workers: { type: 'string' },
      queue: { type: 'string' },
      'queue-name': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError('give the files, folders or globs to run over');
  if (!values.out) throw new UsageError('--out is required (the JSONL results file)');
  if (values.grammar !== undefined) throw new UsageError('batch takes --json-schema, not --grammar');
  const ask = askArgs(values);
  const question = values.question;
  if (question !== undefined && question.trim() === '') throw new UsageError('the question is empty');
  if (question === undefined && ask.json === undefined) throw new UsageError('give a question (-q) or --json-schema');
  const queue = values.queue;
  if (queue !== undefined && !/^rediss?:\/\//.test(queue)) throw new UsageError(`--queue must be a redis:// or rediss:// URL, got '${queue}'`);
  const workers = intFlag(values.workers, '--workers', BATCH_LIMITS.workers.min, BATCH_LIMITS.workers.max) ?? 1;
  if (queue !== undefined && values.workers !== undefined) throw new UsageError('--workers runs local workers; with --queue, start `minimonkey worker` processes instead');
  const pdf = pdfArgs(values);
  const task: BatchTask = {
    question,
    json: ask.json as BatchTask['json'],
    crop: ask.crop,
    maxTokens: ask.maxTokens,
    temperature: ask.temperature,
    seed: ask.seed,
    scm: ask.scm,
    dpi: pdf.dpi,
  };
  return {
    inputs: positionals,
    out: values.out,
    load: queue === undefined ? loadArgs(values) : undefined,
    task,
    pdf,
    workers,
    queue,
    queueName: values['queue-name'] ?? 'minimonkey',
  };
}

/** Where the pages are computed, as the command line says: by the queue, in local workers, or here. */
function runnerFor(args: Parsed, ctx: CliContext): PageRunner {
  if (args.queue !== undefined) {
    const url = args.queue;
    return async function* (jobs, task, o) {
      const { collectFromQueue } = await import('../batch/queue');
      yield* collectFromQueue(jobs, { url, name: args.queueName, task, password: o.password, signal: o.signal });
    };
  }
  const load = args.load as LoadArgs & { mmproj: string };
  if (args.workers > 1) {
    const threads = threadsPerWorker(load.threads ?? defaultThreads(), args.workers);
    return (jobs, task, o) => runPool(jobs, { workers: args.workers, load: { ...load, threads }, task, password: o.password, signal: o.signal });
  }
  return async function* (jobs, task, o) {
    const model = await MiniMonkey.load({ ...load, signal: ctx.signal });
    try {
      yield* onModel(model)(jobs, task, o);
    } finally {
      model.dispose();
    }
  };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  // hf:owner/name resolves to the pulled pair; a missing file is an IoError before any work.
  if (args.load) args.load = requireModelFiles(args.load);
  if (args.queue !== undefined) (await import('../batch/queue')).checkQueuePackages(); // before any work
  let total = 0;
  let progress: BatchProgress | undefined;
  const onPlan = (p: { total: number; skipped: number }) => {
    total = p.total;
    if (p.skipped > 0) process.stderr.write(`batch: ${p.skipped} page${p.skipped === 1 ? '' : 's'} already done in ${args.out}, skipped\n`);
    if (total === 0 && p.skipped === 0) throw new IoError(`no images or PDFs in ${args.inputs.join(', ')}`);
    if (total > 0) progress = new BatchProgress(total);
  };
  let failed = 0;
  const t0 = Date.now();
  const options = { ...args.task, out: args.out, pages: args.pdf.pages, password: args.pdf.password, signal: ctx.signal, onPlan };
  try {
    for await (const r of driveBatch(args.inputs, options, runnerFor(args, ctx))) {
      if (r.error) failed++;
      progress?.page(r.error !== undefined);
    }
  } finally {
    progress?.clear();
  }
  if (total === 0) return 0;
  if (ctx.signal.aborted) return 130;
  const min = (Date.now() - t0) / 60000;
  process.stderr.write(`batch: ${total} page${total === 1 ? '' : 's'}, ${total - failed} answered, ${failed} failed; ${(total / Math.max(min, 1e-9)).toFixed(1)} pages/min; results in ${args.out}\n`);
  return failed > 0 ? 1 : 0;
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
