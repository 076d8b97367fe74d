// `minimonkey info <gguf>`: what a model file holds — architecture, key metadata, tensor summary.
import { parseArgs } from 'node:util';
import { typeName } from '../gguf/constants';
import { GgufHeader, readGgufHeaderSync } from '../gguf/reader';

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

export async function runInfo(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, tensors: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    process.stderr.write(`minimonkey info: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`minimonkey info: give exactly one GGUF file\n\n${USAGE}`);
    return 2;
  }
  const h = readGgufHeaderSync(positionals[0]);
  const s = summarize(h);
  if (values.json) {
    const out = values.tensors ? { ...s, tensorList: h.tensors.map((t) => ({ name: t.name, type: typeName(t.type), ne: t.ne })) } : s;
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `${positionals[0]}: GGUF v${s.version}, architecture ${s.architecture}`,
    `${s.tensors} tensors, ${(s.parameters / 1e6).toFixed(1)}M parameters, ${(s.bytes / 1048576).toFixed(1)} MiB`,
    `types: ${Object.entries(s.types).map(([k, v]) => `${k} ×${v.tensors}`).join(', ')}`,
    'metadata:',
    ...Object.entries(s.metadata).map(([k, v]) => `  ${k} = ${JSON.stringify(v)}`),
  ];
  if (values.tensors) lines.push('tensors:', ...h.tensors.map((t) => `  ${t.name}  ${typeName(t.type)}  [${t.ne.join(', ')}]`));
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
