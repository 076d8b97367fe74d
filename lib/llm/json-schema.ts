// JSON Schema for constrained replies: checked and normalized here, then turned into GBNF by
// llama.cpp's own converter (common/json-schema-to-grammar.cpp, compiled into the addon from the
// pinned source). The converter silently skips keywords it does not know and widens what it cannot
// express, so every keyword is checked here first: a schema is either enforced in full, or refused
// with a typed error naming the keyword and where it is. The rewrites below only ever narrow (a
// reply that the grammar allows always validates against the user's schema):
//   - formats date, time, date-time and email become patterns (calendar-exact days, bounded email);
//   - `.`, `\d`, `\w`, `\s` and character classes lose the characters JSON must escape;
//   - an unanchored pattern is anchored; a type array becomes anyOf; `nullable` adds null;
//   - allOf of objects is merged into one object; a number with bounds becomes an integer in them.
import { InvalidArgumentError, UnsupportedError } from '../errors';
import { SCHEMA_LIMITS } from '../limits';
import { native } from '../native';
import { checkGrammarCost } from './grammar-cost';
import { checkSchemaBounds } from './schema-bounds';

/** A JSON Schema (draft 2020-12 subset; see README "Structured answers"). */
export type JsonSchema = boolean | { [keyword: string]: unknown };

type Obj = { [k: string]: unknown };

// Keywords that never constrain a value.
const ANNOTATIONS = new Set([
  'title', 'description', '$comment', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly', '$schema', '$id',
  '$defs', 'definitions',
]);
const TYPES = ['null', 'boolean', 'object', 'array', 'number', 'integer', 'string'] as const;
type TypeName = (typeof TYPES)[number];

// Keywords by the type they constrain (a keyword of another type than the node's is vacuous).
const FAMILY: Record<string, TypeName> = {
  properties: 'object', required: 'object', additionalProperties: 'object',
  items: 'array', prefixItems: 'array', minItems: 'array', maxItems: 'array', additionalItems: 'array', uniqueItems: 'array',
  minLength: 'string', maxLength: 'string', pattern: 'string', format: 'string',
  minimum: 'number', maximum: 'number', exclusiveMinimum: 'number', exclusiveMaximum: 'number',
};
// Keywords we know and refuse: the converter would skip them.
const REFUSED: Record<string, string> = {
  not: 'not', if: 'if/then/else', then: 'if/then/else', else: 'if/then/else', multipleOf: 'multipleOf',
  patternProperties: 'patternProperties', propertyNames: 'propertyNames', minProperties: 'minProperties',
  maxProperties: 'maxProperties', dependentRequired: 'dependentRequired', dependentSchemas: 'dependentSchemas',
  dependencies: 'dependencies', unevaluatedProperties: 'unevaluatedProperties', unevaluatedItems: 'unevaluatedItems',
  contains: 'contains', minContains: 'minContains', maxContains: 'maxContains', $dynamicRef: '$dynamicRef',
  $recursiveRef: '$recursiveRef', contentEncoding: 'contentEncoding', contentMediaType: 'contentMediaType',
  contentSchema: 'contentSchema',
};
/** Repetition bounds (maxLength, maxItems, pattern counts) above this blow up the grammar. */
export const MAX_REPEAT = 2000;

// Calendar-exact dates (February stops at the 28th: a leap day needs the year), RFC 3339 times with
// a time zone (as ajv-formats' full mode requires), and a bounded, plain subset of email addresses.
const DATE = '[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)';
const TIME = '(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,3})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])';
const FORMAT_PATTERNS: Record<string, string> = {
  date: `^${DATE}$`,
  time: `^${TIME}$`,
  'date-time': `^${DATE}T${TIME}$`,
  email: '^[a-z0-9]{1,32}(?:[._+-][a-z0-9]{1,32}){0,3}@[a-z0-9]{1,32}(?:-[a-z0-9]{1,32}){0,2}(?:\\.[a-z0-9]{1,32}){1,3}$',
};

class Walker {
  // Each definition normalized once, however many $refs lead to it (linear in the schema's size).
  private readonly defs = new Map<string, Obj>();
  private readonly sigs = new Map<Obj, Signature>();
  private work = 0;

