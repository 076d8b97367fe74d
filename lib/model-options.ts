// What MiniMonkey.load and encodeImage take: in a room of their own so the rooms that run a model
// elsewhere (lib/isolate) can name them without importing the model (an import cycle).
import type { DeviceOption } from './devices';
import type { FamilyName } from './family';
import type { LoadImageOptions } from './image/load';
import type { PresetName } from './msac/presets';
import type { CropOptions } from './msac/types';
import type { KvCacheType } from './limits';
import type { PageCacheOptions } from './page-cache/page-cache';

/**
 * Two files, or a pulled model by name: `{ model: 'hf:owner/name' }` loads what `minimonkey pull`
 * / pullModel left in MINIMONKEY_HOME (its mmproj unless `mmproj` is given).
 */
export type MiniMonkeyLoadOptions = MiniMonkeyLoadSettings &
  ({ /** The text model GGUF (internlm2 for Mini-Monkey). */ model: string; /** The vision projector GGUF (clip / internvl). */ mmproj: string } | { model: `hf:${string}`; mmproj?: string });

export interface MiniMonkeyLoadSettings {
  /**
   * The model family (prompt template, system message, special tokens; lib/family.ts). Default:
   * detected from the text model's chat template ('internvl2.5' for InternVL2.5 / InternVL3,
   * else 'internvl2', Mini-Monkey's).
   */
  family?: FamilyName;
  /** CPU threads for the vision tower and the language model (default: available parallelism). */
  threads?: number;
  /**
   * Tokens a chat's context holds. Default: sized per turn from the crop plan, the text and
   * maxTokens (starting at 8,192, growing up to the model's trained context when a turn needs it).
   */
  contextSize?: number;
  /** Tokens per libllama decode call in prefill (default DEFAULTS.batchSize, 512). */
  batchSize?: number;
  /**
   * The type of the text model's KV cells (default 'f16'). 'q8_0' about halves the context's
   * memory (a page's ~4,000-token prompt: about 390 MiB in f16 at InternLM2-1.8B's size), with
   * attention run by flash attention; replies may differ slightly from f16's.
   */
  kvCacheType?: KvCacheType;
  /**
   * Where the vision tower, SCM's pre-pass and the language model run (default 'auto': the first
   * GPU ggml finds, else the CPU; 'cpu'; or a device name from runtimeInfo().devices, e.g. 'Vulkan0').
   * A GPU that fails to initialise leaves the model on the CPU, saying why in `model.device.note`.
   */
  device?: DeviceOption;
  /**
   * Conversations at once (README "Several conversations at once"): the model holds one context
   * of this many sequences, each of `contextSize` tokens (default: the largest image of the
   * family's default preset + the default maxTokens + room for the text, up to the trained
   * context; see defaultSequenceSize), and the decodes of concurrent sessions are batched. Unset:
   * each chat has a context of its own and asks on the model run one after another.
   */
  parallel?: number;
  /** Text-model layers on that device when it is a GPU (default -1: all; the rest stay on the CPU). */
  gpuLayers?: number;
  /** Memory for image embeddings kept for follow-up questions (default DEFAULTS.imageCacheBytes, 512 MiB; 0 disables). */
  imageCacheBytes?: number;
  /**
   * Image embeddings kept on disk, so another process (or this one after a restart) asking about
   * a page already seen skips the vision tower (README "Page cache"). `{}` or `true`: in
   * <MINIMONKEY_HOME>/page-cache, at most 2 GiB; `{ dir, maxBytes }` to choose. Default off in the
   * library (an app decides where its users' pages may be written); the CLI and server turn it on.
   */
  pageCache?: PageCacheOptions | boolean;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'text' | 'vision'; fraction: number }) => void;
}

export interface MiniMonkeyEncodeImageOptions {
  crop?: PresetName | CropOptions;
  image?: LoadImageOptions;
  signal?: AbortSignal;
}
