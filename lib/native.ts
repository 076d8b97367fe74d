// Loads the native addon: a prebuilt binary from prebuilds/<platform>-<arch>/ first, then a local
// source build in build/Release. A failure says why and what to do (sharp's messages are the model).
import fs from 'node:fs';
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

function load(): { addon: NativeAddon; path: string } {
  if (cached) return cached;
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
