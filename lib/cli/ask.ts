// `minimonkey ask <image> "<question>"`: one question about one image (or none), the answer
// streamed to stdout as it is generated; --json prints the whole result as one object instead.
import type { AskResult, ContentPart } from '../llm/session';
import { MiniMonkey } from '../model';
import type { IsolatedMiniMonkey } from '../isolate/isolated-model';
import type { CropPlan } from '../msac/types';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';
import { ASK_OPTIONS, ASK_USAGE, askArgs, AskArgs, askOptions, ISOLATE_OPTIONS, ISOLATE_USAGE, LOAD_OPTIONS, LOAD_USAGE, isFile, loadArgs, LoadArgs, requireFiles, requireModelFiles } from './model-args';
import { PDF_OPTIONS, pdfArgs, PdfArgs } from './pdf-args';
import { ProgressBar, replySummary, scmSummary } from './progress';
import type { ImageInput } from '../image/load';
import { UnsupportedError } from '../errors';
import { renderScmHeatmap } from '../llm/scm-heatmap';
import { checkOutputFile } from '../util/file-kind';
import { writeBytes } from '../util/safe-write';

const USAGE = `usage: minimonkey ask <image> "<question>" --model FILE --mmproj FILE [options]
       minimonkey ask <image> "<question>" --model hf:owner/name [options]   (a pulled model)
       minimonkey ask "<question>" --model FILE --mmproj FILE [options]   (no image)

Answers one question about an image; the answer streams to stdout as it is generated, progress
and timings go to stderr. Ctrl-C stops it (exit 130).

options:
${LOAD_USAGE}
${ISOLATE_USAGE}
${ASK_USAGE}
  --page N               the page of a PDF image (1-based; default 1)
  --dpi N                render the PDF page at N dpi (default: chosen for the preset)
  --password TEXT        the user password of an encrypted PDF
  --text-only            no image: the one argument is the question
  --scm-heatmap FILE     implies --scm: draw which detail tokens SCM kept, coloured by their
                         attention score, over the image into a PNG
  --json                 print one JSON object on one line (text, finishReason, tokens, timings,
                         crop plans, token ids, SCM's counts) and nothing else on stdout
  --scm-scores           with --json: SCM's kept offsets and every scored token's score too
                         (thousands of numbers per image)
  -h, --help             this help
`;

/** The parts of a crop plan worth printing: grids, tiles per layer, tokens (not every tile's rectangle). */
export function planSummary(p: CropPlan) {
  return {
    width: p.width,
    height: p.height,
    detail: p.detail,
    adaptive: p.adaptive,
    thumbnail: p.thumbnail,
    tiles: { detail: p.layers.detail.count, adaptive: p.layers.adaptive.count, global: p.layers.global.count, total: p.tileCount },
    imageTokens: p.imageTokens,
  };
}

/**
 * The --json object. `scm` appears when the library reports it: its counts, and each image's kept
 * offsets and scores only when asked for (`scores`): on the default preset they are 250 KB.
 */
export function resultJson(r: AskResult, { scores = false }: { scores?: boolean } = {}) {
  const scm = r.scm && (scores ? r.scm : { ...r.scm, images: r.scm.images.map(({ image, offset, length, kept }) => ({ image, offset, length, kept: kept.length })) });
  return {
    text: r.text,
    finishReason: r.finishReason,
    tokens: r.tokens,
    timings: r.timings,
    images: r.images.map(planSummary),
    imageCacheHits: r.imageCacheHits,
    pageCacheHits: r.pageCacheHits,
    restoredTokens: r.restoredTokens,
    tokenIds: r.tokenIds,
    ...(scm !== undefined ? { scm } : {}),
    ...(r.json !== undefined ? { json: r.json } : {}),
  };
}

