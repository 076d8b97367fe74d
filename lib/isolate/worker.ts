// One child process running the model: its load, its calls in flight, and what a death does to
// them. A death (signal, abort, exit) rejects every pending call with a WORKER error naming the
// signal or exit code; the owner (isolated-model.ts) starts a fresh child on the next call.
import { AbortError, MiniMonkeyError } from '../errors';
import type { AskProgress } from '../llm/session';
import { fromRecord } from './error-record';
import type { ChildState, FromChild, ToChild } from './protocol';
import { ChildTransport, startChild } from './transport';

export interface CallHandlers {
  signal?: AbortSignal;
  onToken?: (text: string, token: number) => void;
  onProgress?: (p: AskProgress) => void;
}

interface Pending {
  op: string;
  resolve(r: { value: unknown; state: ChildState }): void;
  reject(e: unknown): void;
  handlers: CallHandlers;
  release(): void;
  /** The phase the child last reported (for the message when it dies). */
  phase?: string;
}

type CallMessage = ToChild & { t: 'call' };
// The message of a call without its id (distributive, so each op keeps its own fields).
export type CallRequest = CallMessage extends infer M ? (M extends { id: number } ? Omit<M, 'id' | 't'> : never) : never;

export interface ReadyInfo {
  family: unknown;
  device: unknown;
  state: ChildState;
}

/** Why a child ended, in words: a signal's name or the exit code. */
export function deathCause(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export class ModelWorker {
  private readonly child: ChildTransport;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private loading: { reject(e: unknown): void } | undefined;
  /** Set once the child has ended (or is being ended on purpose). */
  private ended: string | undefined;
  readonly ready: Promise<ReadyInfo>;
  /** Called with the number of calls pending each time it changes. */
  onBusy: (pending: number) => void = () => undefined;
  onState: (s: ChildState) => void = () => undefined;

  constructor(
    file: string, load: Record<string, unknown>, onLoadProgress: (phase: 'text' | 'vision', fraction: number) => void,
    private readonly onDeath: (w: ModelWorker) => void,
  ) {
    this.child = startChild(file);
    this.ready = new Promise<ReadyInfo>((resolve, reject) => {
      this.loading = { reject };
      this.child.onMessage((m: FromChild) => {
        if (m.t === 'loadProgress') onLoadProgress(m.phase, m.fraction);
        else if (m.t === 'ready') {
          this.loading = undefined;
          this.setRef();
          resolve({ family: m.family, device: m.device, state: m.state });
        } else if (m.t === 'loadFailed') {
          this.loading = undefined;
          this.stop();
          reject(fromRecord(m.error));
        } else this.onReply(m);
      });
    });
    this.ready.catch(() => undefined);
    this.child.onExit((code, signal) => this.onExit(code, signal));
    this.child.send({ t: 'load', options: load });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Sends a call once the child is loaded; its reply (or its death) settles the promise. */
  async call(req: CallRequest, handlers: CallHandlers = {}): Promise<{ value: unknown; state: ChildState }> {
    await this.ready;
    if (this.ended) throw new MiniMonkeyError('WORKER', `the model's process ${this.ended}`);
    if (handlers.signal?.aborted) throw new AbortError();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.child.send({ t: 'abort', id });
      handlers.signal?.addEventListener('abort', onAbort, { once: true });
      const release = () => handlers.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { op: req.op, resolve, reject, handlers, release });
      this.busyChanged();
      try {
        this.child.send({ ...req, t: 'call', id } as ToChild);
      } catch (e) {
        // Not serialisable (a function or a class instance inside the content or options).
        this.settle(id)?.reject(new MiniMonkeyError('INVALID_ARGUMENT', `cannot send this ${req.op} to the model's process: ${(e as Error).message}`));
      }
    });
  }

  /** A message with no reply (an abort, a session disposed). */
  post(m: ToChild): void {
    if (!this.ended) this.child.send(m);
  }

  /** Ends the child on purpose: the model is disposed or idle. Pending calls get `why`. */
  stop(why?: Error): void {
    if (this.ended) return;
    this.ended = 'was stopped';
    for (const id of [...this.pending.keys()]) this.settle(id)!.reject(why ?? new MiniMonkeyError('WORKER', "the model's process was stopped"));
    this.child.send({ t: 'dispose' });
    // It exits by itself at once; one stuck in native work is killed.
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
    this.child.setRef(false);
  }

  /** Kills the child now (a load given up). */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  private onReply(m: Exclude<FromChild, { t: 'loadProgress' | 'ready' | 'loadFailed' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.t === 'token') {
      p.phase = 'generate';
      p.handlers.onToken?.(m.text, m.token);
    } else if (m.t === 'progress') {
      p.phase = m.p.phase;
      p.handlers.onProgress?.(m.p);
    }
    else {
      this.onState(m.state);
      this.settle(m.id);
      if (m.t === 'done') p.resolve({ value: m.value, state: m.state });
      else p.reject(fromRecord(m.error));
    }
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    p.release();
    this.busyChanged();
    return p;
  }

  private busyChanged(): void {
    this.setRef();
    this.onBusy(this.pending.size);
  }

  // The channel keeps the parent alive only while a load or a call is in flight, as the addon's
  // own async work does in one process; an idle model does not hold the app open.
  private setRef(): void {
    if (!this.ended) this.child.setRef(this.loading !== undefined || this.pending.size > 0);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const purposeful = this.ended !== undefined;
    this.ended = deathCause(code, signal);
    this.onDeath(this);
    if (purposeful) return;
    const pid = this.child.pid;
    if (this.loading) {
      this.loading.reject(new MiniMonkeyError('WORKER', `the model's process (pid ${pid}) ${this.ended} while loading the model`));
      this.loading = undefined;
    }
    for (const id of [...this.pending.keys()]) {
      const p = this.settle(id)!;
      p.reject(new MiniMonkeyError('WORKER', `the model's process (pid ${pid}) ${this.ended} during ${p.op === 'ask' ? 'an ask' : p.op}${p.phase ? ` (${p.phase})` : ''}; the next call starts a fresh one (conversations in it are lost)`));
    }
  }
}