  constructor(private readonly root: Obj) {}

  /** Counts `n` steps of the disjointness check against SCHEMA_LIMITS.work. */
  private spend(n: number, path: string): void {
    this.work += n;
    if (this.work > SCHEMA_LIMITS.work.default) {
      this.fail(path, `oneOf whose disjointness takes more than ${SCHEMA_LIMITS.work.default} steps to check (use anyOf, or fewer branches and values)`);
    }
  }

  /** The normalized definition `kind/name` (the raw one checked by node() on first use). */
  definition(kind: string, name: string): Obj {
    const key = `${kind}/${name}`;
    let d = this.defs.get(key);
    if (d === undefined) {
      d = this.node((this.root[kind] as Obj)[name], `#/${kind}/${name}`);
      this.defs.set(key, d);
    }
    return d;
  }

  fail(path: string, what: string): never {
    throw new UnsupportedError(`JSON schema at ${path}: ${what} cannot be enforced by the grammar`);
  }
  bad(path: string, what: string): never {
    throw new InvalidArgumentError(`JSON schema at ${path}: ${what}`);
  }

  node(s: unknown, path: string): Obj {
    if (s === true) return {};
    if (s === false) this.fail(path, 'the schema false (no value is valid)');
    if (typeof s !== 'object' || s === null || Array.isArray(s)) this.bad(path, `a schema must be an object or a boolean (got ${describe(s)})`);
    const o = s as Obj;
    for (const k of Object.keys(o)) {
      if (k in REFUSED) this.fail(`${path}/${k}`, `'${REFUSED[k]}'`);
      if (!(ANNOTATIONS.has(k) || k in FAMILY || k.startsWith('x-') ||
        ['type', 'enum', 'const', 'anyOf', 'oneOf', 'allOf', '$ref', 'nullable'].includes(k))) {
        this.fail(`${path}/${k}`, `the keyword '${k}'`);
      }
    }
    if (o.nullable !== undefined) {
      if (typeof o.nullable !== 'boolean') this.bad(path, 'nullable must be a boolean');
      const { nullable, ...rest } = o;
      if (nullable) return { anyOf: [this.node(rest, path), { type: 'null' }] };
      return this.node(rest, path);
    }
    const constraints = Object.keys(o).filter((k) => !ANNOTATIONS.has(k) && !k.startsWith('x-'));
    if (o.$ref !== undefined) {
      if (constraints.length > 1) this.fail(path, `$ref beside ${constraints.filter((k) => k !== '$ref').join(', ')}`);
      return { $ref: this.ref(o.$ref, path) };
    }
    const alt = ['anyOf', 'oneOf', 'allOf'].filter((k) => o[k] !== undefined);
    if (alt.length > 0) {
      const others = constraints.filter((k) => !alt.includes(k) && !(k === 'type' && o.type === 'object' && alt[0] === 'allOf'));
      if (alt.length > 1 || others.length > 0) this.fail(path, `${alt.join(' + ')} beside ${[...alt.slice(1), ...others].join(', ')}`);
      const key = alt[0];
      const list = o[key];
      if (!Array.isArray(list) || list.length === 0) this.bad(`${path}/${key}`, `${key} must be a non-empty array of schemas`);
      const branches = list.map((b, i) => this.node(b, `${path}/${key}/${i}`));
      if (key === 'allOf') return this.allOf(branches, `${path}/allOf`);
      if (key === 'oneOf') this.disjoint(branches, `${path}/oneOf`);
      return { anyOf: branches };
    }
    if (o.const !== undefined || o.enum !== undefined) return this.constant(o, constraints, path);
    let types: TypeName[];
    if (o.type === undefined) {
      const families = [...new Set(constraints.map((k) => FAMILY[k]))];
      if (families.length > 1) this.fail(path, `keywords of several types (${families.join(', ')}) without a type`);
      if (families.length === 0) return {};
      types = [families[0]];
    } else {
      const list = Array.isArray(o.type) ? o.type : [o.type];
      if (list.length === 0 || list.some((t) => !TYPES.includes(t as TypeName))) {
        this.bad(`${path}/type`, `type must be one of ${TYPES.join(', ')} or an array of them (got ${JSON.stringify(o.type)})`);
      }
      types = [...new Set(list as TypeName[])];
    }
    const typed = types.map((t) => this.typed(t, o, path));
    return typed.length === 1 ? typed[0] : { anyOf: typed };
  }

