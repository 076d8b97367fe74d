#!/usr/bin/env node
// Source build of the addon for this machine: fetch the pinned llama.cpp, then configure and build
// with cmake-js at the best x86-64 level this CPU has (MINIMONKEY_CPU overrides: x86-64-v3,
// x86-64-v2, x86-64 or native). `npm install` runs this through node-gyp-build only when no
// prebuilt binary loads.
import fs from 'node:fs';
import path from 'node:path';
import { cmakeBuild, machineCpuLevel, root } from './cmake-build.mjs';

// cmake works in build/cmake; the addon is then copied to build/Release where the loader looks.
// Keeping cmake out of build/ itself lets binding.gyp (node-gyp) delegate here safely.
const cpu = machineCpuLevel();
const built = cmakeBuild({ cpu, outDir: path.join('build', 'cmake') });
const release = path.join(root, 'build', 'Release');
fs.mkdirSync(release, { recursive: true });
for (const file of ['minimonkey.node', 'cpu-features.node']) {
  if (fs.existsSync(path.join(built, file))) fs.copyFileSync(path.join(built, file), path.join(release, file));
}
// The loader will not load this build on a CPU that lacks its level (a build folder copied elsewhere).
const level = process.arch === 'x64' ? (cpu ?? 'x86-64-v3') : undefined;
fs.writeFileSync(path.join(release, 'build-info.json'), `${JSON.stringify({ cpuLevel: level })}\n`);
// The loader prefers prebuilds/; one for this platform is now stale (or is why we had to build).
const stale = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (fs.existsSync(stale)) {
  fs.rmSync(stale, { recursive: true, force: true });
  process.stderr.write(`[build-native] removed the stale ${path.relative(root, stale)}; \`npm run prebuild\` makes a new one\n`);
}
