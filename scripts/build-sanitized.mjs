#!/usr/bin/env node
// The sanitized addon: ASan + UBSan on our code and on ggml/libllama (CMake MINIMONKEY_SANITIZE=ON),
// built with cmake-js into build-asan/ (never build/, which holds the normal addon).
//   node scripts/build-sanitized.mjs   -> build-asan/Release/minimonkey.node
// Compiler: CC/CXX if set, else cmake's default (g++ here: its libasan is what
// scripts/test-sanitized.mjs preloads; with clang it preloads clang's runtime instead).
// node is not instrumented, so the addon only loads with the ASan runtime LD_PRELOADed: use
// scripts/test-sanitized.mjs, which also points the loader at it (MINIMONKEY_ADDON_PATH).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fetchLlama, jobs, root, run, staticCpuLevel } from './cmake-build.mjs';

const require = createRequire(import.meta.url);
export const outDir = 'build-asan';
export const addonPath = path.join(root, outDir, 'Release', 'minimonkey.node');

export function buildSanitized() {
  fetchLlama();
  // A static build (MINIMONKEY_BACKEND_DL is OFF with the sanitizers): one instrumented image.
  const cpu = staticCpuLevel();
  const args = [require.resolve('cmake-js/bin/cmake-js'), 'build', '--out', outDir, '--parallel', jobs,
    '--log-level', 'warn', '--CDMINIMONKEY_SANITIZE=ON'];
  if (cpu) args.push(`--CDMINIMONKEY_CPU=${cpu}`);
  if (process.env.CC) args.push('--CDCMAKE_C_COMPILER=' + process.env.CC);
  if (process.env.CXX) args.push('--CDCMAKE_CXX_COMPILER=' + process.env.CXX);
  process.stderr.write(`[build-sanitized] ${outDir} (ASan + UBSan${cpu ? `, ${cpu}` : ''}, ${jobs} jobs)\n`);
  const t0 = Date.now();
  run(process.execPath, args);
  if (!fs.existsSync(addonPath)) throw new Error(`build-sanitized: ${addonPath} was not built`);
  process.stderr.write(`[build-sanitized] ${path.relative(root, addonPath)} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return addonPath;
}

if (import.meta.url === `file://${process.argv[1]}`) buildSanitized();
