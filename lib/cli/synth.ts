// `minimonkey synth`: writes a random-weight model pair (facts §5 layout) for tests and benchmarks.
import { SHAPES, ShapeName } from '../synth/shapes';
import { synthesize, TextWeightType, VisionWeightType } from '../synth/synthesize';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';

const USAGE = `usage: minimonkey synth --shape <tiny|internvl2-2b> --out DIR [options]

Writes a random-weight pair in llama.cpp's layout: mmproj-<shape>-<type>.gguf (clip/internvl)
and model-<shape>-<type>.gguf (internlm2). Random weights produce meaningless text: these files
are for tests (tiny) and benchmarks (internvl2-2b, the real dimensions).

options:
  --shape S            tiny | internvl2-2b
  --out DIR            output folder (created if missing)
  --seed N             random seed (default 0); the same seed gives the same bytes
  --vision-type T      f32 | bf16 | f16 | q8_0 | q4_0 | q4_1 (default f16; tiny default f32)
  --text-type T        f32 | bf16 | f16 | q8_0 | q4_0 (default q8_0; tiny default f32)
  --only vision|text   write one file of the pair
  -h, --help           this help
`;

const VISION_TYPES = ['f32', 'bf16', 'f16', 'q8_0', 'q4_0', 'q4_1'];
const TEXT_TYPES = ['f32', 'bf16', 'f16', 'q8_0', 'q4_0'];

interface Parsed {
  shape: ShapeName;
  out: string;
  seed: number;
  visionType: VisionWeightType;
  textType: TextWeightType;
  only?: 'vision' | 'text';
}

function parse(argv: string[]): Parsed | 'help' {
  const { values } = parseOptions(argv, {
    shape: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string', default: '0' },
    'vision-type': { type: 'string' },
    'text-type': { type: 'string' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const shape = values.shape as ShapeName | undefined;
  if (!shape || !(shape in SHAPES)) throw new UsageError('--shape must be tiny or internvl2-2b');
  if (!values.out) throw new UsageError('--out is required');
  const seed = Number(values.seed);
  if (values.seed.trim() === '' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError('--seed must be an integer from 0 to 4294967295');
  const tiny = shape === 'tiny';
  const visionType = values['vision-type'] ?? (tiny ? 'f32' : 'f16');
  const textType = values['text-type'] ?? (tiny ? 'f32' : 'q8_0');
  if (!VISION_TYPES.includes(visionType)) throw new UsageError(`--vision-type must be one of ${VISION_TYPES.join(', ')}`);
  if (!TEXT_TYPES.includes(textType)) throw new UsageError(`--text-type must be one of ${TEXT_TYPES.join(', ')}`);
  if (values.only !== undefined && values.only !== 'vision' && values.only !== 'text') throw new UsageError('--only must be vision or text');
  return { shape, out: values.out, seed, visionType: visionType as VisionWeightType, textType: textType as TextWeightType, only: values.only };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const tty = process.stderr.isTTY;
  const out = await synthesize({
    shape: args.shape,
    outDir: args.out,
    seed: args.seed,
    visionType: args.visionType,
    textType: args.textType,
    parts: args.only ? [args.only] : undefined,
    signal: ctx.signal, // Ctrl-C stops between tensors; the file being written is removed
    onProgress: ({ file, done, total }) => {
      const line = `\r${file}: ${done}/${total} tensors`;
      if (tty || done === total) process.stderr.write(done === total ? `${line}\n` : line);
    },
  });
  for (const f of [out.mmproj, out.model]) if (f) process.stdout.write(`${f}\n`);
  return 0;
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