  private ref(ref: unknown, path: string): string {
    if (typeof ref !== 'string') this.bad(path, '$ref must be a string');
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
    if (!m) this.fail(path, `$ref '${ref}' (only '#/$defs/NAME' and '#/definitions/NAME' are supported)`);
    const defs = this.root[m[1]] as Obj | undefined;
    const name = m[2].replace(/~1/g, '/').replace(/~0/g, '~');
    if (!defs || typeof defs !== 'object' || !(name in defs)) this.bad(path, `$ref '${ref}' points to nothing`);
    return ref;
  }

  private constant(o: Obj, constraints: string[], path: string): Obj {
    const extra = constraints.filter((k) => k !== 'const' && k !== 'enum' && k !== 'type');
    if (extra.length > 0) this.fail(path, `${o.const !== undefined ? 'const' : 'enum'} beside ${extra.join(', ')}`);
    if (o.const !== undefined && o.enum !== undefined) this.fail(path, 'const beside enum');
    const values = o.const !== undefined ? [o.const] : o.enum;
    if (!Array.isArray(values) || values.length === 0) this.bad(`${path}/enum`, 'enum must be a non-empty array');
    if (o.type !== undefined) {
      const allowed = Array.isArray(o.type) ? o.type : [o.type];
      const bad = values.find((v) => !allowed.some((t) => matchesType(v, t as string)));
      if (bad !== undefined) this.bad(path, `the value ${JSON.stringify(bad)} is not of type ${JSON.stringify(o.type)}`);
    }
    return o.const !== undefined ? { const: o.const } : { enum: values };
  }

  private typed(t: TypeName, o: Obj, path: string): Obj {
    switch (t) {
      case 'null': case 'boolean': return { type: t };
      case 'string': return this.string(o, path);
      case 'integer': case 'number': return this.numeric(t, o, path);
      case 'array': return this.array(o, path);
      case 'object': return this.object(o, path);
    }
  }

