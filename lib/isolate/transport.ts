// The child process a model runs in (util/child-process.ts), typed with the model's messages.
import { ChildTransport as Transport, startChild as start } from '../util/child-process';
import type { FromChild, ToChild } from './protocol';

export type ChildTransport = Transport<ToChild, FromChild>;

export function startChild(file: string): ChildTransport {
  return start<ToChild, FromChild>(file);
}
