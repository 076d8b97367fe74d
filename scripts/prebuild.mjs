#!/usr/bin/env node
// `npm run prebuild [-- --out DIR]`: builds the addon from source and stores the set, stripped, where
// the loader looks first: prebuilds/<platform>-<arch>[-musl]/ holds minimonkey.node, ggml's and
// libllama's libraries (mm-*) and one CPU backend module per variant ggml defines for the arch
// (libggml-cpu-haswell.so, ...-zen4.so, ...). One set serves every CPU: the addon loads the best
// variant at run time, so no CPU dies with SIGILL. prebuildify only drives node-gyp; our build is
// cmake-js, so this small script does its job.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { addonFiles, cmakeBuild, root } from './cmake-build.mjs';

let libc = '';
if (process.platform === 'linux') libc = process.report.getReport().header.glibcVersionRuntime ? '' : '-musl';
const outArg = process.argv.indexOf('--out');
const dir = outArg > 0
  ? path.resolve(process.argv[outArg + 1])
  : path.join(root, 'prebuilds', `${process.platform}-${process.arch}${libc}`);

function strip(file) {
  if (process.platform === 'linux') execFileSync('strip', ['--strip-unneeded', file], { stdio: 'inherit' });
  else if (process.platform === 'darwin') execFileSync('strip', ['-x', file], { stdio: 'inherit' });
}

// Built first (build/cmake is shared with `npm run build:native`), so a failed build leaves the
// previous prebuilds in place; then written to a new folder that replaces the old one whole.
const release = cmakeBuild({ outDir: path.join('build', 'cmake') });
const files = addonFiles(release);
const next = `${dir}.new`;
fs.rmSync(next, { recursive: true, force: true });
fs.mkdirSync(next, { recursive: true });
let total = 0;
for (const file of files) {
  const dest = path.join(next, file);
  fs.copyFileSync(path.join(release, file), dest);
  strip(dest);
  total += fs.statSync(dest).size;
}
fs.rmSync(dir, { recursive: true, force: true });
fs.renameSync(next, dir);
process.stderr.write(`[prebuild] ${path.relative(root, dir)}: ${files.length} files, ${(total / 1e6).toFixed(1)} MB\n`);
