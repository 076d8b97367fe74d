// What a GBNF grammar costs libllama per token, measured before libllama sees it. libllama keeps
// the reply's possible positions in the grammar as "stacks"; after each token it advances every
// stack past what can match nothing (expanding each rule it meets into all its alternatives) and
// compares every new stack with the others. So the cost of a token grows with how many ways the
// grammar branches at one point, and, worse, with runs of parts that can each match nothing
// (`(a?){400}`: every stack re-expands the whole run, about N³ per token). A grammar is parsed here
// exactly as libllama's parser does (llama-grammar.cpp: the same rules, the same rewriting of
// `*`, `+`, `?` and `{m,n}` into generated rules), then measured:
//   - branches: the stacks one advance can produce, from any point a token can leave the reply at;
//   - emptyRun: the parts that can match nothing that one advance passes over;
// each including what follows when a rule ends (the rules that use it), and refused when a rule
// can end, nested in itself, before parts that can match nothing (then both grow with the reply).
import { InvalidArgumentError, UnsupportedError } from '../errors';
import { GRAMMAR_LIMITS } from '../limits';

const TERM = -1;  // an element that matches one character or token
type Alt = number[];  // elements: TERM or a rule id
const MAX_REPETITION = 2000;  // libllama's MAX_REPETITION_THRESHOLD
const MAX_ELEMENTS = 1 << 22;  // elements after the rewriting (libllama allocates each)

class Parser {
  readonly symbols = new Map<string, number>();
  readonly rules: (Alt[] | undefined)[] = [];
  private elements = 0;
  private pos = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  parse(): void {
    this.pos = this.space(0, true);
    while (this.pos < this.src.length) this.rule();
    for (const rule of this.rules) {
      if (!rule) this.error('a rule is used but not defined');
      for (const alt of rule) {
        for (const e of alt) if (e !== TERM && !this.rules[e]) this.error(`the rule '${this.nameOf(e)}' is used but not defined`);
      }
    }
    if (!this.symbols.has('root') || !this.rules[this.symbols.get('root')!]) this.error("there is no 'root' rule");
  }

  nameOf(id: number): string {
    for (const [name, i] of this.symbols) if (i === id) return name;
    return `#${id}`;
  }

  private error(what: string): never {
    throw new InvalidArgumentError(`the grammar does not parse as GBNF: ${what} (at offset ${this.pos})`);
  }

  private space(pos: number, newlineOk: boolean): number {
    const s = this.src;
    while (pos < s.length) {
      const c = s[pos];
      if (c === '#') {
        while (pos < s.length && s[pos] !== '\r' && s[pos] !== '\n') pos++;
      } else if (c === ' ' || c === '\t' || (newlineOk && (c === '\r' || c === '\n'))) {
        pos++;
      } else {
        break;
      }
    }
    return pos;
  }

  private name(): string {
    const start = this.pos;
    while (this.pos < this.src.length && isWordChar(this.src.charCodeAt(this.pos))) this.pos++;
    if (this.pos === start) this.error('expecting a name');
    return this.src.slice(start, this.pos);
  }

  private symbol(name: string): number {
    let id = this.symbols.get(name);
    if (id === undefined) {
      id = this.symbols.size;
      this.symbols.set(name, id);
    }
    return id;
  }

  private generate(base: string): number {
    const id = this.symbols.size;
    this.symbols.set(`${base}_${id}`, id);
    return id;
  }

  private add(id: number, alts: Alt[]): void {
    for (const a of alts) this.elements += a.length + 1;
    if (this.elements > MAX_ELEMENTS) throw new UnsupportedError(`the grammar expands to more than ${MAX_ELEMENTS} elements once its repetitions are written out`);
    this.rules[id] = alts;
  }

  private rule(): void {
    const name = this.name();
    const id = this.symbol(name);
    this.pos = this.space(this.pos, false);
    if (!this.src.startsWith('::=', this.pos)) this.error("expecting '::='");
    this.pos = this.space(this.pos + 3, true);
    this.alternates(name, id, false);
    const c = this.src[this.pos];
    if (c === '\r') this.pos += this.src[this.pos + 1] === '\n' ? 2 : 1;
    else if (c === '\n') this.pos++;
    else if (this.pos < this.src.length) this.error('expecting a newline or the end');
    this.pos = this.space(this.pos, true);
  }

