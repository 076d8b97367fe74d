// Structured answers: the grammar an ask is constrained by (a JSON Schema through llama.cpp's
// converter, or the caller's own GBNF), checked before any work, and the parsed reply after.
import { InvalidArgumentError, MiniMonkeyError } from '../errors';
import { checkGrammarCost } from './grammar-cost';
import { JsonSchema, schemaToGrammar } from './json-schema';

export type { JsonSchema } from './json-schema';

/**
 * The GBNF grammar of `json` / `grammar` (undefined: unconstrained), settled before any work: the
 * schema bounded and converted, and the grammar's per-token cost measured. Throws typed errors.
 */
export function constraintGrammar(o: { json?: true | JsonSchema; grammar?: string }): string | undefined {
  if (o.json !== undefined && o.grammar !== undefined) throw new InvalidArgumentError('give json or grammar, not both');
  if (o.grammar !== undefined) {
    if (typeof o.grammar !== 'string' || o.grammar.trim() === '') throw new InvalidArgumentError('grammar must be a non-empty GBNF string');
    checkGrammarCost(o.grammar);
    return o.grammar;
  }
  if (o.json === undefined) return undefined;
  return schemaToGrammar(o.json);
}

/**
 * The value of a constrained reply, when the grammar reached its end (the reply ended on the model's
 * end token, which the grammar allows only then). A reply cut short gives undefined, never a prefix.
 */
export function parseConstrained(text: string, finishReason: string): { value: unknown } | undefined {
  if (finishReason !== 'end') return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    throw new MiniMonkeyError('INTERNAL', `the grammar-constrained reply is not JSON: ${(e as Error).message}`, { cause: e });
  }
}
