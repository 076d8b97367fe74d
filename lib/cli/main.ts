#!/usr/bin/env node
// The `minimonkey` command: dispatches to one module per subcommand.
// Exit codes (README "Command line"): 0 ok, 1 failure (the message ends with the error's code),
// 2 bad command line, 130 stopped with Ctrl-C (143 with SIGTERM).
import { MiniMonkeyError } from '../errors';
import { CliCommand, runCommand } from './command';
import { installInterrupts, Interrupts } from './interrupt';
import { didYouMean } from './suggest';

interface Command {
  summary: string;
  /** The command's module, loaded only when it runs (the model commands pull in the addon). */
  load(): Promise<CliCommand<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- each command parses its own type
}

const commands: Record<string, Command> = {
  ask: {
    summary: 'answer one question about an image, streamed (--json for the whole result)',
    load: async () => (await import('./ask')).command,
  },
  chat: {
    summary: 'a conversation about images, one question per line (terminal or piped input)',
    load: async () => (await import('./chat')).command,
  },
  batch: {
    summary: 'ask every image and PDF page of files/folders/globs one question, to a resumable JSONL',
    load: async () => (await import('./batch')).command,
  },
  worker: {
    summary: "answer page jobs from a Redis queue (BullMQ) for `batch --queue`, many machines",
    load: async () => (await import('./worker')).command,
  },
  serve: {
    summary: 'an OpenAI-compatible HTTP server (chat completions, streaming) and a page to try it at /',
    load: async () => (await import('./serve')).command,
  },
  demo: {
    summary: 'the whole pipeline in seconds on a tiny random-weight model (no download)',
    load: async () => (await import('./demo')).command,
  },
  bench: {
    summary: 'benchmarks beside llama.cpp: vision tower and language model',
    load: async () => (await import('./bench')).command,
  },
  synth: {
    summary: 'write a random-weight model pair (tiny for tests, internvl2-2b for benchmarks)',
    load: async () => (await import('./synth')).command,
  },
  pull: {
    summary: 'download a model from the Hugging Face Hub (checkpoint: converted; GGUF repo: text + mmproj)',
    load: async () => (await import('./pull')).command,
  },
  convert: {
    summary: 'convert a Hugging Face Mini-Monkey / InternVL2 checkpoint to a GGUF pair',
    load: async () => (await import('./convert')).command,
  },
  info: {
    summary: "show a GGUF file's metadata and tensor summary",
    load: async () => (await import('./info')).command,
  },
  crops: {
    summary: "show an image's MSAC crop plan (grids, tiles, tokens); -o draws it to a PNG",
    load: async () => (await import('./crops')).command,
  },
  runtime: {
    summary: 'show the version, the loaded addon and the CPU features ggml was built with',
    load: async () => (await import('./runtime')).command,
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: minimonkey <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`minimonkey <command> --help\` for a command's options.\n`;
}

export async function main(argv: string[], interrupts: Interrupts = installInterrupts()): Promise<number> {
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
    process.stderr.write(`minimonkey: unknown command '${name}'${didYouMean(name, Object.keys(commands))}\n\n${usage()}`);
    return 2;
  }
  return runCommand(name, await cmd.load(), rest, interrupts);
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