  private alternates(name: string, id: number, nested: boolean): void {
    const alts: Alt[] = [this.sequence(name, nested)];
    while (this.src[this.pos] === '|') {
      this.pos = this.space(this.pos + 1, true);
      alts.push(this.sequence(name, nested));
    }
    this.add(id, alts);
  }

  // One character of a literal or class (the escape forms libllama's parse_char takes).
  private char(): void {
    const s = this.src;
    if (s[this.pos] === '\\') {
      const e = s[this.pos + 1];
      const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (hex > 0) {
        let n = 0;
        this.pos += 2;
        while (n < hex && this.pos < s.length && /[0-9a-fA-F]/.test(s[this.pos])) {
          this.pos++;
          n++;
        }
        if (n < hex) this.error('an incomplete hex escape');
        return;
      }
      if (e === undefined || !'trn\\"[]-'.includes(e)) this.error('an unknown escape');
      this.pos += 2;
      return;
    }
    if (this.pos >= s.length) this.error('unexpected end of input');
    this.pos += s.codePointAt(this.pos)! > 0xffff ? 2 : 1;
  }

  private sequence(ruleName: string, nested: boolean): Alt {
    const s = this.src;
    const seq: Alt = [];
    let lastSymStart = 0;
    let prevRules = 1;
    const repeat = (min: number, max: number) => {
      const noMax = max === Infinity;
      if (lastSymStart === seq.length) this.error('expecting an item before */+/?/{');
      const prev = seq.slice(lastSymStart);
      const total = !noMax && max > 0 ? max : min > 0 ? min : 1;
      if (prevRules * total > MAX_REPETITION) this.error('repetitions of repetitions beyond libllama\'s bound of 2000');
      if (min === 0) seq.length = lastSymStart;
      else for (let i = 1; i < min; i++) seq.push(...prev);
      this.elements += prev.length * Math.max(0, min - 1);
      const nOpt = noMax ? 1 : max - min;
      let lastRec = 0;
      for (let i = 0; i < nOpt; i++) {
        const recId = this.generate(ruleName);
        const rec = [...prev];
        if (i > 0 || noMax) rec.push(noMax ? recId : lastRec);
        this.add(recId, [rec, []]);
        lastRec = recId;
      }
      if (nOpt > 0) seq.push(lastRec);
      prevRules *= total;
    };
    const int = (): number => {
      const start = this.pos;
      while (this.pos < s.length && s[this.pos] >= '0' && s[this.pos] <= '9') this.pos++;
      if (this.pos === start) this.error('expecting an integer');
      return Number(s.slice(start, this.pos));
    };
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === '"') {
        // A literal is one terminal here: the points inside it all measure 1 branch, 0 empty parts.
        this.pos++;
        lastSymStart = seq.length;
        prevRules = 1;
        let chars = 0;
        for (;;) {
          const k = s.charCodeAt(this.pos);
          if (k === 0x22) break;
          if (k === 0x5c || Number.isNaN(k)) this.char();
          else this.pos++;
          chars++;
        }
        if (chars > 0) seq.push(TERM);
        this.elements += Math.max(0, chars - 1);
        this.pos = this.space(this.pos + 1, nested);
      } else if (c === '[') {
        this.pos++;
        if (s[this.pos] === '^') this.pos++;
        lastSymStart = seq.length;
        prevRules = 1;
        let first = true;
        while (s[this.pos] !== ']') {
          this.char();
          if (s[this.pos] === '-' && s[this.pos + 1] !== ']') {
            if (this.pos + 1 >= s.length) this.error('unexpected end of input');
            this.pos++;
            this.char();
          }
          if (first) seq.push(TERM);
          first = false;
        }
        if (first) seq.push(TERM);
        this.pos = this.space(this.pos + 1, nested);
      } else if (c === '<' || c === '!') {
        if (c === '!') this.pos++;
        if (s[this.pos] !== '<') this.error("expecting '<'");
        const end = s.indexOf('>', this.pos);
        if (end < 0) this.error("expecting '>'");
        this.pos = end + 1;
        lastSymStart = seq.length;
        prevRules = 1;
        seq.push(TERM);
        this.pos = this.space(this.pos, nested);
      } else if (isWordChar(s.charCodeAt(this.pos))) {
        const id = this.symbol(this.name());
        this.pos = this.space(this.pos, nested);
        lastSymStart = seq.length;
        prevRules = 1;
        seq.push(id);
      } else if (c === '(') {
        if (++this.depth > GRAMMAR_LIMITS.nesting.default) {
          throw new InvalidArgumentError(`the grammar nests groups more than ${GRAMMAR_LIMITS.nesting.default} deep`);
        }
        this.pos = this.space(this.pos + 1, true);
        const before = this.symbols.size;
        const sub = this.generate(ruleName);
        this.alternates(ruleName, sub, true);
        prevRules = Math.max(1, this.symbols.size - before);
        lastSymStart = seq.length;
        seq.push(sub);
        if (s[this.pos] !== ')') this.error("expecting ')'");
        this.depth--;
        this.pos = this.space(this.pos + 1, nested);
      } else if (c === '.') {
        lastSymStart = seq.length;
        prevRules = 1;
        seq.push(TERM);
        this.pos = this.space(this.pos + 1, nested);
      } else if (c === '*' || c === '+' || c === '?') {
        this.pos = this.space(this.pos + 1, nested);
        repeat(c === '+' ? 1 : 0, c === '?' ? 1 : Infinity);
      } else if (c === '{') {
        this.pos = this.space(this.pos + 1, nested);
        const min = int();
        this.pos = this.space(this.pos, nested);
        let max = Infinity;
        if (s[this.pos] === '}') {
          max = min;
        } else if (s[this.pos] === ',') {
          this.pos = this.space(this.pos + 1, nested);
          if (s[this.pos] >= '0' && s[this.pos] <= '9') {
            max = int();
            this.pos = this.space(this.pos, nested);
          }
          if (s[this.pos] !== '}') this.error("expecting '}'");
        } else {
          this.error("expecting ','");
        }
        this.pos = this.space(this.pos + 1, nested);
        if (min > MAX_REPETITION) this.error('a repetition beyond libllama\'s bound of 2000');
        if (max !== Infinity && max > MAX_REPETITION) max = Infinity;
        if (max < min) this.error('a repetition {m,n} with n < m');
        repeat(min, max);
      } else {
        break;
      }
    }
    if (this.elements + seq.length > MAX_ELEMENTS) throw new UnsupportedError(`the grammar expands to more than ${MAX_ELEMENTS} elements once its repetitions are written out`);
    return seq;
  }
}

