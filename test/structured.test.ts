// Structured answers on the tiny random-weight pair. Random weights pick arbitrary tokens, so the
// grammar alone keeps the reply in shape: every reply of every schema, sampled at temperature 1 with
// ten seeds, must JSON.parse and validate against the schema (ajv + ajv-formats, the oracle only).
// Schemas here bound their strings and arrays: a random model almost never samples the closing
// quote of an unbounded string, which then runs to maxTokens (that case is tested on its own).
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { AbortError, InvalidArgumentError, MiniMonkey, UnsupportedError } from '../lib';
import type { JsonSchema } from '../lib';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../lib/cli/command';
import { askArgs, askOptions } from '../lib/cli/model-args';
import { extractionQuestion } from '../lib/llm/extract';
import { native } from '../lib/native';
import { tempDir, tinyPair } from './helpers/models';
import { noiseImage } from './helpers/noise-image';

type S = Record<string, unknown>;

let mm: MiniMonkey;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

beforeAll(async () => {
  const pair = await tinyPair('f32', 3);
  mm = await MiniMonkey.load({ model: pair.model, mmproj: pair.mmproj, threads: 2, contextSize: 2048 });
}, 120_000);

afterAll(() => mm?.dispose());

const image = noiseImage;

// ---- the schemas -------------------------------------------------------------------------------

const str = (max = 6, min = 0): S => ({ type: 'string', maxLength: max, ...(min ? { minLength: min } : {}) });

