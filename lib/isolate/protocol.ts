// The messages between a model's parent process and the child process that runs it
// (isolated-model.ts forks child.ts). Functions (onToken, onProgress) and AbortSignals never
// travel: the parent keeps them and the child reports tokens, progress and takes aborts by message.
import type { AskProgress } from '../llm/session';
import type { ErrorRecord } from './error-record';

/** What the parent keeps a copy of between calls, so its getters answer synchronously. */
export interface ChildState {
  sequences?: unknown;
  imageCache: { entries: number; hits: number; misses: number };
  /** The session the call was on: its context use after the call. */
  session?: { id: number; used: number; size: number };
}

export type CallOp = 'chat' | 'ask' | 'reset' | 'encodeImage';

export type ToChild =
  | { t: 'load'; options: Record<string, unknown> }
  | { t: 'call'; id: number; op: 'chat'; options: Record<string, unknown> }
  | { t: 'call'; id: number; op: 'ask'; session: number; content: unknown; options: Record<string, unknown>; tokens: boolean; progress: boolean }
  | { t: 'call'; id: number; op: 'reset'; session: number }
  | { t: 'call'; id: number; op: 'encodeImage'; image: unknown; options: Record<string, unknown> }
  | { t: 'disposeSession'; session: number }
  | { t: 'abort'; id: number }
  | { t: 'dispose' };

export type FromChild =
  | { t: 'loadProgress'; phase: 'text' | 'vision'; fraction: number }
  | { t: 'ready'; family: unknown; device: unknown; state: ChildState }
  | { t: 'loadFailed'; error: ErrorRecord }
  | { t: 'progress'; id: number; p: AskProgress }
  | { t: 'token'; id: number; text: string; token: number }
  | { t: 'done'; id: number; value: unknown; state: ChildState }
  | { t: 'failed'; id: number; error: ErrorRecord; state: ChildState };