function isWordChar(k: number): boolean {
  return (k >= 0x61 && k <= 0x7a) || (k >= 0x41 && k <= 0x5a) || (k >= 0x30 && k <= 0x39) || k === 0x2d;
}

export interface GrammarCost {
  /** The most stacks one advance can produce. */
  branches: number;
  /** The most parts that can match nothing one advance passes over. */
  emptyRun: number;
}

/**
 * The grammar's per-token cost measures (see the file comment); throws InvalidArgumentError when it
 * does not parse and UnsupportedError when a measure exceeds GRAMMAR_LIMITS.
 */
export function checkGrammarCost(gbnf: string): GrammarCost {
  if (typeof gbnf !== 'string') throw new InvalidArgumentError('a grammar must be a string');
  const maxBytes = GRAMMAR_LIMITS.bytes.default;
  const bytes = Buffer.byteLength(gbnf);
  if (bytes > maxBytes) throw new InvalidArgumentError(`the grammar is ${bytes} bytes; at most ${maxBytes} are accepted`);
  if (gbnf.includes('\0')) throw new InvalidArgumentError('the grammar holds a NUL character');
  const p = new Parser(gbnf);
  p.parse();
  const rules = p.rules as Alt[][];
  const n = rules.length;
  const root = p.symbols.get('root')!;
  const nameOf = (id: number) => p.nameOf(id).replace(/_\d+$/, '');

  // Which rules can match nothing (a worklist over the alternatives, linear in the grammar).
  const nullable = new Uint8Array(n);
  const owner: number[] = [];
  const remaining: number[] = [];
  const uses: number[][] = Array.from({ length: n }, () => []);
  const queue: number[] = [];
  for (let r = 0; r < n; r++) {
    for (const alt of rules[r]) {
      const a = owner.length;
      owner.push(r);
      let refs = 0;
      let term = false;
      for (const e of alt) {
        if (e === TERM) term = true;
        else {
          refs++;
          uses[e].push(a);
        }
      }
      remaining.push(term ? Infinity : refs);
      if (!term && refs === 0 && !nullable[r]) {
        nullable[r] = 1;
        queue.push(r);
      }
    }
  }
  while (queue.length > 0) {
    const r = queue.pop()!;
    for (const a of uses[r]) {
      if (--remaining[a] === 0 && !nullable[owner[a]]) {
        nullable[owner[a]] = 1;
        queue.push(owner[a]);
      }
    }
  }
  const limits = { branches: GRAMMAR_LIMITS.branches.default, emptyRun: GRAMMAR_LIMITS.emptyRun.default };
  const cap = (v: number) => Math.min(v, 1e9);

  // Entering a rule: the stacks it expands to (branches) and the empty parts passed (emptyRun),
  // over its alternatives' prefixes of parts that can match nothing. A rule met again inside its
  // own prefix is left recursion, which libllama refuses too.
  const enter = { branches: new Float64Array(n).fill(-1), emptyRun: new Float64Array(n).fill(-1) };
  const prefix = (alt: Alt, metric: 'branches' | 'emptyRun'): number => {
    let v = 0;
    for (const e of alt) {
      if (e === TERM) return cap(v + (metric === 'branches' ? 1 : 0));
      v = cap(v + (metric === 'emptyRun' && nullable[e] ? Math.max(1, enter.emptyRun[e]) : enter[metric][e]));
      if (!nullable[e]) return v;
    }
    return v;
  };
  {
    const state = new Uint8Array(n);  // 0 new, 1 on the path, 2 done
    for (let start = 0; start < n; start++) {
      if (state[start] === 2) continue;
      const work: { r: number; alt: number; j: number }[] = [{ r: start, alt: 0, j: 0 }];
      state[start] = 1;
      while (work.length > 0) {
        const top = work[work.length - 1];
        const alts = rules[top.r];
        let pushed = false;
        while (top.alt < alts.length && !pushed) {
          const alt = alts[top.alt];
          if (top.j < alt.length && alt[top.j] !== TERM) {
            const e = alt[top.j];
            if (state[e] === 1) {
              throw new UnsupportedError(`the grammar is left-recursive: the rule '${nameOf(e)}' can start with itself`);
            }
            if (state[e] === 0) {
              state[e] = 1;
              work.push({ r: e, alt: 0, j: 0 });
              pushed = true;
              break;
            }
            if (nullable[e]) {
              top.j++;
              continue;
            }
          }
          top.alt++;
          top.j = 0;
        }
        if (pushed) continue;
        let b = 0;
        let z = 0;
        for (const alt of alts) {
          b = cap(b + prefix(alt, 'branches'));
          z = Math.max(z, prefix(alt, 'emptyRun'));
        }
        enter.branches[top.r] = b;
        enter.emptyRun[top.r] = z;
        state[top.r] = 2;
        work.pop();
      }
    }
  }

  // Walks an alternative from its end, telling `at` for each element j the measures of what follows
  // it (j + 1 to the end) and whether all of that can match nothing: linear, and allocation-free.
  const walk = (alt: Alt, at: (j: number, b: number, z: number, tail: boolean) => void) => {
    let b = 0;
    let z = 0;
    let tail = true;
    for (let j = alt.length - 1; j >= 0; j--) {
      at(j, b, z, tail);
      const e = alt[j];
      if (e === TERM) {
        b = 1;
        z = 0;
        tail = false;
      } else if (nullable[e]) {
        b = cap(enter.branches[e] + b);
        z = cap(Math.max(1, enter.emptyRun[e]) + z);
      } else {
        b = enter.branches[e];
        z = enter.emptyRun[e];
        tail = false;
      }
    }
  };

  // When a rule ends, the advance goes on where it was used: `after[r]` is the most that can
  // follow, over every use. A use followed only by parts that can match nothing adds what follows
  // the rule that holds it (an edge holder -> r); nested in itself that way, the cost grows with
  // the reply, which is refused. Computed over the strongly connected parts, sources first.
  const edges: [number, number, number, number][] = [];  // holder, rule, branches, emptyRun
  const base = { branches: new Float64Array(n), emptyRun: new Float64Array(n) };
  base.branches[root] = 1;  // the end of the reply
  for (let r = 0; r < n; r++) {
    const use = (j: number, b: number, z: number, tail: boolean) => {
      const e = rules[r][alt][j];
      if (e === TERM) return;
      if (tail) edges.push([r, e, b, z]);
      else {
        base.branches[e] = Math.max(base.branches[e], b);
        base.emptyRun[e] = Math.max(base.emptyRun[e], z);
      }
    };
    let alt = 0;
    for (; alt < rules[r].length; alt++) walk(rules[r][alt], use);
  }
  const out: number[][] = Array.from({ length: n }, () => []);
  const incoming: number[][] = Array.from({ length: n }, () => []);
  edges.forEach(([from, to], i) => {
    out[from].push(to);
    incoming[to].push(i);
  });
  const comp = strongComponents(n, (v) => out[v]);
  const after = { branches: new Float64Array(n), emptyRun: new Float64Array(n) };
  for (let ci = comp.order.length - 1; ci >= 0; ci--) {
    const members = comp.order[ci];
    let b = 0;
    let z = 0;
    for (const m of members) {
      b = Math.max(b, base.branches[m]);
      z = Math.max(z, base.emptyRun[m]);
      for (const i of incoming[m]) {
        const [from, , eb, ez] = edges[i];
        if (comp.of[from] === ci) {
          if (eb > 0 || ez > 0) {
            throw new UnsupportedError(
              `the grammar's rule '${nameOf(m)}' can end nested in itself before parts that can match nothing, so libllama's work per token grows with the reply; ` +
                'make what follows the nested rule required, or write the repetition with * or {m,n}',
            );
          }
          continue;
        }
        b = Math.max(b, cap(eb + after.branches[from]));
        z = Math.max(z, cap(ez + after.emptyRun[from]));
      }
    }
    for (const m of members) {
      after.branches[m] = b;
      after.emptyRun[m] = z;
    }
  }

  // The measures at every point a token can leave the reply at (after each terminal), and at the start.
  const cost: GrammarCost = { branches: cap(enter.branches[root] + (nullable[root] ? after.branches[root] : 0)), emptyRun: enter.emptyRun[root] };
  const worst = { branches: root, emptyRun: root };
  for (let r = 0; r < n; r++) {
    const point = (j: number, sb: number, sz: number, tail: boolean) => {
      if (rules[r][alt][j] !== TERM) return;
      const b = cap(sb + (tail ? after.branches[r] : 0));
      const z = cap(sz + (tail ? after.emptyRun[r] : 0));
      if (b > cost.branches) [cost.branches, worst.branches] = [b, r];
      if (z > cost.emptyRun) [cost.emptyRun, worst.emptyRun] = [z, r];
    };
    let alt = 0;
    for (; alt < rules[r].length; alt++) walk(rules[r][alt], point);
  }
  if (cost.emptyRun > limits.emptyRun) {
    throw new UnsupportedError(
      `the grammar has ${cost.emptyRun} parts in a row that can each match nothing (in rule '${nameOf(worst.emptyRun)}', as (a?){N} or a? b? c? make); ` +
        `at most ${limits.emptyRun} are accepted, since libllama's work per token grows with the cube of such a run`,
    );
  }
  if (cost.branches > limits.branches) {
    throw new UnsupportedError(
      `the grammar can branch ${cost.branches} ways at one point (in rule '${nameOf(worst.branches)}', e.g. an enum or alternatives of that many); ` +
        `at most ${limits.branches} are accepted, since libllama compares every branch with every other at each token`,
    );
  }
  return cost;
}

