// Ctrl-C (SIGINT) and SIGTERM, the same for every command. The first one aborts the command's
// signal: the command stops at its next check, its temp files are removed on the way out, and it
// exits 130 (128 + SIGINT, what a shell reports for a program Ctrl-C ended; 143 for SIGTERM). A
// second one exits at once with that code, after removing the temp files still open. A command
// that gives Ctrl-C another meaning (chat: stop the reply) takes it over with `handle`.
import { removeTempsSync } from '../util/safe-write';

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type Signal = keyof typeof EXIT_CODES;

export interface Interrupts {
  /** Aborted by the first Ctrl-C (unless a handler took it). */
  readonly signal: AbortSignal;
  /** 130 (or 143) once the command was stopped by a signal, else undefined. */
  readonly exitCode: number | undefined;
  /** Routes Ctrl-C to `handler` until the returned function is called. */
  handle(handler: () => void): () => void;
  /** What Ctrl-C does by default: abort `signal`; the second time, exit at once. */
  stop(signal?: Signal): void;
}

export function installInterrupts(): Interrupts {
  const controller = new AbortController();
  let exitCode: number | undefined;
  let handler: (() => void) | undefined;
  const stop = (sig: Signal = 'SIGINT') => {
    if (exitCode !== undefined) {
      removeTempsSync();
      process.exit(exitCode);
    }
    exitCode = EXIT_CODES[sig];
    controller.abort();
  };
  for (const sig of Object.keys(EXIT_CODES) as Signal[]) {
    process.on(sig, () => {
      if (handler && sig === 'SIGINT') handler();
      else stop(sig);
    });
  }
  // Whatever ends the process, no temp file outlives it.
  process.on('exit', removeTempsSync);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    handle(h) {
      handler = h;
      return () => {
        if (handler === h) handler = undefined;
      };
    },
    stop,
  };
}