  private count(o: Obj, key: string, path: string): number | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.bad(`${path}/${key}`, `${key} must be a non-negative integer`);
    if (v > MAX_REPEAT) this.fail(`${path}/${key}`, `${key} ${v} (at most ${MAX_REPEAT})`);
    return v;
  }

  private string(o: Obj, path: string): Obj {
    const min = this.count(o, 'minLength', path);
    const max = this.count(o, 'maxLength', path);
    if (min !== undefined && max !== undefined && min > max) this.bad(path, `minLength ${min} > maxLength ${max}`);
    let pattern = o.pattern;
    if (o.format !== undefined) {
      if (typeof o.format !== 'string') this.bad(`${path}/format`, 'format must be a string');
      if (pattern !== undefined) this.fail(path, `format '${o.format}' beside pattern`);
      if (min !== undefined || max !== undefined) this.fail(path, `format '${o.format}' beside minLength/maxLength`);
      if (o.format === 'uuid') return { type: 'string', format: 'uuid' };
      pattern = FORMAT_PATTERNS[o.format];
      if (pattern === undefined) this.fail(`${path}/format`, `format '${o.format}' (supported: date, time, date-time, uuid, email)`);
    }
    if (pattern !== undefined) {
      if (typeof pattern !== 'string') this.bad(`${path}/pattern`, 'pattern must be a string');
      if (min !== undefined || max !== undefined) this.fail(path, 'pattern beside minLength/maxLength');
      return { type: 'string', pattern: jsonSafePattern(pattern, `${path}/pattern`) };
    }
    return { type: 'string', ...(min !== undefined ? { minLength: min } : {}), ...(max !== undefined ? { maxLength: max } : {}) };
  }

  private bound(o: Obj, key: string, path: string): number | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.bad(`${path}/${key}`, `${key} must be a number (draft-4 boolean exclusive bounds are not supported)`);
    if (Math.abs(v) > Number.MAX_SAFE_INTEGER) this.fail(`${path}/${key}`, `${key} ${v} (beyond ±2^53)`);
    return v;
  }

  private numeric(t: 'integer' | 'number', o: Obj, path: string): Obj {
    // Bounds folded to the inclusive integer range they admit.
    let lo = -Infinity;
    let hi = Infinity;
    const min = this.bound(o, 'minimum', path);
    const xmin = this.bound(o, 'exclusiveMinimum', path);
    const max = this.bound(o, 'maximum', path);
    const xmax = this.bound(o, 'exclusiveMaximum', path);
    if (min !== undefined) lo = Math.max(lo, Math.ceil(min));
    if (xmin !== undefined) lo = Math.max(lo, Math.floor(xmin) + 1);
    if (max !== undefined) hi = Math.min(hi, Math.floor(max));
    if (xmax !== undefined) hi = Math.min(hi, Math.ceil(xmax) - 1);
    if (lo === -Infinity && hi === Infinity) return { type: t };
    // The converter bounds integers only: a bounded number is enforced as an integer within the bounds.
    if (lo > hi) this.fail(path, `${t === 'number' ? 'a number (enforced as an integer) ' : ''}range with no integer in it`);
    return { type: 'integer', ...(lo !== -Infinity ? { minimum: lo } : {}), ...(hi !== Infinity ? { maximum: hi } : {}) };
  }

  private array(o: Obj, path: string): Obj {
    if (o.uniqueItems === true) this.fail(`${path}/uniqueItems`, 'uniqueItems: true');
    if (o.uniqueItems !== undefined && o.uniqueItems !== false) this.bad(`${path}/uniqueItems`, 'uniqueItems must be a boolean');
    const min = this.count(o, 'minItems', path);
    const max = this.count(o, 'maxItems', path);
    if (min !== undefined && max !== undefined && min > max) this.bad(path, `minItems ${min} > maxItems ${max}`);
    // draft 2019 tuples: items: [...] with additionalItems
    const tuple = Array.isArray(o.items) ? o.items : o.prefixItems;
    if (tuple !== undefined) {
      if (!Array.isArray(tuple)) this.bad(`${path}/prefixItems`, 'prefixItems must be an array of schemas');
      const rest = Array.isArray(o.items) ? o.additionalItems : o.items;
      // The grammar gives exactly the tuple's items, which validates whatever follows may be.
      if (rest !== undefined && rest !== false && !isEmptySchema(rest)) this.fail(path, 'prefixItems followed by items of a schema');
      const n = tuple.length;
      if ((min ?? 0) > n || (max ?? n) < n) this.fail(path, `a ${n}-item tuple with minItems/maxItems other than ${n}`);
      return { type: 'array', prefixItems: tuple.map((s, i) => this.node(s, `${path}/prefixItems/${i}`)) };
    }
    if (o.additionalItems !== undefined) this.fail(`${path}/additionalItems`, 'additionalItems without tuple items');
    const items = o.items === undefined ? {} : this.node(o.items, `${path}/items`);
    return { type: 'array', items, ...(min !== undefined ? { minItems: min } : {}), ...(max !== undefined ? { maxItems: max } : {}) };
  }

  private object(o: Obj, path: string): Obj {
    const props = o.properties ?? {};
    if (typeof props !== 'object' || props === null || Array.isArray(props)) this.bad(`${path}/properties`, 'properties must be an object');
    const required = o.required ?? [];
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string')) this.bad(`${path}/required`, 'required must be an array of strings');
    const properties: Obj = {};
    for (const [name, s] of Object.entries(props as Obj)) properties[name] = this.node(s, `${path}/properties/${name}`);
    let additional: unknown = o.additionalProperties;
    if (additional !== undefined && typeof additional !== 'boolean') additional = this.node(additional, `${path}/additionalProperties`);
    // With properties and no additionalProperties the converter allows none: narrower, so valid.
    const open = Object.keys(properties).length === 0 ? additional !== false : additional !== undefined && additional !== false;
    for (const r of required as string[]) {
      if (!(r in properties)) {
        if (open) this.fail(`${path}/required`, `required '${r}' that properties does not define`);
        this.bad(`${path}/required`, `'${r}' is required but no property of that name is allowed`);
      }
    }
    const out: Obj = { type: 'object' };
    if (Object.keys(properties).length > 0) out.properties = properties;
    if ((required as string[]).length > 0) out.required = [...new Set(required as string[])];
    if (additional !== undefined) out.additionalProperties = additional;
    return out;
  }

  // allOf of objects merged into one object: properties in order, required united, no others.
  private allOf(branches: Obj[], path: string): Obj {
    const properties: Obj = {};
    const required = new Set<string>();
    branches.forEach((b0, i) => {
      const b = this.resolve(b0, `${path}/${i}`);
      if (b.type !== 'object' || b.anyOf !== undefined) this.fail(`${path}/${i}`, 'allOf of anything but plain objects');
      if (b.additionalProperties === false && branches.length > 1) this.fail(`${path}/${i}`, 'allOf with additionalProperties: false in a part');
      if (b.additionalProperties !== undefined && b.additionalProperties !== true && b.additionalProperties !== false) {
        this.fail(`${path}/${i}`, 'allOf with an additionalProperties schema in a part');
      }
      for (const [k, s] of Object.entries((b.properties as Obj) ?? {})) {
        if (k in properties && JSON.stringify(properties[k]) !== JSON.stringify(s)) this.fail(`${path}/${i}/properties/${k}`, `allOf parts that define '${k}' differently`);
        properties[k] = s;
      }
      for (const r of (b.required as string[]) ?? []) required.add(r);
    });
    return { type: 'object', properties, ...(required.size > 0 ? { required: [...required] } : {}), additionalProperties: false };
  }

  private resolve(s: Obj, path: string, depth = 0): Obj {
    if (s.$ref === undefined) return s;
    if (depth > 32) this.fail(path, 'a $ref cycle');
    const ref = s.$ref as string;
    const [, kind, name] = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref)!;
    const key = name.replace(/~1/g, '/').replace(/~0/g, '~');
    return this.resolve(this.definition(kind, key), path, depth + 1);
  }

  // oneOf is enforced as anyOf, which is the same only when no value can match two branches.
  private disjoint(branches: Obj[], path: string): void {
    const sigs = branches.map((b) => this.signature(this.resolve(b, path), path));
    for (let i = 0; i < sigs.length; i++) {
      for (let j = i + 1; j < sigs.length; j++) {
        this.spend(1 + Math.min(sigs[i].size, sigs[j].size), path);
        if (!sigsDisjoint(sigs[i], sigs[j])) this.fail(`${path}`, `oneOf whose branches ${i} and ${j} may both match (use anyOf, or make them differ by type or by a const property)`);
      }
    }
  }

  private signature(b: Obj, path: string): Signature {
    const known = this.sigs.get(b);
    if (known) return known;
    const sig = this.computeSignature(b, path);
    this.sigs.set(b, sig);
    return sig;
  }

  private computeSignature(b: Obj, path: string): Signature {
    const values = (list: unknown[]) => {
      this.spend(list.length, path);
      return new Set(list.map((v) => JSON.stringify(v)));
    };
    if (b.const !== undefined) return { values: values([b.const]), size: 1 };
    if (b.enum !== undefined) return { values: values(b.enum as unknown[]), size: (b.enum as unknown[]).length };
    if (b.anyOf !== undefined) return { types: new Set(TYPES), size: 1 };
    if (b.type === undefined) return { types: new Set(TYPES), size: 1 };
    const t = b.type as TypeName;
    const sig: Signature = { types: new Set(t === 'number' ? ['number', 'integer'] : t === 'integer' ? ['integer', 'number'] : [t]), size: 1 };
    if (t === 'object') {
      const tags: Record<string, Set<string>> = {};
      const req = new Set((b.required as string[]) ?? []);
      for (const [k, s0] of Object.entries((b.properties as Obj) ?? {})) {
        if (!req.has(k)) continue;
        const s = this.resolve(s0 as Obj, '#');
        if (s.const !== undefined) tags[k] = values([s.const]);
        else if (s.enum !== undefined) tags[k] = values(s.enum as unknown[]);
        else continue;
        sig.size += tags[k].size;
      }
      sig.tags = tags;
    }
    return sig;
  }
}

