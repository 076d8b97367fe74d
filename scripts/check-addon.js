// `npm install` runs this through node-gyp-build (package.json "prebuild.test") to decide whether a
// source build is needed: it exits 0 only when the loader finds an addon this CPU can run (the prebuilt set,
// or an earlier source build) and the addon answers. Any failure, even a crash,
// makes node-gyp-build fall back to `node scripts/build-native.mjs`.
'use strict';
const path = require('node:path');

const { runtimeInfo } = require(path.join(__dirname, '..', 'dist', 'lib', 'runtime.js'));
const info = runtimeInfo();
if (process.env.MINIMONKEY_VERBOSE_INSTALL) {
  process.stderr.write(`minimonkey: using ${info.addonPath} (ggml cpu variant ${info.cpu.variant})\n`);
}
