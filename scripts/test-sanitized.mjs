#!/usr/bin/env node
// Runs the native-heavy jest suites against the sanitized addon (scripts/build-sanitized.mjs).
//   node scripts/test-sanitized.mjs [suite ...]     (default: SUITES below; a suite is test/<name>.test.ts)
// node is not built with ASan, so the runtime of the compiler that built the addon is LD_PRELOADed;
// MINIMONKEY_ADDON_PATH (lib/addon-loader.ts, tried first) points the loader at build-asan/.
// A sanitizer report anywhere in the output fails the run even if jest passed (a report from a
// worker thread or a child process does not always fail a test).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.join(root, 'build-asan', 'Release', 'minimonkey.node');
const supp = (name) => path.join(root, 'native', 'fuzz', name);

/** The suites that drive the addon hardest: bad files, chat, SCM, the vision tower, worker threads, KV states of hostile bytes, the one engine. */
export const SUITES = ['vision-errors', 'text-model-errors', 'chat', 'scm', 'vision-parity', 'worker-thread', 'sequence-state', 'engine'];

/** Native tools chat/scm compare against: built first, without the preload, so no compiler runs under ASan. */
const TOOLS = ['mm-llm-reference', 'mm-layer-capture'];

/** The ASan runtime matching the compiler recorded in build-asan's CMake cache. */
export function asanRuntime() {
  const cache = fs.readFileSync(path.join(root, 'build-asan', 'CMakeCache.txt'), 'utf8');
  const cxx = /^CMAKE_CXX_COMPILER:\w+=(.*)$/m.exec(cache)?.[1];
  const id = /^CMAKE_CXX_COMPILER_ID:\w+=(.*)$/m.exec(cache)?.[1] ?? '';
  const isClang = /clang/i.test(cxx ?? '') || /clang/i.test(id);
  const name = isClang ? 'libclang_rt.asan-x86_64.so' : 'libasan.so';
  const file = execFileSync(cxx || 'g++', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
  if (!path.isAbsolute(file) || !fs.existsSync(file)) throw new Error(`test-sanitized: cannot find ${name} (asked ${cxx})`);
  return fs.realpathSync(file);
}

/** The environment a sanitized run needs (also used by ci-hardening.mjs). */
export function sanitizerEnv() {
  return {
    LD_PRELOAD: asanRuntime(),
    MINIMONKEY_ADDON_PATH: addon,
    // Leaks are reported (node is leak-clean at exit); native/fuzz/lsan-node.supp only silences the
    // uninstrumented child programs (python3, g++) that inherit the preload.
    ASAN_OPTIONS: [
      'halt_on_error=1', 'abort_on_error=0', 'exitcode=66', 'detect_leaks=1', 'strict_init_order=1',
      'detect_stack_use_after_return=0', 'allocator_may_return_null=1', 'handle_segv=1', 'allow_user_segv_handler=1',
      'print_summary=1', 'symbolize=1',
    ].join(':'),
    // UBSan is built without recovery (-fno-sanitize-recover): every report is fatal and none can
    // be suppressed at run time; a tolerated ggml check would be left out at compile time instead.
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1:exitcode=67',
    LSAN_OPTIONS: `suppressions=${supp('lsan-node.supp')}:print_suppressions=0`,
    GGML_NO_BACKTRACE: '1',
  };
}

const REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |SUMMARY: UndefinedBehaviorSanitizer/;

export function testSanitized(suites = SUITES) {
  if (!fs.existsSync(addon)) throw new Error(`test-sanitized: ${addon} is missing; run node scripts/build-sanitized.mjs`);
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-tools.mjs'), ...TOOLS], { cwd: root, stdio: 'inherit' });
  const env = { ...process.env, ...sanitizerEnv() };
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
  const files = suites.map((s) => path.join('test', `${s}.test.ts`));
  process.stderr.write(`[test-sanitized] ${files.join(' ')}\n  with LD_PRELOAD=${env.LD_PRELOAD}\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [jest, '--ci', '--runInBand', ...files], { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const out = `${r.stdout}${r.stderr}`;
  process.stdout.write(out);
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);
  const reported = REPORT.test(out);
  const ok = r.status === 0 && !reported;
  process.stderr.write(`[test-sanitized] ${ok ? 'clean' : 'FAILED'} in ${seconds} s (jest exit ${r.status ?? r.signal}${reported ? ', sanitizer report above' : ''})\n`);
  return ok;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = testSanitized(process.argv.length > 2 ? process.argv.slice(2) : SUITES) ? 0 : 1;
