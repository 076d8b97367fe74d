// Loads the native addon: a prebuilt binary from prebuilds/<platform>-<arch>/ first, then a local
// source build in build/Release. A failure says why and what to do (sharp's messages are the model).
import fs from 'node:fs';
import path from 'node:path';
import { NativeLoadError, UnsupportedCpuError } from './errors';
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
  parameters: number;
  sizeBytes: number;
  /** Ids of the prompt's special tokens; -1 where the vocabulary lacks one. */
  special: NativeSpecialTokens;
}

export interface NativeTextModel {
  info(): NativeTextModelInfo;
  tokenize(text: string, addBos: boolean, parseSpecial: boolean): Int32Array;
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

export interface NativeLlmContext {
  /** Appends token runs (Int32Array) and embedding rows (Float32Array); resolves to the new position. */
  prefill(parts: (Int32Array | Float32Array)[], token?: NativeCancelToken, onProgress?: (done: number, total: number) => void): Promise<number>;
  step(token?: NativeCancelToken): Promise<NativeStep>;
  /** Options already checked by checkSampling (the addon reads these keys). */
  setSampling(options: SamplingOptions): void;
  truncate(position: number): void;
  position(): number;
  size(): number;
  logits(): Float32Array;
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

export interface NativeRuntimeInfo {
  llamaRelease: string;
  ggmlSystemInfo: string;
  cpuFeatures: Record<string, boolean>;
  napiVersion: number;
}

export interface NativeAddon {
  runtimeInfo(): NativeRuntimeInfo;
  quantize(type: string, data: Float32Array, rowLength: number): Promise<Uint8Array>;
  CancelToken: new () => NativeCancelToken;
  loadVisionEncoder(path: string, threads: number): Promise<NativeVisionEncoder>;
  loadTextModel(
    path: string, gpuLayers: number, useMmap: boolean, token?: NativeCancelToken, onProgress?: (done: number, total: number) => void,
  ): Promise<NativeTextModel>;
  createContext(model: NativeTextModel, contextSize: number, batchSize: number, threads: number): Promise<NativeLlmContext>;
  createScm(model: NativeTextModel, threads: number): Promise<NativeScm>;
  resizeRGB(data: Uint8Array, width: number, height: number, newWidth: number, newHeight: number): Promise<Uint8Array>;
  assembleTiles(
    rgb: Uint8Array, width: number, height: number, tiles: Int32Array, tileSize: number,
    mean: readonly number[], std: readonly number[],
  ): Promise<Float32Array>;
}

/** The package root (holds package.json, prebuilds/ and build/), from lib/ or dist/lib/. */
export const packageRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
})();


let cached: { addon: NativeAddon; path: string } | undefined;

function libc(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/**
 * Where the addon may be, in the order tried: MINIMONKEY_ADDON_PATH, a prebuilt binary in
 * prebuilds/<platform>-<arch>/ (tagged as node-gyp-build names them: napi, glibc/musl), then a
 * local source build in build/Release.
 */
export function addonCandidates(): string[] {
  const out: string[] = [];
  if (process.env.MINIMONKEY_ADDON_PATH) out.push(path.resolve(process.env.MINIMONKEY_ADDON_PATH));
  const dir = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  if (fs.existsSync(dir)) {
    const mine = libc();
    for (const file of fs.readdirSync(dir).sort()) {
      const tags = file.split('.');
      if (tags.pop() !== 'node' || !tags.includes('napi')) continue;
      const fileLibc = tags.find((t) => t === 'glibc' || t === 'musl');
      if (fileLibc && fileLibc !== mine) continue;
      out.push(path.join(dir, file));
    }
  }
  out.push(path.join(packageRoot, 'build', 'Release', 'minimonkey.node'));
  return out;
}

/** x86-64 CPU features the binaries are compiled for (CMakeLists.txt: GGML_AVX2/FMA/F16C). */
const REQUIRED_X64_FEATURES = ['avx', 'avx2', 'fma', 'f16c'];

/**
 * The required features this CPU lacks, or [] if none (or if we cannot tell). Loading an AVX2
 * binary on a CPU without AVX2 dies with SIGILL, which no try/catch can stop, so we look first.
 */
export function missingCpuFeatures(cpuFlags?: Set<string>): string[] {
  if (process.arch !== 'x64' || process.env.MINIMONKEY_SKIP_CPU_CHECK) return [];
  let flags = cpuFlags;
  if (!flags) try {
    if (process.platform === 'linux') {
      const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
      if (line) flags = new Set(line.split(':')[1].trim().split(/\s+/));
    } else if (process.platform === 'darwin') {
      const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
      const out = execFileSync('sysctl', ['-n', 'machdep.cpu.features', 'machdep.cpu.leaf7_features'], { encoding: 'utf8' });
      flags = new Set(out.toLowerCase().split(/\s+/).map((f) => f.replace('avx1.0', 'avx').replace('f16c', 'f16c')));
    }
  } catch {
    return [];
  }
  if (!flags) return [];
  return REQUIRED_X64_FEATURES.filter((f) => !flags!.has(f));
}

function load(): { addon: NativeAddon; path: string } {
  if (cached) return cached;
  const missing = missingCpuFeatures();
  if (missing.length > 0) {
    throw new UnsupportedCpuError(
      `minimonkey: this CPU lacks ${missing.join(', ')}, which the minimonkey binary needs (x86-64 with AVX2, FMA and F16C: ` +
        `Intel Haswell / AMD Excavator or newer). Loading it would crash the process, so it was not loaded.`,
    );
  }
  const candidates = addonCandidates().filter((f) => fs.existsSync(f));
  if (candidates.length === 0) {
    throw new NativeLoadError(
      `minimonkey: no native binary for ${process.platform}-${process.arch} (Node ${process.versions.node}, N-API ${process.versions.napi}). ` +
        `No prebuilt binary matched and there is no local build in ${path.join(packageRoot, 'build', 'Release')}. ` +
        `Run \`npm rebuild minimonkey\` to build from source (needs g++, cmake and git).`,
    );
  }
  const failures: string[] = [];
  for (const file of candidates) {
    try {
      cached = { addon: require(file) as NativeAddon, path: file };
      return cached;
    } catch (e) {
      failures.push(`${file}: ${(e as Error).message}`);
    }
  }
  throw new NativeLoadError(
    `minimonkey: the native binary failed to load on ${process.platform}-${process.arch}:\n  ${failures.join('\n  ')}\n` +
      `If it was built for another CPU, libc or platform, run \`npm rebuild minimonkey\` to build from source (needs g++, cmake and git).`,
  );
}

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  return load().addon;
}

/** Absolute path of the loaded addon binary. */
export function nativePath(): string {
  return load().path;
}

/** ggml's quantizer: f32 rows to f16/bf16/q8_0/q4_0/q4_1/q5_0/q5_1 bytes, off the JS thread. */
export function quantize(type: string, data: Float32Array, rowLength: number): Promise<Uint8Array> {
  return native().quantize(type, data, rowLength);
}
