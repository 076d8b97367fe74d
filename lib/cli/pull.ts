// `minimonkey pull <owner/name>[@revision]`: a model from the Hugging Face Hub (or HF_ENDPOINT's
// mirror) into MINIMONKEY_HOME, ready for `--model hf:owner/name`.
import { DownloadError } from '../errors';
import { minimonkeyHome } from '../hub/home';
import { pullModel, PullProgress } from '../hub/pull';
import { HubTimeouts } from '../hub/timed-fetch';
import { HUB_LIMITS } from '../limits';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';
import { intFlag } from './model-args';

const { responseMs: RESPONSE, idleMs: IDLE } = HUB_LIMITS;

const USAGE = `usage: minimonkey pull <owner/name>[@revision] [options]

Downloads a model from the Hugging Face Hub and makes it loadable as --model hf:owner/name.
  - a checkpoint repo (Mini-Monkey, InternVL2: config.json + safetensors) is downloaded and
    converted to a GGUF pair (as \`minimonkey convert\` does);
  - a GGUF repo (a text GGUF per quantization + mmproj-*.gguf) gets the chosen text GGUF and mmproj.
Every file is checked against the hub's sha256 and renamed into place only when complete; an
interrupted pull resumes where it stopped when run again.

options:
  --out DIR              where the GGUF pair goes (default: $MINIMONKEY_HOME/models/<owner>--<name>)
  --text-type T          checkpoint: f32 | f16 | q8_0 | q4_0 | q4_k_m (default q4_k_m);
                         GGUF repo: the quantization in the file name, e.g. q4_k_m, q8_0
  --vision-type T        the same for the mmproj (default f16)
  --response-timeout MS  a hub request fails when its answer has not begun within MS
                         (connect and first byte; default ${RESPONSE.default}, ${RESPONSE.min}-${RESPONSE.max})
  --idle-timeout MS      an answer (a listing, a file) fails when it sends under ${HUB_LIMITS.idleBytes.default / 1024} KiB in MS of waiting
                         (a stalled or trickling hub; default ${IDLE.default}, ${IDLE.min}-${IDLE.max})
  -h, --help             this help

environment:
  MINIMONKEY_HOME        the cache folder (default ~/.cache/minimonkey; now ${minimonkeyHome()})
  HF_TOKEN               an access token, for gated or private repos
  HF_ENDPOINT            a hub mirror (default https://huggingface.co)

exit codes: 0 done, 1 failed (the error's code is shown), 2 bad usage, 130 stopped with Ctrl-C
(nothing half-written is left at the destination; the bytes so far are kept for the next try)
`;

interface Parsed {
  repo: string;
  out?: string;
  textType?: string;
  visionType?: string;
  timeouts: HubTimeouts;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values, positionals } = parseOptions(
    argv,
    {
      out: { type: 'string' },
      'text-type': { type: 'string' },
      'vision-type': { type: 'string' },
      'response-timeout': { type: 'string' },
      'idle-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError('give exactly one repo, owner/name[@revision]');
  for (const [flag, v] of [['--text-type', values['text-type']], ['--vision-type', values['vision-type']]] as const) {
    if (v !== undefined && !/^[A-Za-z0-9_]{1,16}$/.test(v)) throw new UsageError(`${flag} must be a type name such as q4_k_m or f16, got '${v}'`);
  }
  // The API's own ranges (HUB_LIMITS), said as a usage error before any request.
  const timeouts: HubTimeouts = {
    responseMs: intFlag(values['response-timeout'], '--response-timeout', RESPONSE.min, RESPONSE.max),
    idleMs: intFlag(values['idle-timeout'], '--idle-timeout', IDLE.min, IDLE.max),
  };
  return { repo: positionals[0], out: values.out, textType: values['text-type']?.toLowerCase(), visionType: values['vision-type']?.toLowerCase(), timeouts };
}

const mb = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** "[#####.....] 120.0 MiB / 1200.0 MiB  8.1 MiB/s  ETA 2:13  model.safetensors" on a terminal; a line per finished file otherwise. */
export class DownloadProgress {
  private readonly tty: boolean;
  private start = 0;
  private startBytes = 0;
  private lastFile = '';
  private lastDraw = 0;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly now = () => Date.now()) {
    this.tty = out.isTTY === true;
  }

  readonly onProgress = (p: PullProgress): void => {
    if (p.phase === 'convert') return this.convert(p);
    const t = this.now();
    if (this.start === 0) {
      this.start = t;
      this.startBytes = p.done; // bytes resumed from an earlier try do not count toward the rate
    }
    const finished = p.fileDone === p.fileTotal;
    if (!this.tty) {
      if (finished && p.file !== this.lastFile) this.out.write(`${p.file}: ${mb(p.fileTotal)}\n`);
      if (finished) this.lastFile = p.file;
      return;
    }
    if (!finished && t - this.lastDraw < 100) return;
    this.lastDraw = t;
    const secs = (t - this.start) / 1000;
    const rate = secs > 0 ? (p.done - this.startBytes) / secs : 0;
    const eta = rate > 0 ? (p.total - p.done) / rate : NaN;
    const width = 24;
    const filled = p.total > 0 ? Math.round((p.done / p.total) * width) : width;
    this.shown = true;
    this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${mb(p.done)} / ${mb(p.total)}  ${mb(rate)}/s  ETA ${duration(eta)}  ${p.file}\x1b[K`);
  };

  private convert(p: PullProgress): void {
    if (this.tty) {
      this.shown = true;
      this.out.write(`\rconvert ${p.done}/${p.total} ${p.file}\x1b[K`);
    } else if (p.done === p.total) {
      this.out.write(`${p.file}: ${p.total} tensors\n`);
    }
  }

  clear(): void {
    if (this.shown) this.out.write('\n');
    this.shown = false;
  }
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const bar = new DownloadProgress();
  try {
    const r = await pullModel({
      repo: args.repo, outDir: args.out, textType: args.textType, visionType: args.visionType, timeouts: args.timeouts, signal: ctx.signal, onProgress: bar.onProgress,
    });
    bar.clear();
    for (const w of r.warnings) process.stderr.write(`minimonkey pull: note: ${w}\n`);
    process.stderr.write(`pulled ${r.repo} at ${r.commit.slice(0, 12)} (${r.files.length} files, ${mb(r.bytes)}); load it with --model hf:${r.repo}\n`);
    process.stdout.write(`${r.mmproj}\n${r.model}\n`);
    return 0;
  } catch (e) {
    bar.clear();
    throw flagNames(e);
  }
}

/** A timeout error says the flag a CLI user sets, not the API option behind it. */
function flagNames(e: unknown): unknown {
  if (e instanceof DownloadError) e.message = e.message.replace('timeouts.responseMs', '--response-timeout').replace('timeouts.idleMs', '--idle-timeout');
  return e;
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
