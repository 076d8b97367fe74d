#!/usr/bin/env node
// `npm run prebuild [-- --out DIR]`: builds the addon from source and stores it, stripped, where the
// loader looks first: prebuilds/<platform>-<arch>/minimonkey[.<level>][.glibc|.musl].napi.node
// (node-gyp-build's tags, plus our x86-64 level). On x86-64 it builds every level of
// native/cpu-levels.json and the CPU probe (cpu-features.node) that lets the loader pick the best
// one at run time, so no CPU dies with SIGILL. prebuildify only drives node-gyp; our build is
// cmake-js, so this small script does its job.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cmakeBuild, cpuLevels, machineCpuLevel, root } from './cmake-build.mjs';

const outArg = process.argv.indexOf('--out');
const dir = outArg > 0
  ? path.resolve(process.argv[outArg + 1])
  : path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
let libc = '';
if (process.platform === 'linux') libc = process.report.getReport().header.glibcVersionRuntime ? '.glibc' : '.musl';

function strip(file) {
  if (process.platform === 'linux') execFileSync('strip', ['--strip-unneeded', file], { stdio: 'inherit' });
  else if (process.platform === 'darwin') execFileSync('strip', ['-x', file], { stdio: 'inherit' });
}

function store(from, name) {
  const dest = path.join(dir, name);
  fs.copyFileSync(from, dest);
  strip(dest);
  process.stderr.write(`[prebuild] ${path.relative(root, dest)} (${(fs.statSync(dest).size / 1048576).toFixed(1)} MiB)\n`);
}

// Build everything first, so a failed build leaves the previous prebuilds in place.
const builds = [];
if (process.arch === 'x64') {
  const mine = machineCpuLevel();
  for (const { name } of cpuLevels.filter((l) => l.name !== 'x86-64')) {
    // The level this machine builds anyway shares build/cmake with `npm run build:native`.
    const outDir = path.join('build', name === mine ? 'cmake' : `cmake-${name}`);
    builds.push({ name: `minimonkey.${name}${libc}.napi.node`, release: cmakeBuild({ cpu: name, outDir }) });
  }
} else {
  builds.push({ name: `minimonkey${libc}.napi.node`, release: cmakeBuild({ outDir: path.join('build', 'cmake') }) });
}

fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
for (const b of builds) store(path.join(b.release, 'minimonkey.node'), b.name);
const probe = path.join(builds[0].release, 'cpu-features.node');
if (fs.existsSync(probe)) store(probe, 'cpu-features.node');
