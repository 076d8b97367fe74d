#!/usr/bin/env node
// Builds the native tools (test harnesses, llama.cpp bench anchors) into build/tools with plain
// cmake from the same CMakeLists.txt, pinned source and x86-64 level as the addon.
import path from 'node:path';
import { fetchLlama, jobs, machineCpuLevel, run } from './cmake-build.mjs';

const targets = process.argv.slice(2);
const cpu = machineCpuLevel();

fetchLlama();
const dir = path.join('build', 'tools');
run('cmake', ['-S', '.', '-B', dir, '-DMINIMONKEY_TOOLS=ON', '-DMINIMONKEY_ADDON=OFF', '-DCMAKE_BUILD_TYPE=Release',
  ...(cpu ? [`-DMINIMONKEY_CPU=${cpu}`] : []), '--log-level=WARNING']);
run('cmake', ['--build', dir, '--parallel', jobs, ...(targets.length ? ['--target', ...targets] : [])]);
