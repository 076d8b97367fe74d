// `minimonkey crops <image>`: the MSAC crop plan of an image (grids, tiles, tokens), optionally
// drawn to a PNG, so presets can be judged on real documents before running the model.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { IoError } from '../errors';
import { loadImage } from '../image/load';
import { CropOptionsError } from '../msac/errors';
import { planCrops } from '../msac/plan';
import { isPresetName, PRESET_NAMES, PRESETS } from '../msac/presets';
import { cropPlanCaption, renderCropPlan } from '../msac/render';
import type { CropOptions, CropPlan, LayerRange } from '../msac/types';

const USAGE = `usage: minimonkey crops <image> [--preset P] [--detail MIN-MAX] [--adaptive MIN-MAX|off] [-o plan.png] [--json]

Shows the MSAC crop plan of an image: the detail, adaptive and global grids, tiles and tokens.
  --preset P            ${PRESET_NAMES.join(', ')} (default: default)
  --detail MIN-MAX      detail layer tile-count range, overrides the preset's
  --adaptive MIN-MAX    adaptive layer range, or 'off' for plain InternVL tiling
  --orientation O       'exif' (default) turns the image upright; 'ignore' keeps stored pixels
  -o, --out FILE        draw the plan over the image into a PNG
  --json                machine-readable output
`;

class UsageError extends Error {}

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

export async function runCrops(argv: string[]): Promise<number> {
  let values;
  let file: string;
  let crop: { name: string; options: CropOptions };
  let orientation: 'exif' | 'ignore';
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        preset: { type: 'string', short: 'p' },
        detail: { type: 'string' },
        adaptive: { type: 'string' },
        orientation: { type: 'string' },
        out: { type: 'string', short: 'o' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values;
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new UsageError('give exactly one image');
    file = parsed.positionals[0];
    const o = values.orientation ?? 'exif';
    if (o !== 'exif' && o !== 'ignore') throw new UsageError(`--orientation must be 'exif' or 'ignore', got '${o}'`);
    orientation = o;
    crop = cropOptions(values);
    planCrops(1, 1, crop.options); // checks the ranges before the image is read
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof CropOptionsError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) throw e;
    process.stderr.write(`minimonkey crops: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const img = await loadImage(file, { orientation });
  const plan = planCrops(img.width, img.height, crop.options);
  if (values.out) {
    const png = await renderCropPlan(img, plan);
    try {
      await fs.promises.writeFile(values.out, png);
    } catch (e) {
      throw new IoError(`cannot write '${values.out}': ${(e as Error).message}`, { cause: e });
    }
  }
  if (values.json) {
    const out = { image: { file, width: plan.width, height: plan.height }, preset: crop.name, options: crop.options, plan, png: values.out ?? null };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(`${textReport(file, crop.name, crop.options, plan)}\n${values.out ? `wrote ${values.out}\n` : ''}`);
  }
  return 0;
}
