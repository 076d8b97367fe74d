#!/usr/bin/env node
// Source build of the addon for this machine: fetch the pinned llama.cpp, then build with cmake-js.
// The result is the same set a prebuild ships (every CPU variant; ggml picks one at run time), in
// build/Release where the loader looks. `npm install` runs this only when no prebuilt binary loads.
import fs from 'node:fs';
import path from 'node:path';
import { requireBuildPackages } from './build-packages.mjs';
import { addonFiles, cmakeBuild, root } from './cmake-build.mjs';

requireBuildPackages(); // before anything is fetched or built: one line naming what to add

// cmake works in build/cmake; keeping it out of build/Release lets binding.gyp (node-gyp) delegate here.
const built = cmakeBuild({ outDir: path.join('build', 'cmake') });
const release = path.join(root, 'build', 'Release');
fs.mkdirSync(release, { recursive: true });
const files = addonFiles(built);
// Files of an older layout or build that this one no longer makes would be loaded beside the new ones.
for (const old of fs.readdirSync(release)) {
  if (!files.includes(old)) fs.rmSync(path.join(release, old), { force: true, recursive: true });
}
// Copied to a temporary name and renamed: a process that has the old library mapped keeps its copy.
for (const file of files) {
  const tmp = path.join(release, `.${file}.tmp`);
  fs.copyFileSync(path.join(built, file), tmp);
  fs.renameSync(tmp, path.join(release, file));
}
// The loader prefers this build over an older prebuild (lib/addon-loader.ts), without deleting either.
fs.writeFileSync(path.join(release, 'build-info.json'), `${JSON.stringify({ builtAt: new Date().toISOString(), files })}\n`);
