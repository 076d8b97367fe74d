#!/usr/bin/env node
// `node scripts/cross/win32-x64.mjs [--out DIR]`: the win32-x64 prebuilt set, cross-compiled on Linux
// with MinGW-w64 (cmake/toolchains/win32-x64-mingw.cmake) through cmake-js: minimonkey.node, ggml's
// and libllama's DLLs under the same private names as on Linux (mm-ggml-base.dll, mm-ggml.dll,
// mm-llama.dll) and one ggml-cpu-<variant>.dll per x86 variant ggml defines, stripped, into DIR
// (default build/win32-x64/Release). Each binary is checked to import only Windows' own DLLs and
// ours (MinGW's runtime is linked in). The finished set is cached by a hash of everything it is
// built from under ~/.cache/minimonkey/prebuilds/, so CI rebuilds it only when a source changes.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { addonFiles, cmakeBuild, root } from '../cmake-build.mjs';

const TRIPLE = 'x86_64-w64-mingw32';
const toolchain = path.join(root, 'cmake', 'toolchains', 'win32-x64-mingw.cmake');
const require = createRequire(import.meta.url);

const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, 'build', 'win32-x64', 'Release');

function fail(msg) {
  process.stderr.write(`[win32-x64] ${msg}\n`);
  process.exit(1);
}

function tool(name, args) {
  return execFileSync(`${TRIPLE}-${name}`, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}

let compiler;
try {
  compiler = tool('g++-posix', ['--version']).split('\n')[0];
} catch {
  fail(`${TRIPLE}-g++-posix is missing: apt-get install g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix ` +
    'binutils-mingw-w64-x86-64 (scripts/setup-system.sh does)');
}

// Everything the set is built from: our build definition and native sources, the llama.cpp pin,
// the Node-API headers and .def files, the compiler, and this script.
function sourceHash() {
  const h = createHash('sha256');
  const add = (file) => {
    h.update(path.relative(root, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  };
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) add(p);
    }
  };
  for (const f of ['CMakeLists.txt', 'package.json', 'scripts/cmake-build.mjs', 'scripts/fetch-llama.mjs', 'scripts/cross/win32-x64.mjs']) add(path.join(root, f));
  for (const d of ['cmake', 'native/core', 'native/addon', 'native/grammar', 'native/ggml-fixes', 'native/win32']) walk(path.join(root, d));
  const headers = path.dirname(require.resolve('node-api-headers/package.json'));
  add(path.join(headers, 'package.json'));
  walk(path.join(headers, 'def'));
  h.update(compiler);
  return h.digest('hex').slice(0, 16);
}

// Windows' own DLLs a binary of the set may import; anything else but our own is a DLL the user lacks.
const SYSTEM_DLLS = new Set(['kernel32.dll', 'msvcrt.dll', 'advapi32.dll', 'user32.dll', 'bcrypt.dll', 'ole32.dll', 'shell32.dll', 'ws2_32.dll']);
const OWN_DLL = /^(mm-[a-z-]+|ggml-[a-z0-9_-]+)\.dll$/;

/** The DLLs a PE file imports, lower-cased. */
function importedDlls(file) {
  return [...tool('objdump', ['-p', file]).matchAll(/DLL Name: (\S+)/g)].map((m) => m[1].toLowerCase());
}

function checkImports(dir, files) {
  for (const f of files) {
    const bad = importedDlls(path.join(dir, f)).filter((d) => !SYSTEM_DLLS.has(d) && !(OWN_DLL.test(d) && files.includes(d)));
    if (bad.length) fail(`${f} imports ${bad.join(', ')}, which a Windows machine may lack`);
  }
}

function copySet(from, to, files) {
  const next = `${to}.new`;
  fs.rmSync(next, { recursive: true, force: true });
  fs.mkdirSync(next, { recursive: true });
  for (const f of files) fs.copyFileSync(path.join(from, f), path.join(next, f));
  fs.rmSync(to, { recursive: true, force: true });
  fs.renameSync(next, to);
}

const started = Date.now();
const hash = sourceHash();
const cacheRoot = path.join(process.env.MINIMONKEY_CACHE_DIR || path.join(os.homedir(), '.cache', 'minimonkey'), 'prebuilds');
const cached = path.join(cacheRoot, `win32-x64-${hash}`);
const manifestOf = (dir) => {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'set.json'), 'utf8'));
    return m.files.every((f) => fs.existsSync(path.join(dir, f))) ? m : undefined;
  } catch {
    return undefined;
  }
};

let manifest = manifestOf(cached);
const hit = Boolean(manifest);
if (!manifest) {
  const bin = cmakeBuild({ outDir: path.join('build', 'win32-x64', 'cmake'), defines: { CMAKE_TOOLCHAIN_FILE: toolchain } });
  const files = addonFiles(bin).filter((f) => f === 'minimonkey.node' || f.endsWith('.dll'));
  const variants = files.filter((f) => /^ggml-cpu-.+\.dll$/.test(f));
  for (const need of ['minimonkey.node', 'mm-ggml-base.dll', 'mm-ggml.dll', 'mm-llama.dll']) {
    if (!files.includes(need)) fail(`${need} was not built in ${bin}`);
  }
  if (variants.length === 0) fail(`no ggml-cpu-<variant>.dll in ${bin}`);
  const staging = `${cached}.tmp-${process.pid}`;
  copySet(bin, staging, files);
  for (const f of files) tool('strip', ['--strip-unneeded', path.join(staging, f)]);
  checkImports(staging, files);
  manifest = { platform: 'win32', arch: 'x64', hash, compiler, files, variants: variants.map((f) => f.slice('ggml-cpu-'.length, -'.dll'.length)) };
  fs.writeFileSync(path.join(staging, 'set.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.rmSync(cached, { recursive: true, force: true });
  fs.renameSync(staging, cached);
}
copySet(cached, out, [...manifest.files, 'set.json']);
const bytes = manifest.files.reduce((n, f) => n + fs.statSync(path.join(out, f)).size, 0);
process.stderr.write(`[win32-x64] ${path.relative(root, out) || out}: ${manifest.files.length} files ` +
  `(${manifest.variants.length} CPU variants), ${(bytes / 1e6).toFixed(1)} MB, ${hit ? 'from the cache' : 'built'} ` +
  `(${hash}) in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
