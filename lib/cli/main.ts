#!/usr/bin/env node
// The `minimonkey` command: dispatches to one module per subcommand.
import { MiniMonkeyError } from '../errors';

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  ask: {
    summary: 'answer one question about an image, streamed (--json for the whole result)',
    run: async (argv) => (await import('./ask')).runAsk(argv),
  },
  chat: {
    summary: 'a conversation about images, one question per line (terminal or piped input)',
    run: async (argv) => (await import('./chat')).runChat(argv),
  },
  demo: {
    summary: 'the whole pipeline in seconds on a tiny random-weight model (no download)',
    run: async (argv) => (await import('./demo')).runDemo(argv),
  },
  bench: {
    summary: 'benchmarks beside llama.cpp: vision tower and language model',
    run: async (argv) => (await import('./bench')).runBench(argv),
  },
  synth: {
    summary: 'write a random-weight model pair (tiny for tests, internvl2-2b for benchmarks)',
    run: async (argv) => (await import('./synth')).runSynth(argv),
  },
  convert: {
    summary: 'convert a Hugging Face Mini-Monkey / InternVL2 checkpoint to a GGUF pair',
    run: async (argv) => (await import('./convert')).runConvert(argv),
  },
  info: {
    summary: "show a GGUF file's metadata and tensor summary",
    run: async (argv) => (await import('./info')).runInfo(argv),
  },
  crops: {
    summary: "show an image's MSAC crop plan (grids, tiles, tokens); -o draws it to a PNG",
    run: async (argv) => (await import('./crops')).runCrops(argv),
  },
  runtime: {
    summary: 'show the version, the loaded addon and the CPU features ggml was built with',
    run: async (argv) => (await import('./runtime')).runRuntime(argv),
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: minimonkey <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`minimonkey <command> --help\` for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${(await import('../runtime')).packageVersion()}\n`);
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`minimonkey: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return cmd.run(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const code = err instanceof MiniMonkeyError ? ` [${err.code}]` : '';
      const message = (err as Error)?.message ?? String(err);
      process.stderr.write(`${message.startsWith('minimonkey:') ? '' : 'minimonkey: '}${message}${code}\n`);
      process.exitCode = 1;
    },
  );
}