interface Signature {
  types?: Set<string>;
  /** JSON texts of the values it allows (const, enum). */
  values?: Set<string>;
  /** Required properties of a fixed value set (a discriminator), by name. */
  tags?: Record<string, Set<string>>;
  /** Values it holds in all (what comparing it costs). */
  size: number;
}

/** Whether two value sets share nothing, in time linear in the smaller. */
function apart(a: Set<string>, b: Set<string>): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const v of small) if (large.has(v)) return false;
  return true;
}

function jsonType(v: string): string {
  const x = JSON.parse(v) as unknown;
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'number') return Number.isInteger(x) ? 'integer' : 'number';
  return typeof x;
}

function sigsDisjoint(a: Signature, b: Signature): boolean {
  if (a.values && b.values) return apart(a.values, b.values);
  if (a.values || b.values) {
    const [vals, other] = a.values ? [a.values, b] : [b.values!, a];
    return [...vals].every((v) => !other.types!.has(jsonType(v)) && !(jsonType(v) === 'integer' && other.types!.has('number')));
  }
  const common = [...a.types!].filter((t) => b.types!.has(t));
  if (common.length === 0) return true;
  if (common.length === 1 && common[0] === 'object' && a.tags && b.tags) {
    return Object.keys(a.tags).some((k) => b.tags![k] && apart(a.tags![k], b.tags![k]));
  }
  return false;
}

