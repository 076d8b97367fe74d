#!/usr/bin/env node
// Builds the native tools (test harnesses, llama.cpp bench anchors) into build/tools/bin with plain
// cmake from the same CMakeLists.txt and pinned source, the way llama.cpp ships: every CPU variant as
// a module beside the tools, the best one for this CPU chosen by ggml at run time.
import path from 'node:path';
import { fetchLlama, jobs, run } from './cmake-build.mjs';

const targets = process.argv.slice(2);
fetchLlama();
const dir = path.join('build', 'tools');
run('cmake', ['-S', '.', '-B', dir, '-DMINIMONKEY_TOOLS=ON', '-DMINIMONKEY_ADDON=OFF', '-DCMAKE_BUILD_TYPE=Release',
  '--log-level=WARNING']);
// The CPU variants are modules no tool links, so they are built as targets of their own.
run('cmake', ['--build', dir, '--parallel', jobs, ...(targets.length ? ['--target', ...targets, 'ggml'] : [])]);
