import { AbortError, InvalidArgumentError } from '../errors';
import { native, NativeCancelToken } from '../native';

/** An AbortSignal, or undefined; anything else (`{}`, a string) is an InvalidArgumentError. */
export function checkSignal(signal: unknown, name = 'signal'): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const s = signal as Partial<AbortSignal> | null;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' || typeof s.removeEventListener !== 'function') {
    throw new InvalidArgumentError(`${name} must be an AbortSignal (e.g. AbortController().signal)`);
  }
  return signal as AbortSignal;
}

/** A callback option: a function or undefined. */
export function checkCallback(fn: unknown, name: string): void {
  if (fn !== undefined && typeof fn !== 'function') throw new InvalidArgumentError(`${name} must be a function`);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}

/** A native cancel token that follows `signal`; call `release()` when the work ends. */
export function cancelTokenFor(signal: AbortSignal | undefined): { token?: NativeCancelToken; release(): void } {
  if (!signal) return { release() {} };
  const token = new (native().CancelToken)();
  const onAbort = () => token.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) token.cancel();
  return { token, release: () => signal.removeEventListener('abort', onAbort) };
}
