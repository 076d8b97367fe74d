// `minimonkey demo`: the whole pipeline in seconds with nothing downloaded: a tiny random-weight
// model pair, a procedurally drawn document page, its MSAC crop plan, the vision tower, the
// language model's prefill and generation, with tiles, tokens and timings. The reply is
// meaningless (random weights) and the output says so.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MiniMonkey } from '../model';
import { planCrops } from '../msac/plan';
import { cropPlanCaption } from '../msac/render';
import { SHAPES } from '../synth/shapes';
import { synthesize } from '../synth/synthesize';
import { defaultThreads } from '../threads';
import { documentImage } from '../demo/document-image';
import { planSummary, resultJson } from './ask';
import { ensureOutputDir } from '../util/file-kind';
import { registerTemp, writeBytes } from '../util/safe-write';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';
import { limitFlag } from './model-args';
import { ProgressBar, scmSummary } from './progress';

const USAGE = `usage: minimonkey demo [--out DIR] [--json] [--threads N] [--max-tokens N]

Runs the whole pipeline on a tiny random-weight model pair written on the spot (no download):
a drawn 1344x896 document page, its MSAC crop plan, the vision tower, prefill and generation,
with tiles, tokens and timings. Random weights produce meaningless text; for real answers
get the real model (\`minimonkey pull\`, README "Getting a model") and use \`minimonkey ask\`.

options:
  --out DIR          keep the model pair and the page in DIR (default: a temp folder, removed after)
  --json             print one JSON object instead of the report
  -t, --threads N    CPU threads (default: the physical cores)
  -n, --max-tokens N tokens to generate (default 16)
  -h, --help         this help
`;

export const MEANINGLESS =
  'The weights are random, so the reply is meaningless text. The demo shows that every stage runs and what it costs; ' +
  'real answers need the real model (minimonkey pull, then minimonkey ask; README "Getting a model").';

const QUESTION = 'What is the title of this document?';
const PRESET = 'default';

interface Parsed {
  out?: string;
  json: boolean;
  threads: number;
  maxTokens: number;
}

function positiveInt(text: string | undefined, flag: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got '${text}'`);
  return n;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values } = parseOptions(argv, {
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
    threads: { type: 'string', short: 't' },
    'max-tokens': { type: 'string', short: 'n' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  return {
    out: values.out,
    json: values.json === true,
    threads: limitFlag(values.threads, '--threads', 'threads') ?? defaultThreads(),
    maxTokens: positiveInt(values['max-tokens'], '--max-tokens', 16, 4096),
  };
}

const ms = (t: number) => `${Math.round(t).toLocaleString('en-US')} ms`;
const num = (n: number) => n.toLocaleString('en-US');
const kb = (file: string) => `${num(Math.round(fs.statSync(file).size / 1024))} KB`;
const perSecond = (n: number, t: number) => (t > 0 ? `${num(Math.round((n * 1000) / t))} tokens/s` : '');

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const signal = ctx.signal;
  const say = (line = '') => {
    if (!args.json) process.stdout.write(`${line}\n`);
  };
  if (args.out !== undefined) ensureOutputDir(args.out);
  const dir = args.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'minimonkey-demo-'));
  // The temp folder goes even on a forced exit (a second Ctrl-C).
  const untrack = args.out === undefined ? registerTemp(dir) : () => undefined;
  const bar = new ProgressBar();
  let model: MiniMonkey | undefined;
  try {
    say('minimonkey demo: the whole pipeline on a tiny random-weight model pair.\n');

    let t = performance.now();
    const pair = await synthesize({ shape: 'tiny', outDir: dir, seed: 0, signal });
    const synthMs = performance.now() - t;
    const shape = SHAPES.tiny;
    say(`1. model     wrote a tiny random-weight pair in ${ms(synthMs)} (vision: ${shape.vision.layers} layers x ${shape.vision.hidden} wide; text: ${shape.text.layers} layers x ${shape.text.embd} wide)`);
    say(`             ${pair.mmproj} (${kb(pair.mmproj)})`);
    say(`             ${pair.model} (${kb(pair.model)})`);

    t = performance.now();
    const imagePath = path.join(dir, 'document.png');
    const width = 1344;
    const height = 896;
    await writeBytes(imagePath, await documentImage({ width, height }), signal);
    const drawMs = performance.now() - t;
    say(`2. image     drew a ${width}x${height} document page (text lines in columns, a figure, a table): ${imagePath}`);

    const plan = planCrops(width, height, PRESET);
    say(`3. MSAC      crop plan, preset '${PRESET}':`);
    for (const line of cropPlanCaption(plan)) say(`             ${line}`);

    t = performance.now();
    model = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: args.threads, signal, onProgress: bar.onLoad });
    const loadMs = performance.now() - t;
    bar.clear();
    say(`4. load      both files in ${ms(loadMs)}, ${args.threads} thread${args.threads === 1 ? '' : 's'}`);

    const session = await model.chat();
    const result = await session.ask([{ type: 'image', image: imagePath }, QUESTION], {
      crop: PRESET,
      scm: true,
      maxTokens: args.maxTokens,
      signal,
      onProgress: bar.onAsk,
    });
    bar.clear();
    const r = result;
    const tiles = r.images[0]?.tileCount ?? 0;
    const scm = r.scm;
    say(`5. ask       "${QUESTION}" (greedy, at most ${args.maxTokens} tokens)`);
    say(`             read image      ${ms(r.timings.decode)}`);
    say(`             vision tower    ${tiles} tiles in ${ms(r.timings.encode)} (${tiles > 0 ? ms(r.timings.encode / tiles) : '-'} per tile) -> ${num(plan.imageTokens)} image tokens`);
    say(`             SCM             ${scm !== undefined ? scmSummary(scm) : 'on'}`);
    say(`             prefill         ${num(r.tokens.prompt)} tokens (${num(r.tokens.image)} image + ${num(r.tokens.prompt - r.tokens.image)} text) in ${ms(r.timings.prefill)}, ${perSecond(r.tokens.prompt, r.timings.prefill)}`);
    say(`             generate        ${r.tokens.generated} tokens in ${ms(r.timings.generate)}, ${perSecond(r.tokens.generated, r.timings.generate)} (finish: ${r.finishReason})`);
    say(`   reply      ${JSON.stringify(r.text)}`);
    say();
    say(MEANINGLESS);
    if (args.out === undefined) say('(the temp folder with the pair and the page is removed; --out DIR keeps them)');

    if (args.json) {
      const out = {
        dir,
        kept: args.out !== undefined,
        files: { mmproj: pair.mmproj, model: pair.model, image: imagePath },
        image: { width, height },
        preset: PRESET,
        plan: planSummary(plan),
        threads: args.threads,
        question: QUESTION,
        maxTokens: args.maxTokens,
        timings: { synthesize: synthMs, draw: drawMs, load: loadMs, ...r.timings },
        result: resultJson(r),
        scm,
        warning: MEANINGLESS,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    }
    return 0;
  } finally {
    bar.clear();
    model?.dispose();
    if (args.out === undefined) fs.rmSync(dir, { recursive: true, force: true });
    untrack();
  }
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
