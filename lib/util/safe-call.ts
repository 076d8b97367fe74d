// A user's callback (progress, tokens) run so that its exception cannot break the work that
// reports to it: the error is the caller's bug, and the load or the reply goes on.

/** Runs `fn(...args)`, swallowing what it throws. */
export function safeCall<A extends unknown[]>(fn: (...args: A) => void, ...args: A): void {
  try {
    fn(...args);
  } catch {
    // The caller's bug; the operation goes on.
  }
}
