// `minimonkey runtime`: the version, the loaded addon and the CPU variant ggml runs.
import { runtimeInfo } from '../runtime';
import { CliCommand, parseOptions, UsageError } from './command';

const USAGE =
  'usage: minimonkey runtime [--json]\n\nShows the version, the loaded addon, the CPU and the variant of ggml\'s CPU backend it runs\n' +
  '(MINIMONKEY_CPU_VARIANT=<name> forces one; `--json` lists them all), and the devices ggml found (what --device takes).\n';

function parse(argv: string[]): { json: boolean } | 'help' {
  const { values, positionals } = parseOptions(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, true);
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  return { json: values.json === true };
}

const SOURCE_TEXT = { package: 'prebuilt, platform package', prebuilds: 'prebuilt, prebuilds/', build: 'built from source', env: 'MINIMONKEY_ADDON_PATH' } as const;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20).toLocaleString('en-US');

async function run(args: { json: boolean }): Promise<number> {
  const info = runtimeInfo();
  if (args.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const on = Object.entries(info.cpu.features).map(([k, v]) => (v === '1' ? k : `${k}=${v}`));
  const runnable = info.cpu.variants.filter((v) => v.score > 0).map((v) => v.name);
  process.stdout.write(
    `minimonkey ${info.version} (llama.cpp ${info.llamaCommit.slice(0, 10)}, from node-llama-cpp's ${info.llamaRelease} bundle; N-API ${info.napiVersion})\n` +
      `addon: ${info.addonPath} (${SOURCE_TEXT[info.addonSource]}${info.addonPackage ? ` ${info.addonPackage.name}@${info.addonPackage.version}` : ''})\n` +
      `cpu: ${info.cpuModel}\n` +
      `threads: ${info.threads.default} by default (physical cores), at most ${info.threads.max} (logical CPUs)\n` +
      `ggml cpu variant: ${info.cpu.variant} (chosen by ${info.cpu.chosenBy}); uses: ${on.join(' ') || 'no SIMD extensions'}\n` +
      (runnable.length ? `variants this cpu runs: ${runnable.join(', ')}\n` : '') +
      info.devices.map((d) => `device ${d.name}: ${d.description} (${d.type}${d.memoryTotal ? `, ${mib(d.memoryFree)} of ${mib(d.memoryTotal)} MiB free` : ''})\n`).join('') +
      info.backendModules.filter((m) => !m.loaded).map((m) => `gpu backend ${m.name}: not loaded (${m.error ?? 'unknown'}) from ${m.path}\n`).join(''),
  );
  return 0;
}

export const command: CliCommand<{ json: boolean }> = { usage: USAGE, parse, run };
