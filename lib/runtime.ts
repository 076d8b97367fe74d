// What the running installation is: package version, addon location, the CPU variant ggml runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromNative } from './errors';
import { AddonSource } from './addon-loader';
import { limitRange, machineCores } from './limits';
import { defaultThreads, physicalCores } from './threads';
import { native, NativeBackendModule, NativeCpuBackendInfo, NativeDeviceInfo, NativeRuntimeInfo, nativeOrigin, packageRoot } from './native';

export interface RuntimeInfo {
  /** minimonkey's own version. */
  version: string;
  /** The tag of node-llama-cpp's llama.cpp bundle ggml and libllama were built from ("v0.5.0"). */
  llamaRelease: string;
  /** The llama.cpp commit of that bundle (ggml-org/llama.cpp): the name to look the source up by. */
  llamaCommit: string;
  /** Absolute path of the loaded native addon. */
  addonPath: string;
  /**
   * Where the addon came from: 'package' (the installed platform package @minimonkey/<platform>-<arch>),
   * 'prebuilds' (a checkout's prebuilds/<platform>-<arch>/), 'build' (a local source build) or 'env'
   * (MINIMONKEY_ADDON_PATH).
   */
  addonSource: AddonSource;
  /** The platform package it was loaded from (addonSource 'package'), with its version. */
  addonPackage?: { name: string; version: string };
  /** Whether the addon is a prebuilt set (the platform package or prebuilds/) rather than a local source build. */
  prebuilt: boolean;
  /** The CPU, as the OS names it. */
  cpuModel: string;
  /**
   * ggml's CPU backend: the variant loaded for this CPU (the best one it runs, or
   * MINIMONKEY_CPU_VARIANT), every variant of the build with its score, and what the loaded one uses.
   */
  cpu: NativeCpuBackendInfo;
  /** Every device ggml found, the CPU first, with its memory: what the `device` option takes. */
  devices: NativeDeviceInfo[];
  /** The GPU backend modules found (beside the addon or in @minimonkey/<backend>-<platform>-<arch>), loaded or why not. */
  backendModules: NativeBackendModule[];
  /** ggml's own one-line system summary. */
  ggmlSystemInfo: string;
  napiVersion: number;
  /** Threads: the default every API, CLI command and the server use (the physical cores), and the most allowed. */
  threads: { default: number; physicalCores: number; logicalCpus: number; max: number };
}

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function runtimeInfo(): RuntimeInfo {
  let info: NativeRuntimeInfo;
  try {
    // Loads ggml's CPU variant if nothing has: UNSUPPORTED_CPU or INVALID_ARGUMENT (MINIMONKEY_CPU_VARIANT) here.
    info = native().runtimeInfo();
  } catch (e) {
    throw fromNative(e);
  }
  const origin = nativeOrigin();
  return {
    version: packageVersion(),
    llamaRelease: info.llamaRelease,
    llamaCommit: info.llamaCommit,
    addonPath: origin.file,
    addonSource: origin.source,
    ...(origin.package ? { addonPackage: origin.package } : {}),
    prebuilt: origin.source === 'package' || origin.source === 'prebuilds' || (origin.source === 'env' && origin.file.split(path.sep).includes('prebuilds')),
    cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cpu: info.cpu,
    devices: info.devices ?? [],
    backendModules: info.backendModules ?? [],
    ggmlSystemInfo: info.ggmlSystemInfo.trim(),
    napiVersion: info.napiVersion,
    threads: { default: defaultThreads(), physicalCores: physicalCores(), logicalCpus: machineCores(), max: limitRange('threads').max },
  };
}
