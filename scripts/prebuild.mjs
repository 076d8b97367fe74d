#!/usr/bin/env node
// `npm run prebuild [-- --platform linux-arm64] [--out DIR]`: builds the addon and writes one platform
// package folder, prebuilds/<platform>-<arch>[-musl]/ (or DIR): package.json of
// @minimonkey/<platform>-<arch>[-musl] (os/cpu/libc, the main package's version, no scripts) and the
// set, stripped: minimonkey.node, ggml's and libllama's libraries (mm-*) and one CPU backend module per
// variant ggml defines for the arch (libggml-cpu-haswell.so, ...-armv8.2_2.so, ...). One set serves
// every CPU of the arch: the addon loads the best variant at run time, so no CPU dies with SIGILL.
// `npm pack prebuilds/linux-x64` makes the package the main one lists in optionalDependencies; a
// checkout's loader also finds the folder as it is (lib/addon-loader.ts).
//
// Without --platform: this machine's platform, built in build/cmake (shared with `npm run build:native`).
// --platform linux-arm64 or win32-x64 (on linux-x64): cross-built in build/cross-<platform>/ (win32-x64 by
// scripts/cross/win32-x64.mjs, MinGW-w64) with the CMake toolchain file below,
// and the finished set cached by source hash under ~/.cache/minimonkey/prebuilds/ (MINIMONKEY_BUILD_CACHE)
// so a fresh clone on the same machine (CI) does not build it again.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addonFiles, cmakeBuild, hostPlatformTag, root } from './cmake-build.mjs';

/** Platforms this script cross-builds on an x86-64 Linux host. */
const CROSS = {
  'linux-arm64': {
    toolchain: 'cmake/toolchains/linux-arm64.cmake',
    strip: 'aarch64-linux-gnu-strip',
    compilerVersion: ['clang', ['--version']],
    needs: 'clang and Debian\'s g++-aarch64-linux-gnu + libc6-dev-arm64-cross (scripts/setup-system.sh)',
  },
  // MinGW-w64 with its own script (Node-API bound to the host at load, DLL import checks, its cache).
  'win32-x64': {
    script: 'scripts/cross/win32-x64.mjs',
    needs: 'MinGW-w64 (g++-mingw-w64-x86-64-posix, gcc-mingw-w64-x86-64-posix, binutils-mingw-w64-x86-64: scripts/setup-system.sh)',
  },
};

