// The one bound on every walk of a JSON schema, checked before anything else reads it (our own
// checks recurse once per level, JSON.stringify does, and llama.cpp's converter recurses once per
// level and once per `$ref` link it follows): the count of JSON values, and the nesting depth with
// each `$ref` to a definition counted as that definition nested where it is used. Everything here
// is iterative, so no schema can overflow a stack while it is being measured.
import { UnsupportedError } from '../errors';
import { SCHEMA_LIMITS } from '../limits';

type Obj = { [k: string]: unknown };

const REF = /^#\/(\$defs|definitions)\/([^/]+)$/;

/** One measured part: the root (without its definitions) or one definition. */
interface Part {
  depth: number;
  /** The `$ref`s inside it: at which depth, to which definition (its key in `parts`). */
  refs: [number, string][];
}

/**
 * Throws UnsupportedError when the schema has more JSON values than SCHEMA_LIMITS.nodes or nests
 * deeper than SCHEMA_LIMITS.depth (counting what its `$ref`s lead to). Returns the effective depth.
 */
export function checkSchemaBounds(schema: unknown): number {
  const maxNodes = SCHEMA_LIMITS.nodes.default;
  const maxDepth = SCHEMA_LIMITS.depth.default;
  let nodes = 0;
  const parts = new Map<string, Part>();
  const measure = (value: unknown, key: string, skipDefs: boolean): void => {
    const part: Part = { depth: 0, refs: [] };
    parts.set(key, part);
    const stack: [unknown, number][] = [[value, 1]];
    while (stack.length > 0) {
      const [v, d] = stack.pop()!;
      if (++nodes > maxNodes) {
        throw new UnsupportedError(`the JSON schema has more than ${maxNodes} values (JSON objects, arrays, strings, numbers); at most ${maxNodes} are accepted`);
      }
      if (typeof v !== 'object' || v === null) continue;
      if (d > part.depth) part.depth = d;
      if (d > maxDepth) throw tooDeep(d, false);
      if (Array.isArray(v)) {
        for (const x of v) stack.push([x, d + 1]);
        continue;
      }
      for (const [k, x] of Object.entries(v as Obj)) {
        if (skipDefs && d === 1 && (k === '$defs' || k === 'definitions')) continue;
        if (k === '$ref' && typeof x === 'string') {
          const m = REF.exec(x);
          if (m) part.refs.push([d, `${m[1]}/${m[2].replace(/~1/g, '/').replace(/~0/g, '~')}`]);
        }
        stack.push([x, d + 1]);
      }
    }
  };
  measure(schema, '#', true);
  if (typeof schema === 'object' && schema !== null && !Array.isArray(schema)) {
    for (const kind of ['$defs', 'definitions'] as const) {
      const defs = (schema as Obj)[kind];
      if (typeof defs !== 'object' || defs === null || Array.isArray(defs)) continue;
      nodes++;
      for (const [name, s] of Object.entries(defs as Obj)) measure(s, `${kind}/${name}`, false);
    }
  }
  // Effective depth of each part: its own, or a $ref's depth plus what the $ref leads to (each link a
  // level: the converter recurses once per link it follows). A link
  // back to a part being measured (a recursive schema) adds nothing: the converter emits a rule
  // reference there instead of following it. Memoised, and on an explicit stack.
  const effective = new Map<string, number>();
  const onPath = new Set<string>();
  let worst = 0;
  for (const start of parts.keys()) {
    if (effective.has(start)) continue;
    const work: { key: string; next: number; best: number }[] = [{ key: start, next: 0, best: parts.get(start)!.depth }];
    onPath.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const part = parts.get(top.key)!;
      if (top.next < part.refs.length) {
        const [d, target] = part.refs[top.next++];
        if (!parts.has(target) || onPath.has(target)) continue;
        const known = effective.get(target);
        if (known !== undefined) {
          top.best = Math.max(top.best, d + known);
        } else {
          onPath.add(target);
          work.push({ key: target, next: 0, best: parts.get(target)!.depth });
        }
        continue;
      }
      // Every $ref of this part is measured: settle it, and fold it into the part that led here.
      for (const [d, target] of part.refs) {
        const known = effective.get(target);
        if (known !== undefined) top.best = Math.max(top.best, d + known);
      }
      effective.set(top.key, top.best);
      onPath.delete(top.key);
      work.pop();
      if (top.best > maxDepth) throw tooDeep(top.best, true);
      worst = Math.max(worst, top.best);
    }
  }
  return worst;
}

function tooDeep(depth: number, throughRefs: boolean): UnsupportedError {
  return new UnsupportedError(
    `the JSON schema nests ${throughRefs ? `${depth} levels deep, counting the definitions its $refs lead to` : `more than ${SCHEMA_LIMITS.depth.default} levels deep`}; ` +
      `at most ${SCHEMA_LIMITS.depth.default} levels are accepted`,
  );
}