function matchesType(v: unknown, t: string): boolean {
  switch (t) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number';
    case 'array': return Array.isArray(v);
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    default: return false;
  }
}

function isEmptySchema(s: unknown): boolean {
  return s === true || (typeof s === 'object' && s !== null && Object.keys(s).length === 0);
}

function stripDefs(o: Obj): Obj {
  const { $defs, definitions, ...rest } = o;
  void $defs;
  void definitions;
  return rest;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? JSON.stringify(v) : typeof v;
}

// ---- patterns ------------------------------------------------------------------------------

// Code points a JSON string may hold unescaped, as ranges; the grammar writes pattern characters raw.
const FORBIDDEN: [number, number][] = [[0x00, 0x1f], [0x22, 0x22], [0x5c, 0x5c], [0x7f, 0x7f], [0xd800, 0xdfff]];
const MAX_CP = 0x10ffff;

type Ranges = [number, number][];

function normalizeRanges(r: Ranges): Ranges {
  const s = [...r].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [a, b] of s) {
    if (out.length > 0 && a <= out[out.length - 1][1] + 1) out[out.length - 1][1] = Math.max(out[out.length - 1][1], b);
    else out.push([a, b]);
  }
  return out;
}
function complement(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [a, b] of normalizeRanges(r)) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}
function subtract(r: Ranges, minus: Ranges): Ranges {
  const keep = complement(minus);
  const out: Ranges = [];
  for (const [a, b] of normalizeRanges(r)) {
    for (const [c, d] of keep) {
      const lo = Math.max(a, c);
      const hi = Math.min(b, d);
      if (lo <= hi) out.push([lo, hi]);
    }
  }
  return out;
}
function hex(cp: number): string {
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
}
function classText(r: Ranges): string {
  return `[${r.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join('')}]`;
}

const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const SPACE: Ranges = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]];
const LINE_ENDS: Ranges = [[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]];

/**
 * The pattern rewritten for the converter so that what the grammar emits between the quotes is
 * JSON that decodes to a string the original pattern matches: anchored, every character class
 * (., \d, \w, \s, [...]) without the characters JSON must escape, literal quotes, backslashes and
 * control characters written as JSON escapes. What has no grammar equivalent is refused.
 */
