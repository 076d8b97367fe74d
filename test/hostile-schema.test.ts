// Hostile JSON schemas and grammars (issue 26, findings 1-3): each is refused with a typed error
// before any converter recursion or sampling, in bounded time, and the process lives. A case that
// crashed the process runs in a child, so a regression is a failed test rather than a dead runner.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AbortError, InvalidArgumentError, MiniMonkey, schemaToGrammar, UnsupportedError } from '../lib';
import type { JsonSchema } from '../lib';
import { GRAMMAR_LIMITS, SCHEMA_LIMITS } from '../lib/limits';
import { checkGrammarCost } from '../lib/llm/grammar-cost';
import { normalizeSchema } from '../lib/llm/json-schema';
import { tinyPair } from './helpers/models';

type S = Record<string, unknown>;
const ROOT = path.join(__dirname, '..');

/** `links` definitions, each only a $ref to the next, the last a string. */
function chain(links: number): S {
  const defs: S = {};
  for (let i = 0; i < links; i++) defs[`d${i}`] = i < links - 1 ? { $ref: `#/$defs/d${i + 1}` } : { type: 'string', maxLength: 3 };
  return { $ref: '#/$defs/d0', $defs: defs };
}

/**
 * Runs `code` in a fresh node (the compiled package as `lib`, and chain() defined); its stdout
 * parsed as JSON.
 */
function child(code: string): { status: number | null; signal: string | null; out: unknown } {
  const prelude = `const lib = require(${JSON.stringify(path.join(ROOT, 'dist/lib'))});\nconst chain = ${chain.toString()};\n`;
  const r = spawnSync(process.execPath, ['-e', prelude + code], {
    encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20,
  });
  let out: unknown;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    out = r.stdout + r.stderr;
  }
  return { status: r.status, signal: r.signal, out };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('finding 1: deep schemas are bounded before any walk, and the converter cannot overflow a stack', () => {
  test('10,000 definitions chained by $ref: UNSUPPORTED naming the depth and the limit, and the process lives', () => {
    const r = child(`
      const schema = chain(10000);
      const t0 = Date.now();
      try { lib.schemaToGrammar(schema); console.log(JSON.stringify({ ok: true })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, ms: Date.now() - t0 })); }`);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = r.out as { code: string; message: string; ms: number };
    expect(out.code).toBe('UNSUPPORTED');
    expect(out.message).toMatch(/nests \d+ levels deep, counting the definitions its \$refs lead to; at most 128/);
    expect(out.ms).toBeLessThan(5000);
  });

  test("llama.cpp's converter itself, given 20,000 chained links, converts on its own large stack", () => {
    const r = child(`
      const grammar = require(${JSON.stringify(path.join(ROOT, 'dist/lib/native'))}).native().jsonSchemaToGrammar(JSON.stringify(chain(20000)));
      console.log(JSON.stringify({ rules: grammar.split('::=').length - 1 }));`);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect((r.out as { rules: number }).rules).toBeGreaterThan(1);
  });

  test('10,000 nested items: a typed refusal, not "Maximum call stack size exceeded"', () => {
    let schema: S = { type: 'string', maxLength: 2 };
    for (let i = 0; i < 10_000; i++) schema = { type: 'array', maxItems: 2, items: schema };
    const err = thrown(() => schemaToGrammar(schema));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/nests more than 128 levels deep/);
  });

  test('more JSON values than SCHEMA_LIMITS.nodes: refused before any walk', () => {
    const err = thrown(() => normalizeSchema({ type: 'array', items: { type: 'string' }, examples: new Array(SCHEMA_LIMITS.nodes.default).fill(0) }));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/more than 100000 values/);
  });

  test('within the bounds: a 100-link chain and a recursive schema still convert', () => {
    expect(schemaToGrammar(chain(100))).toMatch(/root ::=/);
    const tree = { $defs: { node: { type: 'object', properties: { kids: { type: 'array', maxItems: 2, items: { $ref: '#/$defs/node' } } } } }, $ref: '#/$defs/node' };
    expect(schemaToGrammar(tree)).toMatch(/root ::=/);
  });
});

describe('finding 2: oneOf disjointness is linear and bounded', () => {
  /** A oneOf tree: each level two tagged objects, the first with two properties that are the next level. */
  function oneOfTree(depth: number): S {
    const defs: S = {};
    for (let k = 0; k < depth; k++) {
      const next = k + 1 < depth ? { $ref: `#/$defs/L${k + 1}` } : { type: 'string', maxLength: 2 };
      defs[`L${k}`] = {
        oneOf: [
          { type: 'object', properties: { t: { const: 'a' }, x: next, y: next }, required: ['t'], additionalProperties: false },
          { type: 'object', properties: { t: { const: 'b' } }, required: ['t'], additionalProperties: false },
        ],
      };
    }
    return { $ref: '#/$defs/L0', $defs: defs };
  }

  test('a oneOf tree of depth 22 (61 s on the old check) is checked at once; depth 30 (hours) is refused for its depth', () => {
    const t0 = performance.now();
    const out = normalizeSchema(oneOfTree(22)) as S;
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(Object.keys(out.$defs as S)).toHaveLength(22);
    const t1 = performance.now();
    const err = thrown(() => normalizeSchema(oneOfTree(30)));
    expect(performance.now() - t1).toBeLessThan(3000);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/counting the definitions its \$refs lead to; at most 128/);
  });

  test('two 40,000-value enums in a oneOf: compared in linear time, then refused for their grammar', () => {
    const a = Array.from({ length: 40_000 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 40_000 }, (_, i) => `b${i}`);
    const t0 = performance.now();
    normalizeSchema({ oneOf: [{ enum: a }, { enum: b }] });
    expect(performance.now() - t0).toBeLessThan(1500);
    const err = thrown(() => schemaToGrammar({ oneOf: [{ enum: a }, { enum: b }] }));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/branch 80000 ways at one point.*at most 1024/);
  });

  test('a oneOf whose check would take more than SCHEMA_LIMITS.work steps is refused', () => {
    const branches = Array.from({ length: 700 }, (_, i) => ({ const: i }));
    const err = thrown(() => normalizeSchema({ oneOf: branches }));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/more than 200000 steps/);
  });
});

