// `minimonkey synth`: writes a random-weight model pair (facts §5 layout) for tests and benchmarks.
import { parseArgs } from 'node:util';
import { SHAPES, ShapeName } from '../synth/shapes';
import { synthesize, TextWeightType, VisionWeightType } from '../synth/synthesize';

const USAGE = `usage: minimonkey synth --shape <tiny|internvl2-2b> --out DIR [options]

Writes a random-weight pair in llama.cpp's layout: mmproj-<shape>-<type>.gguf (clip/internvl)
and model-<shape>-<type>.gguf (internlm2). Random weights produce meaningless text: these files
are for tests (tiny) and benchmarks (internvl2-2b, the real dimensions).

options:
  --shape S            tiny | internvl2-2b
  --out DIR            output folder (created if missing)
  --seed N             random seed (default 0); the same seed gives the same bytes
  --vision-type T      f32 | f16 | q8_0 | q4_0 | q4_1 (default f16; tiny default f32)
  --text-type T        f32 | f16 | q8_0 | q4_0 (default q8_0; tiny default f32)
  --only vision|text   write one file of the pair
  -h, --help           this help
`;

const VISION_TYPES = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_1'];
const TEXT_TYPES = ['f32', 'f16', 'q8_0', 'q4_0'];

export async function runSynth(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        shape: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string', default: '0' },
        'vision-type': { type: 'string' },
        'text-type': { type: 'string' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`minimonkey synth: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const fail = (msg: string) => {
    process.stderr.write(`minimonkey synth: ${msg}\n\n${USAGE}`);
    return 2;
  };
  const shape = values.shape as ShapeName | undefined;
  if (!shape || !(shape in SHAPES)) return fail('--shape must be tiny or internvl2-2b');
  if (!values.out) return fail('--out is required');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return fail('--seed must be an integer from 0 to 4294967295');
  const tiny = shape === 'tiny';
  const visionType = values['vision-type'] ?? (tiny ? 'f32' : 'f16');
  const textType = values['text-type'] ?? (tiny ? 'f32' : 'q8_0');
  if (!VISION_TYPES.includes(visionType)) return fail(`--vision-type must be one of ${VISION_TYPES.join(', ')}`);
  if (!TEXT_TYPES.includes(textType)) return fail(`--text-type must be one of ${TEXT_TYPES.join(', ')}`);
  if (values.only && values.only !== 'vision' && values.only !== 'text') return fail('--only must be vision or text');

  let last = '';
  const out = await synthesize({
    shape,
    outDir: values.out,
    seed,
    visionType: visionType as VisionWeightType,
    textType: textType as TextWeightType,
    parts: values.only ? [values.only as 'vision' | 'text'] : undefined,
    onProgress: ({ file, done, total }) => {
      const line = `\r${file}: ${done}/${total} tensors`;
      if (process.stderr.isTTY || done === total) process.stderr.write(done === total ? `${line}\n` : line);
      last = line;
    },
  });
  void last;
  for (const f of [out.mmproj, out.model]) if (f) process.stdout.write(`${f}\n`);
  return 0;
}