export function jsonSafePattern(pattern: string, path: string): string {
  const fail = (what: string): never => {
    throw new UnsupportedError(`JSON schema at ${path}: the pattern ${JSON.stringify(pattern)} uses ${what}, which the grammar cannot enforce`);
  };
  try {
    new RegExp(pattern, 'u');
  } catch (e) {
    throw new InvalidArgumentError(`JSON schema at ${path}: ${JSON.stringify(pattern)} is not a valid regular expression (${(e as Error).message})`);
  }
  let p = pattern;
  // An unanchored pattern matches anywhere; the grammar's whole string is then one match (narrower).
  const starts = p.startsWith('^');
  const ends = p.endsWith('$') && !p.endsWith('\\$');
  p = p.slice(starts ? 1 : 0, ends ? p.length - 1 : p.length);
  const cps = [...p];
  let out = '';
  let i = 0;
  // A character JSON must escape becomes its escape, grouped so that a quantifier takes all of it.
  const literal = (cp: number): string => {
    if (cp === 0x22) return '(?:\\\\")';
    if (cp === 0x5c) return '(?:\\\\\\\\)';
    if (cp === 0x0a) return '(?:\\\\n)';
    if (cp === 0x0d) return '(?:\\\\r)';
    if (cp === 0x09) return '(?:\\\\t)';
    if (cp < 0x20 || cp === 0x7f) return `(?:\\\\u${cp.toString(16).padStart(4, '0')})`;
    if (cp >= 0xd800 && cp <= 0xdfff) fail('a lone surrogate');
    const ch = String.fromCodePoint(cp);
    return '.^$|()[]{}*+?\\/-'.includes(ch) ? (ch === '/' || ch === '-' ? ch : `\\${ch}`) : cp > 0x7e ? hex(cp) : ch;
  };
  const safeClass = (r: Ranges): string => {
    const s = subtract(r, FORBIDDEN);
    if (s.length === 0) fail('a character class of only characters JSON must escape');
    return classText(s);
  };
  // One escape after a backslash at cps[i] (i points at the character after '\'): its ranges, or a literal code point.
  const escape = (inClass: boolean): { ranges?: Ranges; cp?: number } => {
    const c = cps[i++];
    switch (c) {
      case 'd': return { ranges: DIGIT };
      case 'D': return { ranges: complement(DIGIT) };
      case 'w': return { ranges: WORD };
      case 'W': return { ranges: complement(WORD) };
      case 's': return { ranges: SPACE };
      case 'S': return { ranges: complement(SPACE) };
      case 'n': return { cp: 0x0a };
      case 'r': return { cp: 0x0d };
      case 't': return { cp: 0x09 };
      case 'f': return { cp: 0x0c };
      case 'v': return { cp: 0x0b };
      case '0': return { cp: 0 };
      case 'x': {
        const h = cps.slice(i, i + 2).join('');
        i += 2;
        return { cp: parseInt(h, 16) };
      }
      case 'u': {
        if (cps[i] === '{') {
          const end = cps.indexOf('}', i);
          const h = cps.slice(i + 1, end).join('');
          i = end + 1;
          return { cp: parseInt(h, 16) };
        }
        const h = cps.slice(i, i + 4).join('');
        i += 4;
        return { cp: parseInt(h, 16) };
      }
      case 'b': if (inClass) return { cp: 0x08 }; return fail('a word boundary (\\b)');
      case 'B': return fail('a word boundary (\\B)');
      case 'p': case 'P': return fail('a Unicode property escape');
      case 'k': return fail('a named backreference');
      case 'c': return fail('a control escape (\\c)');
      default:
        if (/[1-9]/.test(c)) return fail('a backreference');
        return { cp: c.codePointAt(0)! };
    }
  };
  while (i < cps.length) {
    const c = cps[i++];
    if (c === '\\') {
      const e = escape(false);
      out += e.ranges ? safeClass(e.ranges) : literal(e.cp!);
    } else if (c === '.') {
      out += safeClass(complement(LINE_ENDS));
    } else if (c === '[') {
      let negate = false;
      if (cps[i] === '^') {
        negate = true;
        i++;
      }
      const ranges: Ranges = [];
      while (i < cps.length && cps[i] !== ']') {
        let lo: number;
        if (cps[i] === '\\') {
          i++;
          const e = escape(true);
          if (e.ranges) {
            ranges.push(...e.ranges);
            continue;
          }
          lo = e.cp!;
        } else {
          lo = cps[i++].codePointAt(0)!;
        }
        if (cps[i] === '-' && cps[i + 1] !== undefined && cps[i + 1] !== ']') {
          i++;
          let hi: number;
          if (cps[i] === '\\') {
            i++;
            const e = escape(true);
            if (e.ranges) return fail('a range ending in a class escape');
            hi = e.cp!;
          } else {
            hi = cps[i++].codePointAt(0)!;
          }
          ranges.push([lo, hi]);
        } else {
          ranges.push([lo, lo]);
        }
      }
      i++; // ']'
      out += safeClass(negate ? complement(ranges) : ranges);
    } else if (c === '(') {
      if (cps[i] === '?') {
        if (cps[i + 1] === ':') {
          out += '(?:';
          i += 2;
        } else if (cps[i + 1] === '<' && cps[i + 2] !== '=' && cps[i + 2] !== '!') {
          const end = cps.indexOf('>', i);
          out += '(';
          i = end + 1;
        } else {
          fail('a lookaround or an inline flag');
        }
      } else {
        out += '(';
      }
    } else if (c === '^' || c === '$') {
      fail(`an anchor (${c}) inside the pattern`);
    } else if (c === '{') {
      // a quantifier {m}, {m,}, {m,n}: bounded so the grammar stays small
      const end = cps.indexOf('}', i);
      const body = cps.slice(i, end).join('');
      i = end + 1;
      const nums = body.split(',').map((s) => (s === '' ? undefined : Number(s)));
      if (nums.some((n) => n !== undefined && n > MAX_REPEAT)) fail(`a repetition {${body}} over ${MAX_REPEAT}`);
      out += `{${body}}`;
    } else if (c === '?' && /[*+?}]/.test(cps[i - 2] ?? '')) {
      // a lazy quantifier: the same language
    } else if ('|)*+?'.includes(c)) {
      out += c;
    } else {
      out += literal(c.codePointAt(0)!);
    }
  }
  return `^${out}$`;
}

