#!/usr/bin/env node
// `npm run prebuild`: builds the addon from source and stores it, stripped, where the loader looks
// first: prebuilds/<platform>-<arch>/minimonkey[.glibc|.musl].napi.node (node-gyp-build's tags).
// prebuildify only drives node-gyp; our build is cmake-js, so this small script does its job.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });

const built = path.join(root, 'build', 'Release', 'minimonkey.node');
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
let libc = '';
if (process.platform === 'linux') libc = process.report.getReport().header.glibcVersionRuntime ? '.glibc' : '.musl';
const dest = path.join(dir, `minimonkey${libc}.napi.node`);
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(built, dest);
if (process.platform === 'linux') {
  execFileSync('strip', ['--strip-unneeded', dest], { stdio: 'inherit' });
} else if (process.platform === 'darwin') {
  execFileSync('strip', ['-x', dest], { stdio: 'inherit' });
}
process.stderr.write(`[prebuild] ${path.relative(root, dest)} (${(fs.statSync(dest).size / 1048576).toFixed(1)} MiB)\n`);