interface Parsed {
  load: LoadArgs;
  ask: AskArgs;
  image?: string;
  pdf: PdfArgs;
  question: string;
  json: boolean;
  scores: boolean;
  heatmap?: string;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values, positionals } = parseOptions(
    argv,
    { ...LOAD_OPTIONS, ...ISOLATE_OPTIONS, ...ASK_OPTIONS, page: PDF_OPTIONS.page, dpi: PDF_OPTIONS.dpi, password: PDF_OPTIONS.password, 'text-only': { type: 'boolean' }, json: { type: 'boolean' }, 'scm-scores': { type: 'boolean' }, 'scm-heatmap': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) return 'help';
  let image: string | undefined;
  let question: string;
  if (values['text-only']) {
    if (positionals.length !== 1) throw new UsageError('--text-only takes exactly one argument, the question');
    question = positionals[0];
  } else if (positionals.length === 2) {
    [image, question] = positionals;
  } else if (positionals.length === 1) {
    // A lone argument that names a file is an image whose question was forgotten, not a question.
    if (isFile(positionals[0])) throw new UsageError(`give a question after the image '${positionals[0]}'`);
    question = positionals[0];
  } else {
    throw new UsageError('give an image and a question, or just a question');
  }
  if (question.trim() === '') throw new UsageError('the question is empty');
  const heatmap = values['scm-heatmap'];
  if (heatmap !== undefined && image === undefined) throw new UsageError('--scm-heatmap needs an image');
  const ask = askArgs(values);
  if (heatmap !== undefined) ask.scm = true;
  const scores = values['scm-scores'] === true;
  if (scores && values.json !== true) throw new UsageError('--scm-scores goes with --json');
  return { load: loadArgs(values), ask, image, pdf: pdfArgs(values), question, json: values.json === true, scores, heatmap };
}

/** The image argument; with --page/--dpi/--password, a PDF page (a plain PDF path is its page 1). */
function imageInput(file: string, p: PdfArgs): ImageInput {
  if (p.page === undefined && p.dpi === undefined && p.password === undefined) return file;
  return { pdf: file, page: p.page ?? 1, dpi: p.dpi, password: p.password };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const load = requireModelFiles(args.load);
  if (args.image !== undefined) requireFiles([['image', args.image]]);
  if (args.heatmap !== undefined) checkOutputFile(args.heatmap); // before the model loads

  // Ctrl-C aborts whatever runs (load, encode, prefill or generation): ctx.signal (interrupt.ts).
  // A closed stdout (`| head`) ends the reply quietly: nobody reads the rest.
  const closed = new AbortController();
  const signal = AbortSignal.any([ctx.signal, closed.signal]);
  const onStdoutError = () => closed.abort();
  process.stdout.on('error', onStdoutError);
  const bar = new ProgressBar();
  let model: MiniMonkey | IsolatedMiniMonkey | undefined;
  try {
    model = await MiniMonkey.load({ ...load, signal, onProgress: bar.onLoad });
    const session = await model.chat();
    const content: ContentPart[] = args.image !== undefined ? [{ type: 'image', image: imageInput(args.image, args.pdf) }, args.question] : [args.question];
    const reply = session.ask(content, { ...askOptions(args.ask, signal), onProgress: bar.onAsk });
    let result: AskResult;
    if (args.json) {
      result = await reply;
      bar.clear();
      process.stdout.write(`${JSON.stringify(resultJson(result, { scores: args.scores }))}\n`);
    } else {
      let first = true;
      for await (const piece of reply) {
        if (first) bar.clear();
        first = false;
        process.stdout.write(piece);
      }
      result = await reply;
      bar.clear();
      process.stdout.write('\n');
      const scm = (result as { scm?: unknown }).scm;
      if (scm !== undefined) process.stderr.write(`scm: ${scmSummary(scm)}\n`);
      process.stderr.write(`${replySummary(result)}\n`);
    }
    if (args.heatmap !== undefined) await writeHeatmap(args.heatmap, imageInput(args.image!, args.pdf), result, signal);
    return 0;
  } catch (e) {
    bar.clear();
    if (closed.signal.aborted && !ctx.signal.aborted) return 0;
    if (ctx.signal.aborted) process.stderr.write('\n');
    throw e;
  } finally {
    model?.dispose();
    process.stdout.off('error', onStdoutError);
  }
}

/** The first image's SCM report drawn over it (ask has one image). */
async function writeHeatmap(file: string, image: ImageInput, result: AskResult, signal: AbortSignal): Promise<void> {
  const report = result.scm?.images.find((r) => r.image === 0);
  if (!report) throw new UnsupportedError(`the crop plan has no detail tiles to score (detail ${result.images[0].detail.cols}x${result.images[0].detail.rows}): no heatmap written; use a larger preset`);
  await writeBytes(file, await renderScmHeatmap(image, result.images[0], report), signal);
  process.stderr.write(`wrote ${file}\n`);
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
