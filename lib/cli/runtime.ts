import { parseArgs } from 'node:util';
import { runtimeInfo } from '../runtime';

export async function runRuntime(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: minimonkey runtime [--json]\n\nShows the version, the loaded addon and the CPU features ggml was built with.\n');
    return 0;
  }
  const info = runtimeInfo();
  if (values.json) {
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
