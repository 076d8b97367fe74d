// The candidate grid list S(min,max) in the exact order the reference sees it (facts §2.2):
//   sorted(set((i, j) for n in range(min, max+1) for i in range(1, n+1) for j in range(1, n+1)
//              if min <= i*j <= max), key=lambda x: x[0]*x[1])
// Ties within one product come out in CPython set-iteration order, and find_closest_aspect_ratio
// is order-sensitive on exact ties, so we rebuild that set the way CPython 3.11 does: xxHash-based
// tuple hashes, open addressing with linear probes plus perturbation, and the same resize policy.

/** A grid ratio: `i` tiles across the width, `j` tiles down the height. */
export interface GridRatio {
  readonly i: number;
  readonly j: number;
}

const U64 = (x: bigint): bigint => BigInt.asUintN(64, x);

// Objects/tupleobject.c (64-bit build).
const XXPRIME_1 = 11400714785074694791n;
const XXPRIME_2 = 14029467366897019727n;
const XXPRIME_5 = 2870177450012600261n;

/** hash((a, b)) for small non-negative ints (hash(n) == n), as an unsigned 64-bit value. */
export function cpythonTupleHash(items: readonly number[]): bigint {
  let acc = XXPRIME_5;
  for (const item of items) {
    acc = U64(acc + U64(BigInt(item) * XXPRIME_2));
    acc = U64((acc << 31n) | (acc >> 33n));
    acc = U64(acc * XXPRIME_1);
  }
  acc = U64(acc + (BigInt(items.length) ^ (XXPRIME_5 ^ 3527539n)));
  // -1 is reserved for errors in C; CPython substitutes this constant.
  return acc === 0xffffffffffffffffn ? 1546275796n : acc;
}

// Objects/setobject.c (3.11).
const SET_MINSIZE = 8;
const LINEAR_PROBES = 9;
const PERTURB_SHIFT = 5n;

interface Entry {
  hash: bigint;
  i: number;
  j: number;
}

/** Emulates a CPython `set` of (i, j) tuples; there are no deletions, so no dummies. */
class CPythonTupleSet {
  private table: (Entry | null)[] = new Array(SET_MINSIZE).fill(null);
  private mask = SET_MINSIZE - 1;
  private fill = 0;
  private used = 0;

  add(i: number, j: number): void {
    const hash = cpythonTupleHash([i, j]);
    const mask = BigInt(this.mask);
    let idx = hash & mask;
    let perturb = hash;
    for (;;) {
      const start = Number(idx);
      // Checks slot idx and then LINEAR_PROBES more, only if they fit without wrapping.
      const probes = start + LINEAR_PROBES <= this.mask ? LINEAR_PROBES : 0;
      for (let k = 0; k <= probes; k++) {
        const e = this.table[start + k];
        if (e === null) {
          this.table[start + k] = { hash, i, j };
          this.fill++;
          this.used++;
          if (this.fill * 5 >= this.mask * 3) this.resize(this.used > 50000 ? this.used * 2 : this.used * 4);
          return;
        }
        if (e.hash === hash && e.i === i && e.j === j) return;
      }
      perturb >>= PERTURB_SHIFT;
      idx = U64(idx * 5n + 1n + perturb) & mask;
    }
  }

  private resize(minused: number): void {
    let size = SET_MINSIZE;
    while (size <= minused) size *= 2;
    const old = this.table;
    this.table = new Array(size).fill(null);
    this.mask = size - 1;
    // fill == used here (no dummies), so every old entry is reinserted in table order.
    for (const e of old) if (e !== null) this.insertClean(e);
  }

  // set_insert_clean: the key is known to be absent and the table has no dummies.
  private insertClean(e: Entry): void {
    const mask = BigInt(this.mask);
    let idx = e.hash & mask;
    let perturb = e.hash;
    for (;;) {
      const start = Number(idx);
      if (this.table[start] === null) {
        this.table[start] = e;
        return;
      }
      if (start + LINEAR_PROBES <= this.mask) {
        for (let k = 1; k <= LINEAR_PROBES; k++) {
          if (this.table[start + k] === null) {
            this.table[start + k] = e;
            return;
          }
        }
      }
      perturb >>= PERTURB_SHIFT;
      idx = U64(idx * 5n + 1n + perturb) & mask;
    }
  }

  /** Iteration order: table slots from 0 to mask. */
  items(): GridRatio[] {
    const out: GridRatio[] = [];
    for (const e of this.table) if (e !== null) out.push({ i: e.i, j: e.j });
    return out;
  }
}

const cache = new Map<string, readonly GridRatio[]>();

/**
 * S(min,max) = {(i,j) : min <= i*j <= max} in the reference order: ascending i*j, ties in CPython
 * 3.11 set-iteration order. Empty when min > max. The result is frozen and cached.
 */
export function candidateRatios(min: number, max: number): readonly GridRatio[] {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
    throw new RangeError(`candidateRatios: min and max must be integers, got ${min}, ${max}`);
  }
  const key = `${min},${max}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const set = new CPythonTupleSet();
  const seen = new Set<number>();
  // Same sequence of first insertions as the generator expression. Re-adding a present key is a
  // no-op in CPython, so duplicates are skipped before hashing; j is limited to the range where
  // min <= i*j <= max, which drops only iterations that add nothing.
  for (let n = Math.max(min, 1); n <= max; n++) {
    for (let i = 1; i <= n; i++) {
      const jHi = Math.min(n, Math.floor(max / i));
      for (let j = Math.max(1, Math.ceil(min / i)); j <= jHi; j++) {
        const id = i * (max + 1) + j;
        if (seen.has(id)) continue;
        seen.add(id);
        set.add(i, j);
      }
    }
  }
  // Array.prototype.sort is stable (ES2019), like Python's sorted.
  const list = set.items().sort((a, b) => a.i * a.j - b.i * b.j);
  const frozen = Object.freeze(list.map((r) => Object.freeze(r)));
  cache.set(key, frozen);
  return frozen;
}
