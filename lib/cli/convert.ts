// `minimonkey convert`: a Hugging Face Mini-Monkey / InternVL2 checkpoint → a GGUF pair, no Python.
import { convertCheckpoint } from '../convert/convert';
import { TEXT_TYPES, TextQuant, VISION_TYPES, VisionQuant } from '../convert/quant-rules';
import { CliCommand, CliContext, parseOptions, UsageError } from './command';

const USAGE = `usage: minimonkey convert <checkpoint-dir> --out DIR [options]

Converts a Hugging Face Mini-Monkey / InternVL2 checkpoint (config.json, model.safetensors or
shards with model.safetensors.index.json, tokenizer_config.json, and tokenizer.model for an
InternLM2 / Llama LLM or tokenizer.json / vocab.json + merges.txt for a Qwen2 one) into a GGUF
pair in llama.cpp's layout: mmproj-<name>-<vision-type>.gguf (clip/internvl) and
<name>-<text-type>.gguf (internlm2, llama or qwen2). Both files appear only when both are complete.

options:
  --out DIR            output folder (created if missing)
  --text-type T        ${TEXT_TYPES.join(' | ')} (default q4_k_m)
  --vision-type T      ${VISION_TYPES.join(' | ')} (default f16)
  --name NAME          base of the output file names (default: the checkpoint folder's name)
  -h, --help           this help

exit codes: 0 done, 1 conversion failed (the error's code is shown), 2 bad usage,
130 stopped with Ctrl-C (nothing is left in the output folder)
`;

interface Parsed {
  checkpoint: string;
  out: string;
  textType: TextQuant;
  visionType: VisionQuant;
  name?: string;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values, positionals } = parseOptions(
    argv,
    {
      out: { type: 'string' },
      'text-type': { type: 'string', default: 'q4_k_m' },
      'vision-type': { type: 'string', default: 'f16' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError('give exactly one checkpoint folder');
  if (!values.out) throw new UsageError('--out is required');
  const textType = values['text-type'] as TextQuant;
  const visionType = values['vision-type'] as VisionQuant;
  if (!TEXT_TYPES.includes(textType)) throw new UsageError(`--text-type must be one of ${TEXT_TYPES.join(', ')}`);
  if (!VISION_TYPES.includes(visionType)) throw new UsageError(`--vision-type must be one of ${VISION_TYPES.join(', ')}`);
  return { checkpoint: positionals[0], out: values.out, textType, visionType, name: values.name };
}

async function run(args: Parsed, ctx: CliContext): Promise<number> {
  const tty = process.stderr.isTTY;
  let barShown = false;
  try {
    // Ctrl-C stops between tensors (and between quantized chunks) and the partial files are removed.
    const result = await convertCheckpoint({
      signal: ctx.signal,
      checkpointDir: args.checkpoint,
      outDir: args.out,
      textType: args.textType,
      visionType: args.visionType,
      name: args.name,
      onProgress: ({ file, done, total }) => {
        // A bar on a terminal; one line per finished file otherwise (logs stay short).
        if (tty) {
          const width = 30;
          const filled = Math.round((done / total) * width);
          process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${file}`);
          barShown = done !== total;
          if (done === total) process.stderr.write('\n');
        } else if (done === total) {
          process.stderr.write(`${file}: ${total} tensors\n`);
        }
      },
    });
    for (const w of result.warnings) process.stderr.write(`minimonkey convert: note: ${w}\n`);
    process.stdout.write(`${result.mmproj}\n${result.model}\n`);
    return 0;
  } finally {
    if (barShown) process.stderr.write('\n');
  }
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
