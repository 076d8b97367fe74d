// `minimonkey runtime`: the version, the loaded addon and the CPU features ggml was built with.
import { runtimeInfo } from '../runtime';
import { CliCommand, parseOptions, UsageError } from './command';

const USAGE = 'usage: minimonkey runtime [--json]\n\nShows the version, the loaded addon and the CPU features ggml was built with.\n';

function parse(argv: string[]): { json: boolean } | 'help' {
  const { values, positionals } = parseOptions(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  return { json: values.json === true };
}

async function run(args: { json: boolean }): Promise<number> {
  const info = runtimeInfo();
  if (args.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const on = Object.entries(info.cpuFeatures).filter(([, v]) => v).map(([k]) => k);
  process.stdout.write(
    `minimonkey ${info.version} (llama.cpp ${info.llamaRelease}, N-API ${info.napiVersion})\n` +
      `addon: ${info.addonPath}${info.prebuilt ? ' (prebuilt)' : ' (built from source)'}\n` +
      `cpu level: ${info.cpuLevel}; ggml uses: ${on.join(' ') || 'no SIMD extensions'}\n`,
  );
  return 0;
}

export const command: CliCommand<{ json: boolean }> = { usage: USAGE, parse, run };
