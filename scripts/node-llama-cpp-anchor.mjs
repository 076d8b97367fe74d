#!/usr/bin/env node
// Installs node-llama-cpp 3.22.1 with its own prebuilt CPU binaries for this platform into a
// folder of its own (default test/.cache/node-llama-cpp-3.22.1), once, and prints the folder.
// The same-process test (test/coexist.test.ts) and bench:llm's anchor use it. Not a dev dependency:
// that would pull its CUDA and Vulkan binaries (hundreds of MB) into every install of this repo.
//   node scripts/node-llama-cpp-anchor.mjs [DIR]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root } from './cmake-build.mjs';

export const VERSION = '3.22.1';

export function ensureNodeLlamaCpp(dir = path.join(root, 'test', '.cache', `node-llama-cpp-${VERSION}`)) {
  const platformPackage = `@node-llama-cpp/${process.platform}-${process.arch}`;
  if (fs.existsSync(path.join(dir, 'node_modules', platformPackage, 'package.json'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'node-llama-cpp-anchor', private: true }));
  // --omit=optional: only this platform's CPU build, named explicitly; --ignore-scripts: it must
  // use its prebuilt binaries, never build or download anything else.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', '--ignore-scripts',
    `node-llama-cpp@${VERSION}`, `${platformPackage}@${VERSION}`], {
    cwd: dir,
    stdio: 'ignore',
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))),
  });
  return dir;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${ensureNodeLlamaCpp(process.argv[2])}\n`);
