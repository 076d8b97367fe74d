// The task of a batch, what every page is asked: a room of its own because both the result key
// (key.ts) and the page runner (task.ts) need it, and they would otherwise import each other.
import type { JsonSchema } from '../llm/json-schema';
import type { PresetName } from '../msac/presets';

/** What every page of a batch is asked: part of each result's key. */
export interface BatchTask {
  /** The question; with `json`, the instructions said before the schema's fields. */
  question?: string;
  /** Answer with JSON of this schema (the result's `value`). */
  json?: JsonSchema;
  crop?: PresetName;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  scm?: boolean;
  /** PDF pages: render at this dpi (default: chosen for MSAC). */
  dpi?: number;
}
