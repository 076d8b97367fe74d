#!/usr/bin/env node
// `npm install` hook. Keeps the prebuilt binary when one runs here; otherwise builds from source,
// once. The check is node-gyp-build's prebuild test (node-gyp-build/build-test.js), which loads
// scripts/check-addon.js (package.json "prebuild.test"): the loader's own choice of binary for this
// CPU, in a child process, so even a crash only means "build from source". node-gyp-build's `bin`
// is not used because after a build it also runs `node-gyp rebuild`, which wipes build/ and needs
// Node's headers for a target that has nothing to compile.
// `npm install minimonkey --build-from-source` (or npm_config_build_from_source=true) skips the check.
// The prebuilt set normally comes from the platform package (@minimonkey/<platform>-<arch>, an
// optionalDependency), so the check passes in well under a second and nothing is built; installs that
// run no scripts at all (--ignore-scripts, pnpm 10, Bun) work the same. An install for another
// platform (`npm install --os linux --cpu arm64`, to ship or test elsewhere) builds nothing here.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { root } from './cmake-build.mjs';

const require = createRequire(import.meta.url);
const fromSource = /^(true|1|minimonkey)$/.test(process.env.npm_config_build_from_source ?? '');
// A source checkout has no compiled JS yet (`prepare` compiles it after this hook) and no prebuilds.
const checkout = !fs.existsSync(path.join(root, 'dist', 'lib', 'runtime.js'));
const target = { os: process.env.npm_config_os || process.platform, cpu: process.env.npm_config_cpu || process.arch };
if (!checkout && (target.os !== process.platform || target.cpu !== process.arch)) {
  process.stderr.write(`minimonkey: installed for ${target.os}-${target.cpu}, not this ${process.platform}-${process.arch}; nothing is built here\n`);
  process.exit(0);
}
if (checkout) {
  process.stderr.write('minimonkey: a source checkout; building the addon from source\n');
} else if (!fromSource) {
  const test = spawnSync(process.execPath, [require.resolve('node-gyp-build/build-test.js')], { cwd: root, encoding: 'utf8' });
  if (test.status === 0) process.exit(0);
  const why = test.signal ? `it was killed by ${test.signal}` : (test.stderr.trim().split('\n').find((l) => l.includes('minimonkey:')) ?? 'no binary loaded');
  process.stderr.write(`minimonkey: no prebuilt binary runs here (${why}); building from source\n`);
}
const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
