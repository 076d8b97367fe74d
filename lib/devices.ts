// Which ggml device a model runs on, and where GPU backends come from.
//
// The main package carries the CPU backend only. A GPU backend is one loadable ggml module
// (libggml-vulkan.so, libggml-cuda.so) in an optional npm package per backend and platform, the way
// sharp and node-llama-cpp ship theirs: `npm install @minimonkey/vulkan-linux-x64` puts it where the
// loader finds it. A source build (`npm run build:gpu -- vulkan`) leaves it beside the addon instead.
import fs from 'node:fs';
import path from 'node:path';
import { installedPackage, outsideAsar, ownVersion, packageRoot } from './addon-loader';
import { InvalidArgumentError } from './errors';
import { DEFAULTS, LIMITS } from './limits';

/** 'auto': the first GPU ggml finds, else the CPU. 'cpu': the CPU only. Else a ggml device name: 'Vulkan0', 'CUDA0', 'MTL0'. */
export type DeviceOption = 'auto' | 'cpu' | (string & {});

/** The GPU backends published as optional packages (README "GPUs"). */
export const GPU_BACKEND_PACKAGES = ['cuda', 'vulkan'] as const;

/** `@minimonkey/<backend>-<platform>-<arch>`: the optional package of one GPU backend. */
export function backendPackageName(backend: string, platform: string = process.platform, arch: string = process.arch): string {
  return `@minimonkey/${backend}-${platform}-${arch}`;
}

/**
 * Folders that may hold GPU backend modules, besides the addon's own: MINIMONKEY_BACKEND_PATH
 * (path-delimiter separated), every installed optional backend package, then a source checkout's
 * build/backends (`npm run build:gpu`). The first module found for a backend is the one loaded.
 */
export function backendDirs(from: string = __dirname): string[] {
  const out: string[] = [];
  for (const d of (process.env.MINIMONKEY_BACKEND_PATH ?? '').split(path.delimiter)) {
    if (d) out.push(path.resolve(d));
  }
  for (const backend of GPU_BACKEND_PACKAGES) {
    const pkg = installedPackage(backendPackageName(backend), from);
    if (!pkg) continue; // not installed: the CPU, or another backend
    // A module is built against one release of ggml's base library, ours: another version's could
    // disagree on ggml's structures and crash, so it is left out, with a warning.
    if (pkg.version !== ownVersion()) {
      process.emitWarning(`${backendPackageName(backend)}@${pkg.version} is not built for minimonkey ${ownVersion()}; install the same version`, { code: 'MINIMONKEY_BACKEND_VERSION' });
      continue;
    }
    // Electron: the module is a native file, unpacked beside the asar archive (installedPackage's dir is outside it).
    out.push(path.join(pkg.dir, 'lib'));
  }
  const built = outsideAsar(path.join(packageRoot, 'build', 'backends'));
  if (fs.existsSync(built)) out.push(built);
  return out;
}

/** The device option checked at the edge (the addon checks it again): 'auto' when undefined. */
export function checkDevice(device: unknown): DeviceOption {
  if (device === undefined) return DEFAULTS.device;
  const { min, max } = LIMITS.deviceName;
  if (typeof device !== 'string' || device.length < min || device.length > max || !/^[A-Za-z0-9_.:-]+$/.test(device)) {
    throw new InvalidArgumentError(
      `device must be 'auto', 'cpu' or a ggml device name (${min} to ${max} letters, digits, _ . : -; runtimeInfo().devices lists them), got ${JSON.stringify(device)}`,
    );
  }
  return device;
}
