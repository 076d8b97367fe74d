// Sampling options of one reply, checked here so a bad value is a typed error, not a libllama abort.
import { InvalidArgumentError } from '../errors';
import { checkInt, DEFAULTS } from '../limits';

export interface SamplingOptions {
  /** 0 (default) decodes greedily, as the reference does; above 0 samples. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Nucleus sampling (1 = off). */
  topP?: number;
  /** Drop tokens below minP · p(best) (0 = off). */
  minP?: number;
  /** Penalize repeats of the last `repeatLastN` tokens (1 = off). */
  repeatPenalty?: number;
  repeatLastN?: number;
  /** RNG seed for sampling (default 0: replies are reproducible). */
  seed?: number;
}

function check(name: string, v: number | undefined, ok: (n: number) => boolean, range: string): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new InvalidArgumentError(`${name} must be ${range} (got ${v})`);
}

/** The options checked and their defaults filled in from DEFAULTS, as the addon takes them (only the known keys). */
export function checkSampling(o: SamplingOptions): SamplingOptions {
  check('temperature', o.temperature, (n) => n >= 0 && n <= 100, 'between 0 and 100');
  checkInt('topK', o.topK);
  check('topP', o.topP, (n) => n > 0 && n <= 1, 'in (0, 1]');
  check('minP', o.minP, (n) => n >= 0 && n < 1, 'in [0, 1)');
  check('repeatPenalty', o.repeatPenalty, (n) => n > 0 && n <= 10, 'in (0, 10]');
  checkInt('repeatLastN', o.repeatLastN);
  checkInt('seed', o.seed);
  return {
    temperature: o.temperature ?? DEFAULTS.temperature,
    topK: o.topK ?? DEFAULTS.topK,
    topP: o.topP ?? DEFAULTS.topP,
    minP: o.minP ?? DEFAULTS.minP,
    repeatPenalty: o.repeatPenalty ?? DEFAULTS.repeatPenalty,
    repeatLastN: o.repeatLastN ?? DEFAULTS.repeatLastN,
    seed: o.seed ?? DEFAULTS.seed,
  };
}
