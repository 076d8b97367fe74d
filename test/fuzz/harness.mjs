// The bounded property loop behind the TypeScript fuzz targets (test/fuzz/*.fuzz.mjs).
//
// Why not Jazzer.js: @jazzer.js/core 4.0.0's prebuilt libFuzzer addon needs glibc 2.38 (Debian 12
// has 2.36) and 2.1.0 downloads its binary from GitHub at install time, which CI cannot reach. So
// each target is a fast-check property (random and shrinking, seeded, reproducible) run until a
// time budget or a run count is spent. A finding is any exception that is not a MiniMonkeyError,
// one call slower than HANG_MS, or the process dying (the caller, scripts/ci-hardening.mjs, runs
// each target in its own process with a heap cap and a wall-clock timeout).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const fc = require('fast-check');
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled package (npm run build:ts): what users run. */
export const dist = (mod) => require(path.join(root, 'dist', 'lib', mod));
const { MiniMonkeyError } = dist('errors');

const HANG_MS = Number(process.env.MINIMONKEY_FUZZ_HANG_MS || 5000);

/** Calls fn(input); true if it returned or threw a MiniMonkeyError, else throws what is wrong. */
export function typedOnly(fn) {
  return (...args) => {
    const t0 = performance.now();
    try {
      fn(...args);
    } catch (e) {
      if (!(e instanceof MiniMonkeyError)) {
        const err = new Error(`not a MiniMonkeyError: ${e?.constructor?.name}: ${e?.message}`);
        err.cause = e;
        throw err;
      }
    }
    const ms = performance.now() - t0;
    if (ms > HANG_MS) throw new Error(`one call took ${ms.toFixed(0)} ms (> ${HANG_MS} ms): a hang`);
    return true;
  };
}

/**
 * Runs each named property for its share of `seconds`, prints runs per property and returns the
 * number of failed ones. MINIMONKEY_FUZZ_SEED reproduces a run; the failing input is printed
 * shrunk, with the seed and path fast-check needs to replay it.
 */
export function runTargets(name, properties) {
  const seconds = Number(process.env.MINIMONKEY_FUZZ_SECONDS || 20);
  const seed = Number(process.env.MINIMONKEY_FUZZ_SEED || Date.now() % 2 ** 31);
  const share = (seconds * 1000) / properties.length;
  let failed = 0;
  let total = 0;
  for (const [label, property] of properties) {
    const t0 = performance.now();
    const out = fc.check(property, { seed, numRuns: 1e9, interruptAfterTimeLimit: share, markInterruptAsFailure: false, endOnFailure: true });
    total += out.numRuns;
    const ms = performance.now() - t0;
    if (out.failed) {
      failed++;
      console.log(`[fuzz:${name}] FINDING in ${label} after ${out.numRuns} runs (seed ${out.seed}, path "${out.counterexamplePath}")`);
      console.log(`  input: ${fc.stringify(out.counterexample).slice(0, 2000)}`);
      console.log(`  error: ${String(out.errorInstance?.message ?? out.error).slice(0, 2000)}`);
      const cause = out.errorInstance?.cause;
      if (cause?.stack) console.log(`  stack: ${cause.stack.split('\n').slice(0, 8).join('\n         ')}`);
    } else {
      console.log(`[fuzz:${name}] ${label}: ${out.numRuns} runs in ${(ms / 1000).toFixed(1)} s, clean`);
    }
  }
  console.log(`[fuzz:${name}] executions: ${total}, findings: ${failed} (seed ${seed})`);
  return failed;
}