const HAND: [string, JsonSchema][] = [
  ['invoice', {
    type: 'object',
    properties: {
      vendor: { ...str(8), description: 'who issued it' },
      date: { type: 'string', format: 'date' },
      total: { type: 'number', minimum: 0, maximum: 100000 },
      lines: { type: 'array', maxItems: 3, items: { type: 'object', properties: { item: str(5), amount: { type: 'integer', minimum: 0, maximum: 999 } }, required: ['item', 'amount'], additionalProperties: false } },
    },
    required: ['vendor', 'date', 'total', 'lines'],
    additionalProperties: false,
  }],
  ['enum of strings', { enum: ['yes', 'no', 'maybe'] }],
  ['enum of mixed values', { enum: [1, 'two', null, true, { a: 1 }, [2]] }],
  ['const', { const: { ok: true } }],
  ['boolean', { type: 'boolean' }],
  ['null', { type: 'null' }],
  ['integer in a range', { type: 'integer', minimum: -40, maximum: 125 }],
  ['integer, exclusive bounds', { type: 'integer', exclusiveMinimum: 10, exclusiveMaximum: 2000 }],
  ['integer, lower bound only', { type: 'integer', minimum: 7 }],
  ['number', { type: 'number' }],
  ['number with bounds', { type: 'number', minimum: -1.5, maximum: 3.5 }],
  ['string lengths', str(4, 2)],
  ['date', { type: 'string', format: 'date' }],
  ['time', { type: 'string', format: 'time' }],
  ['date-time', { type: 'string', format: 'date-time' }],
  ['uuid', { type: 'string', format: 'uuid' }],
  ['email', { type: 'string', format: 'email' }],
  ['pattern', { type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' }],
  ['pattern with dot and classes', { type: 'string', pattern: '^.{1,4}[^a-z]{1,3}\\w?$' }],
  ['unanchored pattern', { type: 'string', pattern: 'ab+c' }],
  ['pattern with quotes and backslashes', { type: 'string', pattern: '^"[\\\\x]{1,3}"\\n?$' }],
  ['nullable type array', { type: ['string', 'null'], maxLength: 3 }],
  ['OpenAPI nullable', { type: 'integer', minimum: 0, maximum: 9, nullable: true }],
  ['array bounds', { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, minItems: 2, maxItems: 4 }],
  ['tuple', { type: 'array', prefixItems: [{ type: 'boolean' }, str(3), { type: 'null' }], items: false }],
  ['anyOf', { anyOf: [{ type: 'integer', minimum: 0, maximum: 5 }, str(3), { type: 'array', items: { type: 'boolean' }, maxItems: 2 }] }],
  ['oneOf of distinct types', { oneOf: [{ type: 'boolean' }, { type: 'string', maxLength: 2 }, { type: 'null' }] }],
  ['oneOf tagged objects', {
    oneOf: [
      { type: 'object', properties: { kind: { const: 'a' }, x: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['kind', 'x'], additionalProperties: false },
      { type: 'object', properties: { kind: { const: 'b' }, y: str(2) }, required: ['kind', 'y'], additionalProperties: false },
    ],
  }],
  ['allOf of objects', {
    allOf: [
      { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 3 } }, required: ['a'] },
      { type: 'object', properties: { b: { type: 'boolean' } }, required: ['b'] },
    ],
  }],
  ['$ref to $defs', {
    $defs: { money: { type: 'object', properties: { amount: { type: 'integer', minimum: 0, maximum: 999 }, currency: { enum: ['EUR', 'USD'] } }, required: ['amount', 'currency'], additionalProperties: false } },
    type: 'object', properties: { net: { $ref: '#/$defs/money' }, tax: { $ref: '#/$defs/money' } }, required: ['net', 'tax'], additionalProperties: false,
  }],
  ['$ref to definitions', { definitions: { flag: { type: 'boolean' } }, type: 'array', items: { $ref: '#/definitions/flag' }, maxItems: 3 }],
  ['optional properties', { type: 'object', properties: { a: str(2), b: { type: 'boolean' }, c: { type: 'null' } }, required: ['b'], additionalProperties: false }],
  ['empty object', { type: 'object', properties: {}, additionalProperties: false }],
];

// Seeded schemas mixing the features above, two levels deep.
function generated(count: number, seed: number): [string, JsonSchema][] {
  let s = seed >>> 0;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const leaf = (): S => {
    switch (rnd(12)) {
      case 0: return str(1 + rnd(5), rnd(2));
      case 1: return { enum: ['a', 'b', 3, null].slice(0, 2 + rnd(3)) };
      case 2: { const lo = rnd(50) - 25; return { type: 'integer', minimum: lo, maximum: lo + rnd(300) }; }
      case 3: return { type: 'number' };
      case 4: return { type: 'boolean' };
      case 5: return { type: ['integer', 'null'], minimum: 0, maximum: 99 };
      case 6: return { type: 'string', format: ['date', 'time', 'date-time', 'uuid', 'email'][rnd(5)] };
      case 7: return { type: 'string', pattern: ['^[a-f0-9]{2,4}$', '^x(y|z)*$', '^\\d{1,3}\\.\\d$', '[A-Z]'][rnd(4)] };
      case 8: return { const: ['k', 1, false][rnd(3)] };
      case 9: return { type: 'null' };
      case 10: return { anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0, maximum: 9 }] };
      default: return { type: 'number', minimum: 0, maximum: 10 };
    }
  };
  const node = (depth: number): S => {
    const k = depth === 0 ? rnd(4) : 3;
    if (k === 0) return { type: 'array', items: node(depth + 1), maxItems: 1 + rnd(2), ...(rnd(2) ? { minItems: 1 } : {}) };
    if (k === 1) return { type: 'array', prefixItems: [node(depth + 1), leaf()], items: false };
    if (k === 2 || depth === 0) {
      const n = 1 + rnd(3);
      const properties: S = {};
      for (let i = 0; i < n; i++) properties[`p${i}`] = depth < 1 && rnd(3) === 0 ? node(depth + 1) : leaf();
      const required = Object.keys(properties).filter(() => rnd(3) > 0);
      return { type: 'object', properties, required, additionalProperties: false };
    }
    return leaf();
  };
  const out: [string, JsonSchema][] = [];
  for (let i = 0; i < count; i++) out.push([`generated #${i}`, node(0)]);
  return out;
}

const SCHEMAS = [...HAND, ...generated(8, 2026)];
const SEEDS = 10;

