// What the running installation is: package version, addon location, ggml's compiled features.
import fs from 'node:fs';
import path from 'node:path';
import { native, nativePath, packageRoot } from './native';

export interface RuntimeInfo {
  /** minimonkey's own version. */
  version: string;
  /** The pinned llama.cpp release ggml and libllama were built from. */
  llamaRelease: string;
  /** Absolute path of the loaded native addon. */
  addonPath: string;
  /** Whether the addon came from prebuilds/ (true) or a local source build (false). */
  prebuilt: boolean;
  /** x86-64 level the addon was built for (x86-64-v3: AVX2/FMA/F16C; x86-64-v2: SSE4.2), or 'native'. */
  cpuLevel: string;
  /** SIMD features the CPU backend was compiled to use (avx2, fma, f16c, ...). */
  cpuFeatures: Record<string, boolean>;
  /** ggml's own one-line system summary. */
  ggmlSystemInfo: string;
  napiVersion: number;
}

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function runtimeInfo(): RuntimeInfo {
  const info = native().runtimeInfo();
  const addonPath = nativePath();
  return {
    version: packageVersion(),
    llamaRelease: info.llamaRelease,
    addonPath,
    prebuilt: addonPath.split(path.sep).includes('prebuilds'),
    cpuLevel: info.cpuLevel,
    cpuFeatures: info.cpuFeatures,
    ggmlSystemInfo: info.ggmlSystemInfo.trim(),
    napiVersion: info.napiVersion,
  };
}