// ---- entry points --------------------------------------------------------------------------

/** The schema checked and narrowed to what the converter enforces in full (see the file comment). */
export function normalizeSchema(schema: JsonSchema): JsonSchema {
  if (schema === true) return {};
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new InvalidArgumentError(`json must be true or a JSON schema object (got ${describe(schema)})`);
  }
  checkSchemaBounds(schema);
  const w = new Walker(schema);
  const out = w.node(stripDefs(schema), '#');
  for (const kind of ['$defs', 'definitions'] as const) {
    const defs = schema[kind];
    if (defs === undefined) continue;
    if (typeof defs !== 'object' || defs === null || Array.isArray(defs)) throw new InvalidArgumentError(`JSON schema at #/${kind}: must be an object`);
    const normalized: Obj = {};
    for (const name of Object.keys(defs as Obj)) normalized[name] = w.definition(kind, name);
    out[kind] = normalized;
  }
  return out;
}

/** GBNF for the schema (`true`: any JSON value), by llama.cpp's converter after normalizeSchema, its per-token cost checked. */
export function schemaToGrammar(schema: JsonSchema): string {
  let text: string;
  try {
    text = JSON.stringify(normalizeSchema(schema));
  } catch (e) {
    if (e instanceof InvalidArgumentError || e instanceof UnsupportedError) throw e;
    throw new InvalidArgumentError(`the JSON schema cannot be serialized: ${(e as Error).message}`);
  }
  let grammar: string;
  try {
    grammar = native().jsonSchemaToGrammar(text);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const message = (e as Error).message;
    if (code === 'UNSUPPORTED') throw new UnsupportedError(message, { cause: e });
    throw new InvalidArgumentError(message, { cause: e });
  }
  // The converter's exponent takes up to 16 digits (1e9999999999999999 is Infinity to JSON.parse,
  // and no schema's number); two digits keep every number finite.
  grammar = grammar.split(NUMBER_RULE).join(SAFE_NUMBER_RULE);
  // What the converter made of the schema may still cost too much per token (a pattern's (a?){400},
  // an enum of 100,000 strings): refused here, with the schema, before any sampling.
  checkGrammarCost(grammar);
  return grammar;
}

// The body of the converter's number rule (named `number`, or `root` for a number schema).
const NUMBER_RULE = '::= ("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)?\n';
const SAFE_NUMBER_RULE = '::= ("-"? integral-part) ("." decimal-part)? ([eE] [-+]? [0-9]{1,2})?\n';