/** Tarjan's strongly connected components, iterative: `of` each vertex, `order` sinks first. */
function strongComponents(n: number, next: (v: number) => number[]): { of: Int32Array; order: number[][] } {
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const of = new Int32Array(n).fill(-1);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const order: number[][] = [];
  let counter = 0;
  for (let s = 0; s < n; s++) {
    if (index[s] >= 0) continue;
    const work: { v: number; succ: number[]; i: number }[] = [];
    const open = (v: number) => {
      index[v] = low[v] = counter++;
      stack.push(v);
      onStack[v] = 1;
      work.push({ v, succ: next(v), i: 0 });
    };
    open(s);
    while (work.length > 0) {
      const top = work[work.length - 1];
      if (top.i < top.succ.length) {
        const w = top.succ[top.i++];
        if (index[w] < 0) open(w);
        else if (onStack[w]) low[top.v] = Math.min(low[top.v], index[w]);
        continue;
      }
      work.pop();
      if (work.length > 0) low[work[work.length - 1].v] = Math.min(low[work[work.length - 1].v], low[top.v]);
      if (low[top.v] === index[top.v]) {
        const members: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          of[w] = order.length;
          members.push(w);
        } while (w !== top.v);
        order.push(members);
      }
    }
  }
  return { of, order };
}