describe('finding 3: grammars whose per-token cost can blow up are refused', () => {
  let mm: MiniMonkey;
  beforeAll(async () => {
    const pair = await tinyPair('f32', 3);
    mm = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 2, contextSize: 1024 });
  }, 120_000);
  afterAll(() => mm?.dispose());

  test('the pattern ^(a?){400}$ (18 s per token before): UNSUPPORTED saying what was given and what is allowed', () => {
    const err = thrown(() => schemaToGrammar({ type: 'string', pattern: '^(a?){400}$' }));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/400 parts in a row that can each match nothing.*at most 32/);
  });

  test('raw GBNF: empty runs, wide branching, left recursion and nesting that grows with the reply', async () => {
    const chat = await mm.chat();
    const refused: [string, RegExp][] = [
      ['root ::= ("a"?){400}', /400 parts in a row/],
      ['root ::= "a"? "b"? "c"? "d"? "e"? "f"? "g"? "h"? "i"? "j"? "k"? "l"? "m"? "n"? "o"? "p"? "q"? "r"? "s"? "t"? "u"? "v"? "w"? "x"? "y"? "z"? "A"? "B"? "C"? "D"? "E"? "F"? "G"?', /33 parts in a row/],
      [`root ::= ${Array.from({ length: 2000 }, (_, i) => `"x${i}"`).join(' | ')}`, /branch 2000 ways/],
      ['root ::= x\nx ::= "a" x ws | "b"\nws ::= " "?', /nested in itself/],
      ['root ::= root "a" | "b"', /left-recursive/],
    ];
    for (const [grammar, message] of refused) {
      const err = await chat.ask('x', { grammar, maxTokens: 1 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedError);
      expect((err as Error).message).toMatch(message);
    }
    expect(chat.contextUsed).toBe(0);
    chat.dispose();
  });

  test('a 100,000-string enum (20 s in checkGrammar before) is refused in well under the old time, the event loop turning', async () => {
    const chat = await mm.chat();
    let ticks = 0;
    const probe = setInterval(() => ticks++, 10);
    const t0 = performance.now();
    const err = await chat.ask('x', { json: { enum: Array.from({ length: 100_000 }, (_, i) => `value${i}`) }, maxTokens: 1 }).then(() => undefined, (e: unknown) => e);
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
    clearInterval(probe);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/branch 100000 ways|more than 100000 values/);
    expect(ms).toBeLessThan(5000);
    expect(ticks).toBeGreaterThan(0);
    chat.dispose();
  });

  test('at the limits, a constrained reply runs and an abort ends it promptly', async () => {
    const chat = await mm.chat();
    const enumAtLimit = Array.from({ length: GRAMMAR_LIMITS.branches.default }, (_, i) => `v${i}`);
    const r = await chat.ask('x', { json: { enum: enumAtLimit }, maxTokens: 12, temperature: 1, seed: 5 });
    expect(r.tokens.generated).toBeGreaterThan(0);
    await chat.reset();
    const grammar = `root ::= ("a"?){${GRAMMAR_LIMITS.emptyRun.default}} "b"`;
    expect(checkGrammarCost(grammar).emptyRun).toBe(GRAMMAR_LIMITS.emptyRun.default);
    const ac = new AbortController();
    const reply = chat.ask('x', { grammar, maxTokens: 40, temperature: 1, seed: 1, signal: ac.signal, onToken: () => ac.abort() });
    const t0 = performance.now();
    const err = await reply.then(() => undefined, (e: unknown) => e);
    // Either it finished before the abort was seen, or it stopped with AbortError; never hung.
    if (err !== undefined) expect(err).toBeInstanceOf(AbortError);
    expect(performance.now() - t0).toBeLessThan(10_000);
    chat.dispose();
  });

  test('a grammar that does not parse is INVALID_ARGUMENT from the same check', () => {
    expect(thrown(() => checkGrammarCost('root ::= foo'))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => checkGrammarCost(`root ::= ${'('.repeat(300)}"a"${')'.repeat(300)}`))).toBeInstanceOf(InvalidArgumentError);
  });

  test('the grammars of ordinary schemas pass: JSON, objects with optional properties, bounded strings', () => {
    const schemas: JsonSchema[] = [
      true,
      { type: 'object', properties: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}`, { type: 'string', maxLength: 40 }])) },
      { type: 'array', items: { type: 'number' }, maxItems: 50 },
      { type: 'string', format: 'date-time' },
      { type: 'string', format: 'email' },
      { enum: Array.from({ length: 500 }, (_, i) => `choice ${i}`) },
    ];
    for (const s of schemas) expect(schemaToGrammar(s)).toMatch(/root ::=/);
  });
});
