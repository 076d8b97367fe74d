// The native addon's interface, and the addon itself, loaded on first use (lib/addon-loader.ts
// chooses the binary).
import { AddonCandidate, loadAddon } from './addon-loader';
import { backendDirs } from './devices';
import type { SamplingOptions } from './llm/sampling';

export interface NativeCancelToken {
  cancel(): void;
}

export interface NativeVisionInfo {
  imageSize: number;
  patchSize: number;
  tokensPerTile: number;
  embeddingWidth: number;
  visionWidth: number;
  layers: number;
  weightType: string;
  /** Where ggml keeps the block matrices: CPU, a repacked layout of the CPU variant (CPU_REPACK, AMX), or a GPU's memory (Vulkan0). */
  weightBuffer: string;
  /** The device the tower runs on ("CPU", "Vulkan0", ...). */
  device: string;
  /** Why it is the CPU when a GPU was asked for or found ('' otherwise). */
  deviceNote: string;
  imageMean: number[];
  imageStd: number[];
}

export interface NativeVisionEncoder {
  encode(tiles: Float32Array, count: number, token?: NativeCancelToken): Promise<Float32Array>;
  computeBytes(count: number): Promise<number>;
  info(): NativeVisionInfo;
  dispose(): void;
}

export interface NativeSpecialTokens {
  bos: number;
  eos: number;
  imStart: number;
  imEnd: number;
  imgStart: number;
  imgEnd: number;
  imgContext: number;
  /** The prompt starts with bos (tokenizer.ggml.add_bos_token; InternLM2 yes, Qwen2 no). */
  addBos: boolean;
}

export interface NativeTextModelInfo {
  arch: string;
  name: string;
  embeddingWidth: number;
  vocabSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  trainContext: number;
  /** libllama's rope type for the model: 'norm', 'neox', ... (absent from addons before it). */
  ropeType?: string;
  /** The GGUF's default chat template as libllama reads it ('' when none; absent from older addons). */
  chatTemplate?: string;
  parameters: number;
  sizeBytes: number;
  /** Ids of the prompt's special tokens; -1 where the vocabulary lacks one. */
  special: NativeSpecialTokens;
  /** The device libllama offloads layers to ("CPU": none) and SCM's pre-pass runs on. */
  device: string;
  /** Why it is the CPU when a GPU was asked for or found ('' otherwise). */
  deviceNote: string;
  /** Layers on that device (the output layer counts as one; 0 on the CPU). */
  gpuLayers: number;
}

export interface NativeTextModel {
  info(): NativeTextModelInfo;
  tokenize(text: string, addBos: boolean, parseSpecial: boolean): Int32Array;
  /** The same on the thread pool (long texts take seconds). */
  tokenizeAsync(text: string, addBos: boolean, parseSpecial: boolean): Promise<Int32Array>;
  piece(token: number, special: boolean): Uint8Array;
  dispose(): void;
}

export interface NativeStep {
  token: number;
  /** The token ends the reply (it was not appended to the context). */
  eog: boolean;
  /** Its bytes (control tokens: none); may hold part of a UTF-8 character. */
  bytes: Uint8Array;
}

/** A sequence's step: its token, or its own failure (the other sequences of the step went on). */
export type NativeSequenceStep = NativeStep | { code: string; message: string };

/**
 * The one conversation context: one libllama context of one sequence (a lone chat) or several
 * (`parallel`), numbered 0..sequences()-1, each with its own KV cells, position and sampler.
 * prefill and step are jobs on the libuv pool; a sequence with a job queued is busy, and the calls
 * on its state throw BUSY until the job ends (lib/llm/sequence-batcher.ts runs one job at a time
 * and never calls them then).
 */
export interface NativeSequenceContext {
  /**
   * Appends token runs and embedding rows to `seq`, cut natively into chunks of batchSize()
   * positions; `last`: keep the final position's logits. Resolves to the new position.
   */
  prefill(
    seq: number, parts: (Int32Array | Float32Array)[], last: boolean, token?: NativeCancelToken, onProgress?: (done: number, total: number) => void,
  ): Promise<number>;
  /** One step of each listed sequence (distinct), their tokens decoded in one llama_decode. */
  step(seqs: Int32Array, tokens: (NativeCancelToken | undefined)[]): Promise<NativeSequenceStep[]>;
  setSampling(seq: number, options: SamplingOptions & { grammar?: string }): void;
  checkGrammar(grammar: string): void;
  grammarPasses(seq: number): number;
  /** Drops positions from `position` on (the cells go before the next job decodes). */
  truncate(seq: number, position: number): void;
  position(seq: number): number;
  /** Positions each sequence holds. */
  size(): number;
  sequences(): number;
  /** Positions per prefill chunk. */
  batchSize(): number;
  logits(seq: number): Float32Array;
  /** The KV cells of the sequence's positions [0, position(seq)) as bytes (native/core/sequence_state.h; a job: BUSY while it has another). */
  saveState(seq: number): Promise<Buffer>;
  /** A saveState() into the empty sequence (from a context of any sequence count); resolves to its position after. */
  loadState(seq: number, state: Uint8Array, positions: number): Promise<number>;
  dispose(): void;
}

export interface NativeScmResult {
  /** Positions scored (the whole prompt). */
  tokens: number;
  /** Per block: the kept positions, ascending. */
  kept: Int32Array[];
  /** Per block: each token's attention, averaged over the scoring rows and the heads. */
  scores: Float32Array[];
  /** Layer 0's output [tokens, embeddingWidth], when asked for. */
  layer0?: Float32Array;
  peakBytes: number;
}