describe('every reply validates', () => {
  test('at least 30 schemas', () => expect(SCHEMAS.length).toBeGreaterThanOrEqual(30));

  test.each(SCHEMAS)('%s', async (_name, schema) => {
    const validate = ajv.compile(schema as object);
    const chat = await mm.chat();
    try {
      for (let seed = 0; seed < SEEDS; seed++) {
        const r = await chat.ask('Answer in JSON.', { json: schema, temperature: 1, seed, maxTokens: 400 });
        const detail = `seed ${seed}: ${JSON.stringify(r.text)}`;
        expect([r.finishReason, detail]).toEqual(['end', detail]);
        const value = JSON.parse(r.text) as unknown;
        expect(r.json).toEqual(value);
        if (!validate(value)) throw new Error(`${detail} does not validate: ${ajv.errorsText(validate.errors)}`);
        await chat.reset();
      }
    } finally {
      chat.dispose();
    }
  }, 120_000);
});

describe('composition', () => {
  const schema: JsonSchema = { type: 'object', properties: { name: str(12), n: { type: 'integer', minimum: 0, maximum: 99999 } }, required: ['name', 'n'], additionalProperties: false };

  test('greedy works, and the end of the JSON ends the reply', async () => {
    const chat = await mm.chat();
    const r = await chat.ask('Yes or no?', { json: { enum: ['yes', 'no'] }, maxTokens: 400 });
    expect(r.finishReason).toBe('end');
    expect(r.text).toBe(JSON.stringify(r.json));
    expect(r.tokens.generated).toBeLessThanOrEqual(6);
    chat.dispose();
  });

  test('streamed pieces concatenate to the text, each a prefix of it', async () => {
    const chat = await mm.chat();
    const reply = chat.ask('Answer in JSON.', { json: schema, temperature: 1, seed: 4 });
    let text = '';
    for await (const piece of reply) {
      text += piece;
    }
    const r = await reply;
    expect(text).toBe(r.text);
    expect(r.json).toEqual(JSON.parse(r.text));
    chat.dispose();
  });

  test('abort mid-JSON rolls the turn back', async () => {
    const chat = await mm.chat();
    await chat.ask('First.', { maxTokens: 4 });
    const before = chat.contextUsed;
    const controller = new AbortController();
    let pieces = 0;
    const reply = chat.ask('Answer in JSON.', {
      json: { type: 'object', properties: { a: str(200) }, required: ['a'] }, temperature: 1, seed: 1, signal: controller.signal,
      onToken: () => { if (++pieces === 4) controller.abort(); },
    });
    await expect(reply).rejects.toBeInstanceOf(AbortError);
    expect(chat.contextUsed).toBe(before);
    const again = await chat.ask('Answer in JSON.', { json: schema, temperature: 1, seed: 2 });
    expect(again.json).toEqual(JSON.parse(again.text));
    chat.dispose();
  });

  test('maxTokens before the JSON closes: finishReason maxTokens and no value', async () => {
    const chat = await mm.chat();
    const r = await chat.ask('Answer in JSON.', { json: { type: 'object', properties: { a: str(100), b: str(100) }, required: ['a', 'b'] }, temperature: 1, seed: 3, maxTokens: 5 });
    expect(r.finishReason).toBe('maxTokens');
    expect(r.json).toBeUndefined();
    expect(r.tokens.generated).toBe(5);
    expect(() => JSON.parse(r.text)).toThrow();
    chat.dispose();
  });

  test('a stop string inside the JSON cuts it: no value', async () => {
    const chat = await mm.chat();
    const r = await chat.ask('Answer in JSON.', { json: schema, temperature: 1, seed: 5, stop: [':'] });
    expect(r.finishReason).toBe('stopString');
    expect(r.json).toBeUndefined();
    chat.dispose();
  });

  test('multi-turn: the next turn is unconstrained unless asked', async () => {
    const chat = await mm.chat();
    const first = await chat.ask('Answer in JSON.', { json: schema, temperature: 1, seed: 6 });
    expect(first.json).toBeDefined();
    const free = await chat.ask('And now in words?', { maxTokens: 24 });
    expect(free.json).toBeUndefined();
    // The same turn asked for JSON gives JSON; unconstrained greedy text of random weights is not.
    const chat2 = await mm.chat();
    await chat2.ask('Answer in JSON.', { json: schema, temperature: 1, seed: 6 });
    const constrained = await chat2.ask('And now in words?', { maxTokens: 24, json: true });
    expect(constrained.text).not.toBe(free.text);
    expect(() => JSON.parse(free.text)).toThrow();
    const third = await chat.ask('Again in JSON.', { json: schema, temperature: 1, seed: 7 });
    expect(ajv.validate(schema as object, third.json)).toBe(true);
    chat.dispose();
    chat2.dispose();
  });

  test('with an image and SCM', async () => {
    const chat = await mm.chat();
    const r = await chat.ask([{ type: 'image', image: image(96, 64, 5) }, 'Read it.'], { crop: 'fast', scm: true, json: schema, temperature: 1, seed: 8 });
    expect(r.scm).toBeDefined();
    expect(ajv.validate(schema as object, r.json)).toBe(true);
    chat.dispose();
  });

  test('a raw GBNF grammar', async () => {
    const chat = await mm.chat();
    for (let seed = 0; seed < 5; seed++) {
      const r = await chat.ask('Pick.', { grammar: 'root ::= ("red" | "green") " " [0-9]{2}', temperature: 1, seed });
      expect(r.finishReason).toBe('end');
      expect(r.text).toMatch(/^(red|green) [0-9]{2}$/);
      expect(r.json).toBeUndefined();
      await chat.reset();
    }
    chat.dispose();
  });

  test('json: true and unbounded strings: a value when the JSON closed, else maxTokens and none', async () => {
    const chat = await mm.chat();
    const tree: JsonSchema = {
      $defs: { node: { type: 'object', properties: { v: { type: 'integer', minimum: 0, maximum: 9 }, kids: { type: 'array', maxItems: 2, items: { $ref: '#/$defs/node' } } }, required: ['v'], additionalProperties: false } },
      $ref: '#/$defs/node',
    };
    for (const [i, json] of ([true, { type: 'string' }, { type: 'object' }, tree] as JsonSchema[]).entries()) {
      const r = await chat.ask('Answer in JSON.', { json, temperature: 1, seed: i, maxTokens: 64 });
      if (r.finishReason === 'end') expect(ajv.validate((json === true ? {} : json) as object, r.json)).toBe(true);
      else expect([r.finishReason, r.json]).toEqual(['maxTokens', undefined]);
      await chat.reset();
    }
    chat.dispose();
  });

  test('model.extract returns the typed value', async () => {
    interface Invoice { vendor: string; total: number }
    const inv = await mm.extract<Invoice>(image(64, 64, 9), {
      type: 'object',
      properties: { vendor: { ...str(6), description: 'the seller' }, total: { type: 'integer', minimum: 0, maximum: 999 } },
      required: ['vendor', 'total'],
      additionalProperties: false,
    }, { crop: 'fast' });
    expect(typeof inv.vendor).toBe('string');
    expect(Number.isInteger(inv.total)).toBe(true);
  });

  test('the extraction question names the fields and their descriptions, in order', () => {
    const q = extractionQuestion({
      type: 'object',
      properties: { vendor: { type: 'string', description: 'the seller' }, lines: { type: 'array', items: { type: 'object', properties: { amount: { type: 'number' } } } } },
      required: ['vendor'],
    });
    expect(q).toContain('- vendor (string): the seller');
    expect(q.indexOf('vendor')).toBeLessThan(q.indexOf('lines'));
    expect(q).toContain('  - amount (number, optional)');
  });
});

