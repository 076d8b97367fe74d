// `minimonkey info <gguf>`: what a model file holds — architecture, key metadata, tensor summary.
import { typeName } from '../gguf/constants';
import { GgufHeader, readGgufHeaderSync } from '../gguf/reader';
import { checkInputFile } from '../util/file-kind';
import { CliCommand, parseOptions, UsageError } from './command';

const USAGE = `usage: minimonkey info <file.gguf> [--json] [--tensors]

Shows a GGUF file's metadata and a summary of its tensors (count, types, parameters, size).
  --json      machine-readable output
  --tensors   list every tensor (name, type, shape)
`;

function printable(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.length > 8 ? `[${value.length} values]` : value.map(printable);
  return value;
}

export function summarize(h: GgufHeader) {
  const byType = new Map<string, { tensors: number; params: number; bytes: number }>();
  let params = 0;
  for (const t of h.tensors) {
    const n = t.ne.reduce((a, b) => a * b, 1);
    params += n;
    const k = typeName(t.type);
    const e = byType.get(k) ?? { tensors: 0, params: 0, bytes: 0 };
    e.tensors++;
    e.params += n;
    e.bytes += t.nbytes;
    byType.set(k, e);
  }
  return {
    version: h.version,
    architecture: h.kv.get('general.architecture')?.value ?? null,
    metadata: Object.fromEntries([...h.kv].map(([k, v]) => [k, printable(v.value)])),
    tensors: h.tensors.length,
    parameters: params,
    bytes: h.fileSize,
    types: Object.fromEntries(byType),
  };
}

interface Parsed {
  file: string;
  json: boolean;
  tensors: boolean;
}

function parse(argv: string[]): Parsed | 'help' {
  const { values, positionals } = parseOptions(argv, { json: { type: 'boolean' }, tensors: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError('give exactly one GGUF file');
  return { file: positionals[0], json: values.json === true, tensors: values.tensors === true };
}

async function run(args: Parsed): Promise<number> {
  checkInputFile(args.file, 'GGUF file'); // a FIFO would block the read forever
  const h = readGgufHeaderSync(args.file);
  const s = summarize(h);
  if (args.json) {
    const out = args.tensors ? { ...s, tensorList: h.tensors.map((t) => ({ name: t.name, type: typeName(t.type), ne: t.ne })) } : s;
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `${args.file}: GGUF v${s.version}, architecture ${s.architecture}`,
    `${s.tensors} tensors, ${(s.parameters / 1e6).toFixed(1)}M parameters, ${(s.bytes / 1048576).toFixed(1)} MiB`,
    `types: ${Object.entries(s.types).map(([k, v]) => `${k} ×${v.tensors}`).join(', ')}`,
    'metadata:',
    ...Object.entries(s.metadata).map(([k, v]) => `  ${k} = ${JSON.stringify(v)}`),
  ];
  if (args.tensors) lines.push('tensors:', ...h.tensors.map((t) => `  ${t.name}  ${typeName(t.type)}  [${t.ne.join(', ')}]`));
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export const command: CliCommand<Parsed> = { usage: USAGE, parse, run };