export interface NativeScm {
  /** blocks: (start, length) pairs of detail tokens. */
  run(
    parts: (Int32Array | Float32Array)[], blocks: Int32Array, keep: number, chunk: number, wantLayer0: boolean,
    token?: NativeCancelToken, onProgress?: (done: number, total: number) => void,
  ): Promise<NativeScmResult>;
  dispose(): void;
}

export interface NativeCpuBackendInfo {
  /** The variant of ggml's CPU backend loaded (haswell, zen4, sapphirerapids, ...; "static-<level>" in a static build). */
  variant: string;
  /** 'score' (the best this CPU runs), 'MINIMONKEY_CPU_VARIANT' or 'static'. */
  chosenBy: string;
  /** Every variant of this build, with ggml's score for this CPU (0: cannot run here). */
  variants: { name: string; score: number }[];
  /** What the loaded variant uses, as ggml reports it (AVX2: '1', AMX_INT8: '1', ...). */
  features: Record<string, string>;
}

export interface NativeDeviceInfo {
  /** ggml's name, what the `device` option takes: "CPU", "Vulkan0", "CUDA0". */
  name: string;
  description: string;
  /** The backend: "CPU", "Vulkan", "CUDA", "MTL". */
  backend: string;
  type: 'cpu' | 'gpu' | 'igpu' | 'accel' | 'other';
  memoryFree: number;
  memoryTotal: number;
}

export interface NativeBackendModule {
  /** "vulkan", "cuda", ... */
  name: string;
  path: string;
  loaded: boolean;
  /** Why it did not load (missing driver or runtime libraries). */
  error?: string;
}

export interface NativeRuntimeInfo {
  llamaRelease: string;
  llamaCommit: string;
  ggmlSystemInfo: string;
  cpu: NativeCpuBackendInfo;
  /** Every device ggml registered, the CPU first. */
  devices: NativeDeviceInfo[];
  /** Every GPU backend module found beside the addon or in an optional package, loaded or not. */
  backendModules: NativeBackendModule[];
  napiVersion: number;
  /** The bounds the addon re-checks (native/core/mm_limits.h), equal to lib/limits.ts. */
  limits: {
    maxThreads: number;
    minContext: number;
    maxContext: number;
    maxBatch: number;
    maxTopK: number;
    maxRepeatLastN: number;
    maxGpuLayers: number;
    maxDeviceName: number;
    maxParallel: number;
    /** libllama's context padding, which a lone chat grows by (DEFAULTS.contextStep). */
    contextStep: number;
  };
}

export interface NativeAddon {
  runtimeInfo(): NativeRuntimeInfo;
  quantize(type: string, data: Float32Array, rowLength: number): Promise<Uint8Array>;
  CancelToken: new () => NativeCancelToken;
  loadVisionEncoder(path: string, threads: number, device?: string): Promise<NativeVisionEncoder>;
  loadTextModel(
    path: string, gpuLayers: number, useMmap: boolean, token?: NativeCancelToken, onProgress?: (done: number, total: number) => void,
    device?: string,
  ): Promise<NativeTextModel>;
  /** Folders of optional GPU backend packages; effective before the first device use. */
  addBackendDirs(dirs: string[]): void;
  /** @deprecated createSequenceContext with parallel 1 (kept for one minor version). */
  createContext(model: NativeTextModel, contextSize: number, batchSize: number, threads: number): Promise<NativeSequenceContext>;
  /** A context of `parallel` sequences (1: a lone chat's) of `contextSize` positions each. */
  createSequenceContext(model: NativeTextModel, contextSize: number, parallel: number, batchSize: number, threads: number, kvCacheType?: 'f16' | 'q8_0'): Promise<NativeSequenceContext>;
  /** llama.cpp's JSON Schema to GBNF converter (the schema as JSON text). */
  jsonSchemaToGrammar(schemaJson: string): string;
  createScm(model: NativeTextModel, threads: number): Promise<NativeScm>;
  resizeRGB(data: Uint8Array, width: number, height: number, newWidth: number, newHeight: number): Promise<Uint8Array>;
  assembleTiles(
    rgb: Uint8Array, width: number, height: number, tiles: Int32Array, tileSize: number,
    mean: readonly number[], std: readonly number[],
  ): Promise<Float32Array>;
}

export { packageRoot } from './addon-loader';

let cached: ({ addon: NativeAddon } & AddonCandidate) | undefined;

function load(): { addon: NativeAddon } & AddonCandidate {
  if (!cached) {
    const loaded = loadAddon<NativeAddon>();
    // Before anything asks for a device: the GPU modules are looked for once.
    loaded.addon.addBackendDirs?.(backendDirs());
    cached = loaded;
  }
  return cached;
}

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  return load().addon;
}

/** Absolute path of the loaded addon binary. */
export function nativePath(): string {
  return load().file;
}

/** Where the loaded addon came from: MINIMONKEY_ADDON_PATH, the platform package, prebuilds/ or a source build. */
export function nativeOrigin(): AddonCandidate {
  const { file, source, package: pkg } = load();
  return { file, source, ...(pkg ? { package: pkg } : {}) };
}

/** ggml's quantizer: f32 rows to f16/bf16/q8_0/q4_0/q4_1/q5_0/q5_1 bytes, off the JS thread. */
export function quantize(type: string, data: Float32Array, rowLength: number): Promise<Uint8Array> {
  return native().quantize(type, data, rowLength);
}
