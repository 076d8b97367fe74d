import { AbortError } from '../errors';
import { native, NativeCancelToken } from '../native';

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
