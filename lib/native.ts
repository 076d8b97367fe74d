// Loads the native addon: a prebuilt binary from prebuilds/<platform>-<arch>/ first, then a local
// build in build/Release (node-gyp-build's lookup order). A failure says why and what to do.
import path from 'node:path';
import { NativeLoadError } from './errors';

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
  resizeRGB?(data: Uint8Array, width: number, height: number, newWidth: number, newHeight: number): Promise<Uint8Array>;
}

/** The package root (holds package.json, prebuilds/ and build/), from lib/ or dist/lib/. */
export const packageRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    if (require('node:fs').existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
})();

let cached: { addon: NativeAddon; path: string } | undefined;

function load(): { addon: NativeAddon; path: string } {
  if (cached) return cached;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const nodeGypBuild = require('node-gyp-build') as { (dir: string): unknown; resolve(dir: string): string };
  let file: string;
  try {
    file = nodeGypBuild.resolve(packageRoot);
  } catch (e) {
    throw new NativeLoadError(
      `minimonkey: no native binary for ${process.platform}-${process.arch} (Node ${process.versions.node}, N-API ${process.versions.napi}). ` +
        `No prebuilt binary matched and no local build exists under ${path.join(packageRoot, 'build')}. ` +
        `Run \`npm rebuild minimonkey\` to build from source (needs cmake, git and a C++17 compiler).`,
      { cause: e },
    );
  }
  try {
    cached = { addon: require(file) as NativeAddon, path: file };
  } catch (e) {
    throw new NativeLoadError(
      `minimonkey: the native binary ${file} failed to load: ${(e as Error).message}. ` +
        `If it was built for another CPU or libc, run \`npm rebuild minimonkey\` to build from source.`,
      { cause: e },
    );
  }
  return cached;
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
