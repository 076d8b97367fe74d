#!/usr/bin/env node
// Source build of the addon: fetch the pinned llama.cpp, then configure and build with cmake-js.
// `npm install` runs this through node-gyp-build only when no prebuilt binary matches.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });

run(process.execPath, [path.join(root, 'scripts', 'fetch-llama.mjs')]);

const jobs = String(process.env.MINIMONKEY_JOBS || Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const env = { CCACHE_BASEDIR: root };  // cache hits independent of where the checkout lives
// Build against the running Node's own headers when it ships them, so no download is needed.
const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && fs.existsSync(path.join(nodePrefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = nodePrefix;
}
// cmake works in build/cmake; the addon is then copied to build/Release where node-gyp-build
// looks. Keeping cmake out of build/ itself lets binding.gyp (node-gyp) delegate here safely.
run(process.execPath, [cmakeJs, 'build', '--out', path.join('build', 'cmake'), '--parallel', jobs, '--log-level', 'warn'], env);
const built = path.join(root, 'build', 'cmake', 'Release', 'minimonkey.node');
fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
fs.copyFileSync(built, path.join(root, 'build', 'Release', 'minimonkey.node'));
// The loader prefers prebuilds/; one for this platform is now stale (or is why we had to build).
const stale = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (fs.existsSync(stale)) {
  fs.rmSync(stale, { recursive: true, force: true });
  process.stderr.write(`[build-native] removed the stale ${path.relative(root, stale)}; \`npm run prebuild\` makes a new one\n`);
}
