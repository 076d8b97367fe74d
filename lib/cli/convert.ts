// `minimonkey convert`: a Hugging Face Mini-Monkey / InternVL2 checkpoint → a GGUF pair, no Python.
import { parseArgs } from 'node:util';
import { convertCheckpoint } from '../convert/convert';
import { TEXT_TYPES, TextQuant, VISION_TYPES, VisionQuant } from '../convert/quant-rules';
import { MiniMonkeyError } from '../errors';

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

exit codes: 0 done, 1 conversion failed (the error's code is shown), 2 bad usage
`;

export async function runConvert(argv: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        'text-type': { type: 'string', default: 'q4_k_m' },
        'vision-type': { type: 'string', default: 'f16' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`minimonkey convert: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const fail = (msg: string) => {
    process.stderr.write(`minimonkey convert: ${msg}\n\n${USAGE}`);
    return 2;
  };
  if (positionals.length !== 1) return fail('give exactly one checkpoint folder');
  if (!values.out) return fail('--out is required');
  const textType = values['text-type'] as TextQuant;
  const visionType = values['vision-type'] as VisionQuant;
  if (!TEXT_TYPES.includes(textType)) return fail(`--text-type must be one of ${TEXT_TYPES.join(', ')}`);
  if (!VISION_TYPES.includes(visionType)) return fail(`--vision-type must be one of ${VISION_TYPES.join(', ')}`);

  const tty = process.stderr.isTTY;
  // Ctrl-C stops between tensors and the partial files are removed, rather than left behind.
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await convertCheckpoint({
      signal: abort.signal,
      checkpointDir: positionals[0],
      outDir: values.out,
      textType,
      visionType,
      name: values.name,
      onProgress: ({ file, done, total }) => {
        // A bar on a terminal; one line per finished file otherwise (logs stay short).
        if (tty) {
          const width = 30;
          const filled = Math.round((done / total) * width);
          process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${file}`);
          if (done === total) process.stderr.write('\n');
        } else if (done === total) {
          process.stderr.write(`${file}: ${total} tensors\n`);
        }
      },
    });
    for (const w of result.warnings) process.stderr.write(`minimonkey convert: note: ${w}\n`);
    process.stdout.write(`${result.mmproj}\n${result.model}\n`);
    return 0;
  } catch (e) {
    if (tty) process.stderr.write('\n');
    const code = e instanceof MiniMonkeyError ? ` [${e.code}]` : '';
    process.stderr.write(`minimonkey convert: ${(e as Error)?.message ?? String(e)}${code}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
