// `minimonkey worker --queue redis://HOST:6379 --model FILE --mmproj FILE`: loads the model once and
// answers page jobs from the queue (`minimonkey batch --queue`) until Ctrl-C or SIGTERM, which let
// the page in hand finish first. Run one per machine (or per core group) against the same Redis.
import { MiniMonkey } from '../model';
import { checkQueuePackages, runQueueWorker } from '../batch/queue';
import { workerName } from '../batch/task';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';
import { LOAD_OPTIONS, LOAD_USAGE, loadArgs, LoadArgs, requireModelFiles } from './model-args';

const USAGE = `usage: minimonkey worker --queue redis://HOST:6379 --model FILE --mmproj FILE [options]

Consumes the page jobs that \`minimonkey batch --queue\` enqueues, with the model loaded once; each
result goes back through Redis to the batch that collects it. A worker that dies mid-page loses its
job's lock: after --lock-duration another worker takes the page again. Logs a line per page on
stderr. Ctrl-C or SIGTERM finishes the page in hand, then exits.

options:
  --queue URL            the Redis server (redis:// or rediss://, with user:password@ if needed)
  --queue-name NAME      the queue's name (default minimonkey)
  --lock-duration MS     a job's lock without renewal, i.e. how soon a dead worker's page is
                         retaken (default 30000)
  --stalled-interval MS  how often this worker looks for such pages (default 30000)
${LOAD_USAGE}
  -h, --help             this help
`;

interface Parsed {
  load: LoadArgs;
  url: string;
  name: string;
  lockDuration?: number;
  stalledInterval?: number;
}

function ms(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 100 || n > 3_600_000) throw new UsageError(`${flag} must be milliseconds from 100 to 3600000, got '${text}'`);
  return n;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values } = parseOptions(argv, {
    ...LOAD_OPTIONS,
    queue: { type: 'string' },
    'queue-name': { type: 'string' },
    'lock-duration': { type: 'string' },
    'stalled-interval': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (!values.queue) throw new UsageError('--queue is required (redis://HOST:6379)');
  if (!/^rediss?:\/\//.test(values.queue)) throw new UsageError(`--queue must be a redis:// or rediss:// URL, got '${values.queue}'`);
  return {
    load: loadArgs(values),
    url: values.queue,
    name: values['queue-name'] ?? 'minimonkey',
    lockDuration: ms(values['lock-duration'], '--lock-duration'),
    stalledInterval: ms(values['stalled-interval'], '--stalled-interval'),
  };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const load = requireModelFiles(args.load); // hf:owner/name resolves to the pulled pair
  checkQueuePackages(); // a missing bullmq is said before minutes of loading
  const model = await MiniMonkey.load({ ...load, signal: ctx.signal });
  const me = workerName();
  const where = (d: { file: string; page: number | null }) => `${d.file}${d.page !== null ? ` page ${d.page}` : ''}`;
  try {
    process.stderr.write(`worker ${me}: ready on queue '${args.name}'\n`);
    await runQueueWorker(model, {
      url: args.url,
      name: args.name,
      lockDuration: args.lockDuration,
      stalledInterval: args.stalledInterval,
      signal: ctx.signal,
      onJob: (e) => process.stderr.write(`worker ${me}: ${e.type} ${where(e.data)} [${e.data.key}]${e.result?.error ? ` failed: ${e.result.error.message}` : ''}\n`),
    });
  } finally {
    model.dispose();
  }
  return 0;
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
