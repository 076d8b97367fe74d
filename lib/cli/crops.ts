// `minimonkey crops <image>`: the MSAC crop plan of an image (grids, tiles, tokens), optionally
// drawn to a PNG, so presets can be judged on real documents before running the model.
import { UnsupportedError } from '../errors';
import { loadImage } from '../image/load';
import { MiniMonkey } from '../model';
import { renderScmHeatmap } from '../llm/scm-heatmap';
import { LOAD_OPTIONS, loadArgs, LoadArgs, requireModelFiles } from './model-args';
import { CropOptionsError } from '../msac/errors';
import { planCrops } from '../msac/plan';
import { isPresetName, PRESET_NAMES, PRESETS } from '../msac/presets';
import { cropPlanCaption, renderCropPlan } from '../msac/render';
import type { CropOptions, CropPlan, LayerRange } from '../msac/types';
import { checkInputFile, checkOutputFile } from '../util/file-kind';
import { writeBytes } from '../util/safe-write';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';

const HEATMAP_QUESTION = 'What does this document say?';

const USAGE = `usage: minimonkey crops <image> [--preset P] [--detail MIN-MAX] [--adaptive MIN-MAX|off] [-o plan.png] [--json]

Shows the MSAC crop plan of an image: the detail, adaptive and global grids, tiles and tokens.
  --preset P            ${PRESET_NAMES.join(', ')} (default: default)
  --detail MIN-MAX      detail layer tile-count range, overrides the preset's
  --adaptive MIN-MAX    adaptive layer range, or 'off' for plain InternVL tiling
  --orientation O       'exif' (default) turns the image upright; 'ignore' keeps stored pixels
  -o, --out FILE        draw the plan over the image into a PNG (a link at FILE is replaced by
                        the PNG, never followed)
  --scm-heatmap FILE    also run SCM's pre-pass on the image (needs --model and --mmproj) and
                        draw which detail tokens it keeps, coloured by score, into a PNG
  --question TEXT       the question SCM scores the image against (default: ${JSON.stringify(HEATMAP_QUESTION)})
  -m, --model FILE, --mmproj FILE, -t, --threads N   the model pair, with --scm-heatmap
  --json                machine-readable output
`;

function parseRange(text: string, flag: string): LayerRange {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} must be MIN-MAX (e.g. 3-9) or one number, got '${text}'`);
  return { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
}

function cropOptions(values: { preset?: string; detail?: string; adaptive?: string }): { name: string; options: CropOptions } {
  const name = values.preset ?? 'default';
  if (!isPresetName(name)) throw new UsageError(`unknown preset '${name}'; expected one of ${PRESET_NAMES.join(', ')}`);
  const base = PRESETS[name];
  const detail = values.detail === undefined ? base.detail : parseRange(values.detail, '--detail');
  const adaptive =
    values.adaptive === undefined ? base.adaptive : values.adaptive === 'off' ? false : parseRange(values.adaptive, '--adaptive');
  const custom = values.detail !== undefined || values.adaptive !== undefined;
  return { name: custom ? `${name} (modified)` : name, options: { detail, adaptive } };
}

function textReport(file: string, preset: string, opts: CropOptions, plan: CropPlan): string {
  const range = (r: LayerRange | false) => (r ? `${r.min}-${r.max}` : 'off');
  return [
    `${file}: ${plan.width}x${plan.height}`,
    `preset ${preset}: detail ${range(opts.detail)}, adaptive ${range(opts.adaptive)}`,
    ...cropPlanCaption(plan).map((l) => `  ${l}`),
  ].join('\n');
}

interface Parsed {
  file: string;
  out?: string;
  json: boolean;
  crop: { name: string; options: CropOptions };
  orientation: 'exif' | 'ignore';
  /** --scm-heatmap: the PNG, the model pair and the question. */
  heatmap?: { out: string; load: LoadArgs; question: string };
}

function parse(argv: string[]): Parsed | 'help' {
  const { values, positionals } = parseOptions(
    argv,
    {
      preset: { type: 'string', short: 'p' },
      detail: { type: 'string' },
      adaptive: { type: 'string' },
      orientation: { type: 'string' },
      out: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      'scm-heatmap': { type: 'string' },
      question: { type: 'string' },
      model: LOAD_OPTIONS.model,
      mmproj: LOAD_OPTIONS.mmproj,
      threads: LOAD_OPTIONS.threads,
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError('give exactly one image');
  const o = values.orientation ?? 'exif';
  if (o !== 'exif' && o !== 'ignore') throw new UsageError(`--orientation must be 'exif' or 'ignore', got '${o}'`);
  const crop = cropOptions(values);
  try {
    planCrops(1, 1, crop.options); // checks the ranges before the image is read
  } catch (e) {
    if (e instanceof CropOptionsError) throw new UsageError(e.message);
    throw e;
  }
  let heatmap: Parsed['heatmap'];
  if (values['scm-heatmap'] !== undefined) {
    heatmap = { out: values['scm-heatmap'], load: loadArgs(values), question: values.question ?? HEATMAP_QUESTION };
  } else if (values.model !== undefined || values.mmproj !== undefined || values.question !== undefined) {
    throw new UsageError('--model, --mmproj and --question go with --scm-heatmap');
  }
  return { file: positionals[0], out: values.out, json: values.json === true, crop, orientation: o, heatmap };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const { file, crop } = args;
  checkInputFile(file, 'image');
  if (args.out !== undefined) checkOutputFile(args.out); // before the image is decoded and drawn
  const img = await loadImage(file, { orientation: args.orientation });
  const plan = planCrops(img.width, img.height, crop.options);
  if (args.heatmap !== undefined) checkOutputFile(args.heatmap.out);
  if (args.out !== undefined) await writeBytes(args.out, await renderCropPlan(img, plan), ctx.signal);
  const scm = args.heatmap !== undefined ? await heatmap(args.heatmap, img, crop.options, ctx.signal) : undefined;
  if (args.json) {
    const out = { image: { file, width: plan.width, height: plan.height }, preset: crop.name, options: crop.options, plan, png: args.out ?? null, ...(scm ? { scm } : {}) };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    const heat = scm ? `scm: kept ${scm.detailKept} of ${scm.detailTokens} detail tokens\nwrote ${args.heatmap!.out}\n` : '';
    process.stdout.write(`${textReport(file, crop.name, crop.options, plan)}\n${args.out !== undefined ? `wrote ${args.out}\n` : ''}${heat}`);
  }
  return 0;
}

/** SCM's pre-pass on the image (one question, one generated token) drawn to `h.out`. */
async function heatmap(h: NonNullable<Parsed['heatmap']>, img: Awaited<ReturnType<typeof loadImage>>, crop: CropOptions, signal: AbortSignal) {
  const model = await MiniMonkey.load({ ...requireModelFiles(h.load), signal });
  try {
    const r = await (await model.chat()).ask([{ type: 'image', image: img }, h.question], { crop, scm: true, maxTokens: 1, signal });
    const report = r.scm!.images.find((b) => b.image === 0);
    if (!report) throw new UnsupportedError(`the crop plan has no detail tiles to score (detail ${r.images[0].detail.cols}x${r.images[0].detail.rows}): no heatmap written; use a larger preset`);
    await writeBytes(h.out, await renderScmHeatmap(img, r.images[0], report), signal);
    return r.scm!;
  } finally {
    model.dispose();
  }
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