describe('command line', () => {
  test('--json-schema and --grammar read their files into the ask options', () => {
    const dir = fs.mkdtempSync(path.join(tempDir(), 'cli-json-'));
    const schemaFile = path.join(dir, 'schema.json');
    fs.writeFileSync(schemaFile, JSON.stringify({ type: 'boolean' }));
    const grammarFile = path.join(dir, 'g.gbnf');
    fs.writeFileSync(grammarFile, 'root ::= "a"');
    expect(askOptions(askArgs({ 'json-schema': schemaFile })).json).toEqual({ type: 'boolean' });
    expect(askOptions(askArgs({ grammar: grammarFile })).grammar).toBe('root ::= "a"');
    expect(askOptions(askArgs({})).json).toBeUndefined();
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{ nope');
    expect(() => askArgs({ 'json-schema': bad })).toThrow(UsageError);
    expect(() => askArgs({ 'json-schema': path.join(dir, 'missing.json') })).toThrow(UsageError);
    expect(() => askArgs({ 'json-schema': schemaFile, grammar: grammarFile })).toThrow(UsageError);
  });
});

describe('refused before any work', () => {
  const cases: [string, unknown, typeof InvalidArgumentError | typeof UnsupportedError][] = [
    ['not', { not: { type: 'string' } }, UnsupportedError],
    ['if/then', { if: { type: 'string' }, then: { maxLength: 2 } }, UnsupportedError],
    ['multipleOf', { type: 'integer', multipleOf: 3 }, UnsupportedError],
    ['an unknown format', { type: 'string', format: 'uri' }, UnsupportedError],
    ['pattern with minLength', { type: 'string', pattern: '^a+$', minLength: 2 }, UnsupportedError],
    ['a lookahead', { type: 'string', pattern: '^(?=a)a$' }, UnsupportedError],
    ['a backreference', { type: 'string', pattern: '^(a)\\1$' }, UnsupportedError],
    ['uniqueItems', { type: 'array', uniqueItems: true }, UnsupportedError],
    ['patternProperties', { type: 'object', patternProperties: { '^x': {} } }, UnsupportedError],
    ['overlapping oneOf', { oneOf: [{ type: 'integer' }, { type: 'number' }] }, UnsupportedError],
    ['allOf of strings', { allOf: [{ type: 'string' }, { maxLength: 3 }] }, UnsupportedError],
    ['$ref beside constraints', { $defs: { a: { type: 'string' } }, $ref: '#/$defs/a', maxLength: 3 }, UnsupportedError],
    ['a $ref elsewhere', { $ref: 'https://example.com/schema' }, UnsupportedError],
    ['a $ref to the root', { type: 'array', items: { $ref: '#' } }, UnsupportedError],
    ['a typo keyword', { type: 'object', propertys: {} }, UnsupportedError],
    ['prefixItems then items', { type: 'array', prefixItems: [{ type: 'null' }], items: { type: 'string' } }, UnsupportedError],
    ['huge maxLength', { type: 'string', maxLength: 1e6 }, UnsupportedError],
    ['an unknown type', { type: 'text' }, InvalidArgumentError],
    ['a dangling $ref', { $ref: '#/$defs/none' }, InvalidArgumentError],
    ['an invalid regex', { type: 'string', pattern: '^(a$' }, InvalidArgumentError],
    ['a negative maxItems', { type: 'array', maxItems: -1 }, InvalidArgumentError],
    ['a required property that cannot exist', { type: 'object', properties: {}, required: ['x'], additionalProperties: false }, InvalidArgumentError],
    ['not a schema', 42, InvalidArgumentError],
  ];

  test.each(cases)('%s', async (_name, schema, type) => {
    const chat = await mm.chat();
    let progress = 0;
    const reply = chat.ask('Answer.', { json: schema as JsonSchema, onProgress: () => progress++ });
    const err = await reply.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(/schema|pattern|json/i);
    expect(progress).toBe(0);
    expect(chat.contextUsed).toBe(0);
    chat.dispose();
  });

  test('a GBNF grammar that does not parse, json beside grammar', async () => {
    const chat = await mm.chat();
    await expect(chat.ask('x', { grammar: 'root ::= (' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(chat.ask('x', { grammar: 'rot ::= "a"' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(chat.ask('x', { grammar: `root ::= ${'('.repeat(5000)}"a"${')'.repeat(5000)}` })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(chat.ask('x', { grammar: 'root ::= "a"', json: true })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(chat.contextUsed).toBe(0);
    chat.dispose();
  });

  test("the converter's own warnings become UnsupportedError", () => {
    let err: unknown;
    try {
      native().jsonSchemaToGrammar(JSON.stringify({ type: 'string', pattern: '^(?=a)a$' }));
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('UNSUPPORTED');
    expect((err as Error).message).toContain('(?=a)');
  });
});
