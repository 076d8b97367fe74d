#!/usr/bin/env node
// `npm run build:gpu -- vulkan|cuda|metal [--out DIR]`: one of ggml's GPU backends, built from the same
// pinned source and options as the addon (shared libraries, GGML_BACKEND_DL), as a loadable module:
// build/backends/libggml-<backend>.so, where the loader looks in a source checkout
// (lib/devices.ts), or DIR. `npm run package:gpu` packs it as the optional npm package.
//
// Only the module is built: it links libmm-ggml-base.so by name, and at run time binds to the one the
// addon already loaded (same soname, same source, same options), so it can ship on its own.
//   vulkan: needs Vulkan headers, glslc and SPIRV-Headers (Debian: libvulkan-dev glslc spirv-headers).
//           glslc compiles the shaders (about 1,500 SPIR-V variants) into generated sources in
//           build/gpu-vulkan, which ninja reuses on the next build.
//   cuda:   needs nvcc; MINIMONKEY_CUDA_ARCHS picks the GPU architectures (default below).
//   metal:  macOS only (configured, untested here).
import fs from 'node:fs';
import path from 'node:path';
import { fetchLlama, jobs, root, run } from './cmake-build.mjs';
import { vulkanLlamaDir } from './vulkan-source.mjs';

// CUDA: Turing (T4, RTX 20), Ampere (A100, RTX 30), Ada (L4, RTX 40) and Hopper (H100, H200) as
// real code, plus PTX for later GPUs: what the optional package is built for by default.
const CUDA_ARCHS = process.env.MINIMONKEY_CUDA_ARCHS || '75-real;80-real;89-real;90-real;90-virtual';

const DEFINES = {
  vulkan: ['-DGGML_VULKAN=ON'],
  cuda: ['-DGGML_CUDA=ON', `-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS}`, '-DGGML_CUDA_FA_ALL_QUANTS=OFF'],
  metal: ['-DGGML_METAL=ON', '-DGGML_METAL_EMBED_LIBRARY=ON'],
};

const backend = process.argv[2];
if (!DEFINES[backend]) {
  process.stderr.write(`usage: build-gpu.mjs ${Object.keys(DEFINES).join('|')} [--out DIR]\n`);
  process.exit(2);
}
if (backend === 'metal' && process.platform !== 'darwin') {
  process.stderr.write('build-gpu: Metal builds only on macOS\n');
  process.exit(2);
}
const outArg = process.argv.indexOf('--out');
const outDir = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'build', 'backends');

// ggml's CUDA backend links cuBLAS; a toolkit installed without it (nvcc and the runtime only) fails
// deep in cmake, so it is said here first.
if (backend === 'cuda') {
  const cudaHome = process.env.CUDA_HOME || process.env.CUDA_PATH || '/usr/local/cuda';
  if (!fs.existsSync(path.join(cudaHome, 'include', 'cublas_v2.h'))) {
    process.stderr.write(`build-gpu: ${cudaHome} has no cuBLAS (include/cublas_v2.h), which ggml's CUDA backend links; install the toolkit's cuBLAS (e.g. the libcublas-dev-13-0 package) or set CUDA_HOME\n`);
    process.exit(1);
  }
}

fetchLlama();
const dir = path.join('build', `gpu-${backend}`);
const pinned = path.join(root, 'deps', 'llama.cpp');
const source = backend === 'vulkan' ? vulkanLlamaDir(pinned, path.join(root, dir)) : pinned;
run('cmake', ['-S', '.', '-B', dir, '-G', 'Ninja', '-DMINIMONKEY_ADDON=OFF', '-DCMAKE_BUILD_TYPE=Release', '--log-level=WARNING',
  `-DMINIMONKEY_LLAMA_DIR=${source}`, ...DEFINES[backend]]);
run('cmake', ['--build', dir, '--parallel', jobs, '--target', `ggml-${backend}`]);

const ext = process.platform === 'win32' ? '.dll' : '.so';
const file = `${process.platform === 'win32' ? '' : 'lib'}ggml-${backend}${ext}`;
const built = path.join(root, dir, 'bin', file);
if (!fs.existsSync(built)) throw new Error(`build-gpu: ${built} was not made`);
fs.mkdirSync(outDir, { recursive: true });
// A temporary name, renamed: a process that has the old module mapped keeps its copy.
const tmp = path.join(outDir, `.${file}.tmp`);
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, path.join(outDir, file));
process.stderr.write(`[build-gpu] ${path.relative(root, path.join(outDir, file))} (${(fs.statSync(built).size / 1e6).toFixed(1)} MB)\n`);
