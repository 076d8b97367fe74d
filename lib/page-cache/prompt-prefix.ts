// The KV state of a page's prompt prefix, kept in the page cache (restore or compute). On a
// conversation's first turn the prompt up to the end of its last image (BOS, the system message,
// the user turn's opening, any text before the images and the images' embeddings) does not
// depend on the question that follows, and its prefill is the dominant cost of a second question
// once the encode is cached (4-7k positions for a page). Its KV cells are stored after the first
// ask and restored by the next one with that same prefix, in any process.
//
// The key is everything the cells depend on: the text model file's content hash, where and in
// which chunks its layers run, the KV type, SCM's settings, and the prefix itself, hashed exactly
// (token ids, and the embedding rows as prefilled: after SCM, only the kept ones). With SCM the
// kept rows depend on the question (the pre-pass scores them by the attention the question pays),
// so a new question usually gets other rows, another key and a miss; the same question hits.
//
// When this applies the prefix is prefilled in a call of its own, cached or not, so the question
// goes through the same llama_decode chunks either way (libllama's chunks never cross a part).
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { ScmSettings } from '../llm/scm';
import { isEmbeddingRows, partsLength } from '../llm/prompt';
import type { LlmSequence } from '../llm/sequence';
import type { NativeCancelToken } from '../native';
import { fileIdentity } from './file-identity';
import { updateChunked } from './hash-chunked';
import { prefixModelKey, PrefixModelParts } from './key';
import { PageCache, WARNING_CODE } from './page-cache';

type Part = Int32Array | Float32Array;

/** Index just past the last image's embedding rows when something follows them; -1 when no prefix applies. */
export function prefixEnd(parts: Part[]): number {
  let end = -1;
  parts.forEach((p, i) => {
    if (isEmbeddingRows(p)) end = i + 1;
  });
  return end > 0 && end < parts.length ? end : -1;
}

/** The key of `prefix`'s KV cells under `modelKey` and SCM's settings (a page's rows are 60 MB: hashed in slices). */
export async function prefixKey(modelKey: string, prefix: Part[], scm: ScmSettings | null): Promise<string> {
  const h = createHash('sha256').update(JSON.stringify(['kv-prefix', modelKey, scm]));
  for (const p of prefix) {
    h.update(`${isEmbeddingRows(p) ? 'rows' : 'ids'}:${p.length}:`);
    await updateChunked(h, new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  }
  return h.digest('hex');
}

export class PromptPrefixes {
  private modelKey: Promise<string | undefined> | undefined;
  /** Set when this model's KV memory is of a layout sequence_state.cpp does not keep (said once). */
  private unsupported = false;

  constructor(
    readonly cache: PageCache,
    private readonly modelPath: string,
    private readonly settings: Omit<PrefixModelParts, 'model'>,
  ) {}

  /**
   * Prefills `parts` (a first turn) into the empty `ctx`: the prefix restored from the page cache
   * when it holds it, else computed and stored. Resolves to the positions restored (0: computed).
   * A stored state libllama refuses is removed with a warning and computed again.
   */
  async prefill(
    ctx: LlmSequence, parts: Part[], scm: ScmSettings | null, embeddingWidth: number,
    token: NativeCancelToken | undefined, onProgress: (done: number, total: number) => void,
  ): Promise<number> {
    const end = prefixEnd(parts);
    if (end < 0 || this.unsupported || ctx.position() !== 0) {
      await ctx.prefill(parts, token, onProgress);
      return 0;
    }
    const prefix = parts.slice(0, end);
    const rest = parts.slice(end);
    const n = partsLength(prefix, embeddingWidth);
    const total = n + partsLength(rest, embeddingWidth);
    const model = await this.model();
    const key = model && (await prefixKey(model, prefix, scm));
    let restored = 0;
    if (key) {
      const state = await this.cache.getState(key, n);
      if (state) {
        try {
          await ctx.loadState(state, n);
          restored = n;
          onProgress(n, total);
        } catch (e) {
          await this.cache.discard(key, `libllama did not take the KV state (${(e as Error).message})`);
        }
      }
    }
    if (!restored) {
      await ctx.prefill(prefix, token, (d) => onProgress(d, total));
      if (key) {
        try {
          await this.cache.putState(key, await ctx.saveState(), n);
        } catch (e) {
          this.unsupported = (e as { code?: string }).code === 'UNSUPPORTED';
          warn(`cannot keep the prompt's KV state (${(e as Error).message})${this.unsupported ? '; not tried again for this model' : ''}`);
        }
      }
    }
    await ctx.prefill(rest, token, (d) => onProgress(n + d, total));
    return restored;
  }

  /** The text model's part of every key: its content hash (once per file) and the context settings. */
  private model(): Promise<string | undefined> {
    // Through a promise: a file gone since the load throws from stat, and that must be a miss.
    this.modelKey ??= Promise.resolve().then(() => fileIdentity(this.modelPath, path.join(this.cache.dir, 'files'))).then(
      (id) => prefixModelKey({ model: id, ...this.settings }),
      (e: Error) => {
        warn(`cannot hash ${this.modelPath} (${e.message}); prompt states not cached`);
        return undefined;
      },
    );
    return this.modelKey;
  }
}

function warn(message: string): void {
  process.emitWarning(`page cache: ${message}`, { code: WARNING_CODE });
}