function arg(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const host = hostPlatformTag();
const tag = arg('--platform') ?? host;
const cross = tag === host ? undefined : CROSS[tag];
if (tag !== host && (!cross || host !== 'linux-x64')) {
  process.stderr.write(`[prebuild] cannot build ${tag} on ${host}: this script cross-builds ${Object.keys(CROSS).join(', ')} on linux-x64 only; ` +
    'build the others on their own platform (the release workflow does)\n');
  process.exit(2);
}
const dir = arg('--out') ? path.resolve(arg('--out')) : path.join(root, 'prebuilds', tag);
const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const packageName = `@minimonkey/${tag}`;
if (main.optionalDependencies?.[packageName] !== main.version) {
  process.stderr.write(`[prebuild] warning: package.json optionalDependencies has no ${packageName}@${main.version}\n`);
}

function strip(file) {
  if (cross) execFileSync(cross.strip, ['--strip-unneeded', file], { stdio: 'inherit' });
  else if (process.platform === 'linux') execFileSync('strip', ['--strip-unneeded', file], { stdio: 'inherit' });
  else if (process.platform === 'darwin') execFileSync('strip', ['-x', file], { stdio: 'inherit' });
}

/** Everything a cross-built set is made from: our sources, the build, the toolchain, the llama.cpp pin, the compiler. */
function sourceHash() {
  const h = createHash('sha256');
  const add = (rel) => {
    const abs = path.join(root, rel);
    if (fs.statSync(abs).isDirectory()) {
      for (const f of fs.readdirSync(abs).sort()) add(path.join(rel, f));
    } else {
      h.update(`${rel}\0`).update(fs.readFileSync(abs)).update('\0');
    }
  };
  for (const rel of ['native', 'CMakeLists.txt', cross.toolchain, 'scripts/fetch-llama.mjs', 'scripts/cmake-build.mjs']) add(rel);
  h.update(execFileSync(cross.compilerVersion[0], cross.compilerVersion[1], { encoding: 'utf8' }));
  return h.digest('hex').slice(0, 16);
}

/** The stripped set in a folder of its own: built (and cached, for a cross build) or taken from the cache. */
function builtSet() {
  if (!cross) {
    // Built first, so a failed build leaves the previous prebuilds in place.
    const release = cmakeBuild({ outDir: path.join('build', 'cmake') });
    return { from: release, files: addonFiles(release), stripIt: true };
  }
  if (cross.script) {
    // The script builds (or takes from its cache by source hash) the stripped set into `out`.
    const out = path.join(root, 'build', `cross-${tag}`, 'set');
    execFileSync(process.execPath, [path.join(root, cross.script), '--out', out], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    return { from: out, files: fs.readdirSync(out).filter((f) => /\.(node|dll)$/.test(f)).sort(), stripIt: false };
  }
  const cacheRoot = process.env.MINIMONKEY_BUILD_CACHE
    ? path.resolve(process.env.MINIMONKEY_BUILD_CACHE)
    : path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'minimonkey', 'prebuilds');
  const cached = path.join(cacheRoot, `${tag}-${sourceHash()}`);
  if (fs.existsSync(path.join(cached, 'minimonkey.node'))) {
    process.stderr.write(`[prebuild] ${tag}: the set built from these sources, from the cache ${cached}\n`);
    return { from: cached, files: addonFiles(cached), stripIt: false };
  }
  const started = Date.now();
  const release = cmakeBuild({
    outDir: path.join('build', `cross-${tag}`),
    defines: { CMAKE_TOOLCHAIN_FILE: path.join(root, cross.toolchain) },
  });
  const files = addonFiles(release);
  const tmp = `${cached}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const f of files) {
    fs.copyFileSync(path.join(release, f), path.join(tmp, f));
    strip(path.join(tmp, f));
  }
  fs.rmSync(cached, { recursive: true, force: true });
  fs.renameSync(tmp, cached);
  process.stderr.write(`[prebuild] ${tag}: cross-built in ${Math.round((Date.now() - started) / 1000)} s, cached in ${cached}\n`);
  return { from: cached, files, stripIt: false };
}

let set;
try {
  set = builtSet();
} catch (e) {
  if (cross) process.stderr.write(`[prebuild] the ${tag} cross build failed; it needs ${cross.needs}\n`);
  throw e;
}

// Written to a new folder that replaces the old one whole.
const next = `${dir}.new`;
fs.rmSync(next, { recursive: true, force: true });
fs.mkdirSync(next, { recursive: true });
let total = 0;
for (const file of set.files) {
  const dest = path.join(next, file);
  fs.copyFileSync(path.join(set.from, file), dest);
  if (set.stripIt) strip(dest);
  total += fs.statSync(dest).size;
}
const [platform, arch, libc] = tag.split('-');
const pkg = {
  name: packageName,
  version: main.version,
  description: `minimonkey ${main.version}'s native addon for ${tag}: the addon, ggml, libllama and every CPU variant ggml defines for ${arch}`,
  license: main.license,
  ...(main.repository ? { repository: main.repository } : {}),
  os: [platform],
  cpu: [arch],
  ...(platform === 'linux' ? { libc: [libc === 'musl' ? 'musl' : 'glibc'] } : {}),
  files: set.files,
  // Yarn PnP: native files must be on disk, not in a zip.
  preferUnplugged: true,
};
fs.writeFileSync(path.join(next, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
fs.rmSync(dir, { recursive: true, force: true });
fs.renameSync(next, dir);
process.stderr.write(`[prebuild] ${path.relative(root, dir) || dir}: ${pkg.name}@${pkg.version}, ${set.files.length} files, ${(total / 1e6).toFixed(1)} MB\n`);
