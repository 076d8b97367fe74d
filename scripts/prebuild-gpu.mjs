#!/usr/bin/env node
// `npm run package:gpu -- vulkan|cuda`: the optional npm package of one GPU backend for this
// platform, in build/packages/<backend>-<platform>-<arch>/ (`npm pack` or `npm publish` it from there):
// package.json and lib/libggml-<backend>.so, stripped. The main package stays CPU-only and small;
// an app that wants the GPU installs this beside it, and lib/devices.ts finds it by name.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root } from './cmake-build.mjs';

const backend = process.argv[2];
const NEEDS = {
  vulkan: 'a Vulkan 1.2 driver (libvulkan.so.1 and the GPU vendor\'s ICD: Mesa RADV/ANV, NVIDIA, AMDVLK)',
  cuda: 'an NVIDIA driver and the CUDA 13 runtime libraries (libcudart.so.13, libcublas.so.13) on the library path',
};
if (!NEEDS[backend]) {
  process.stderr.write(`usage: prebuild-gpu.mjs ${Object.keys(NEEDS).join('|')}\n`);
  process.exit(2);
}
const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const name = `${backend}-${process.platform}-${process.arch}`;
const dir = path.join(root, 'build', 'packages', name);
const lib = path.join(dir, 'lib');
fs.rmSync(dir, { recursive: true, force: true });
execFileSync(process.execPath, [path.join(root, 'scripts', 'build-gpu.mjs'), backend, '--out', lib], { cwd: root, stdio: 'inherit' });
for (const f of fs.readdirSync(lib)) {
  if (process.platform === 'linux') execFileSync('strip', ['--strip-unneeded', path.join(lib, f)], { stdio: 'inherit' });
}
const pkg = {
  name: `@minimonkey/${name}`,
  version: main.version,
  description: `ggml's ${backend} backend for minimonkey ${main.version} (${process.platform}-${process.arch}); needs ${NEEDS[backend]}`,
  license: main.license,
  os: [process.platform],
  cpu: [process.arch],
  files: ['lib/'],
  // Built from the same pinned llama.cpp as minimonkey's own libraries: only that version loads it.
  peerDependencies: { minimonkey: main.version },
};
fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
const size = fs.readdirSync(lib).reduce((n, f) => n + fs.statSync(path.join(lib, f)).size, 0);
process.stderr.write(`[prebuild-gpu] ${path.relative(root, dir)}: ${pkg.name}, ${(size / 1e6).toFixed(1)} MB\n`);
