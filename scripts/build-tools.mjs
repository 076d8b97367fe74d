#!/usr/bin/env node
// Builds the native tools (test harnesses, llama.cpp bench anchors) into build/tools with plain
// cmake from the same CMakeLists.txt and pinned source as the addon.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CCACHE_BASEDIR: root } });
const jobs = String(process.env.MINIMONKEY_JOBS || Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
const targets = process.argv.slice(2);

run(process.execPath, [path.join(root, 'scripts', 'fetch-llama.mjs')]);
const dir = path.join('build', 'tools');
run('cmake', ['-S', '.', '-B', dir, '-DMINIMONKEY_TOOLS=ON', '-DMINIMONKEY_ADDON=OFF', '-DCMAKE_BUILD_TYPE=Release', '--log-level=WARNING']);
run('cmake', ['--build', dir, '--parallel', jobs, ...(targets.length ? ['--target', ...targets] : [])]);
