// A child process that runs part of minimonkey (a model with isolate: 'process', the PDF
// renderer), as one small interface: Node's child_process.fork with an
// IPC channel (advanced serialization, so typed arrays travel as such), or in Electron's main
// process `utilityProcess.fork` (Electron's recommended home for heavy native work; not tested
// here: no Electron on CI). Either way a death arrives as onExit with the exit code or signal.
import { fork } from 'node:child_process';

/** `Out` the messages sent to the child, `In` those it sends back. */
export interface ChildTransport<Out, In> {
  readonly pid: number | undefined;
  send(m: Out): void;
  onMessage(fn: (m: In) => void): void;
  onExit(fn: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
  /** Whether the channel keeps the parent's event loop alive (only while calls are pending). */
  setRef(ref: boolean): void;
}

export function startChild<Out, In>(file: string): ChildTransport<Out, In> {
  return electronUtility<Out, In>(file) ?? nodeFork<Out, In>(file);
}

function nodeFork<Out, In>(file: string): ChildTransport<Out, In> {
  // env given explicitly: a sandbox's process.env (jest's) is what the caller sees, not the real one.
  const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced', env: process.env });
  // A send to a child that just died fails with EPIPE: its exit event tells the calls why.
  child.on('error', () => undefined);
  return {
    get pid() {
      return child.pid;
    },
    send: (m) => {
      if (child.connected) child.send(m as Parameters<typeof child.send>[0]);
    },
    onMessage: (fn) => child.on('message', fn as (m: unknown) => void),
    // 'close', not 'exit': it comes after the last message the child sent (the IPC channel is drained).
    onExit: (fn) => child.on('close', fn),
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    setRef: (ref) => {
      const ch = child.channel as { ref(): void; unref(): void } | undefined;
      if (ref) {
        child.ref();
        ch?.ref();
      } else {
        child.unref();
        ch?.unref();
      }
    },
  };
}

interface UtilityProcess {
  pid?: number;
  postMessage(m: unknown): void;
  on(event: 'message', fn: (m: unknown) => void): void;
  on(event: 'exit', fn: (code: number) => void): void;
  kill(): boolean;
}

/** Electron's utilityProcess, when this is Electron's main process; undefined elsewhere. */
function electronUtility<Out, In>(file: string): ChildTransport<Out, In> | undefined {
  if (!process.versions.electron) return undefined;
  let utility: { fork(file: string, args: string[], o: object): UtilityProcess } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    utility = (require('electron') as { utilityProcess?: typeof utility }).utilityProcess;
  } catch {
    return undefined;
  }
  if (!utility) return undefined;  // a renderer or a plain Node child of Electron: fork instead
  const child = utility.fork(file, [], { stdio: 'inherit', serviceName: 'minimonkey' });
  let exited = false;
  child.on('exit', () => (exited = true));
  return {
    get pid() {
      return child.pid;
    },
    send: (m) => {
      if (!exited) child.postMessage(m);
    },
    onMessage: (fn) => child.on('message', fn as (m: unknown) => void),
    // Electron gives the exit code only; a crash is a non-zero code.
    onExit: (fn) => child.on('exit', (code) => fn(code, null)),
    kill: () => {
      if (!exited) child.kill();
    },
    setRef: () => undefined,  // Electron's main process lives as long as the app
  };
}

interface ParentPort {
  on(event: 'message', fn: (e: { data: unknown }) => void): void;
  postMessage(m: unknown): void;
}

/**
 * The child's side of startChild's channel: `send` to the parent, and `onMessage` from it. Electron's
 * utilityProcess has process.parentPort; a forked Node process has process.send. The parent gone
 * (exited, killed, or the channel closed) ends this process: nothing more will come.
 */
export function parentChannel<Out, In>(onMessage: (m: In) => void): { send(m: Out): void } {
  const electronPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (electronPort) {
    electronPort.on('message', (e) => onMessage(e.data as In));
    return { send: (m) => electronPort.postMessage(m) };
  }
  process.on('message', (m) => onMessage(m as In));
  process.on('disconnect', () => process.exit(0));
  // A parent killed while the channel is busy: this process's parent becomes the reaper.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 500).unref();
  return {
    // A parent gone mid-send (EPIPE) is not an error here: 'disconnect' ends this process.
    send: (m) => {
      if (process.connected) process.send!(m, undefined, {}, () => undefined);
    },
  };
}
