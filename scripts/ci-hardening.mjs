#!/usr/bin/env node
// CI's hardening step (`npm run test:hardening`; docs/HARDENING.md):
//   1. the sanitized addon (ASan + UBSan, build-asan/) and the native-heavy jest suites on it;
//   2. the libFuzzer harnesses (clang, build-fuzz/), seeded with tiny GGUFs our synthesizer writes
//      now (no binary is committed), first replaying test/fuzz-regressions/, then fuzzing each for
//      MINIMONKEY_FUZZ_SECONDS (default 60);
//   3. the TypeScript fuzz targets (test/fuzz/*.fuzz.mjs, fast-check), the same budget each.
// Prints executions per harness and wall times; exits non-zero on any finding. Crash inputs are
// left in build-fuzz/findings/<harness>/.
// Options: --skip-sanitized, --skip-native-fuzz, --skip-js-fuzz.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { jobs, staticCpuLevel, root, run } from './cmake-build.mjs';
import { buildSanitized } from './build-sanitized.mjs';
import { testSanitized } from './test-sanitized.mjs';

const seconds = Number(process.env.MINIMONKEY_FUZZ_SECONDS || 60);
const skip = new Set(process.argv.slice(2).filter((a) => a.startsWith('--skip-')).map((a) => a.slice(7)));
const fuzzDir = path.join(root, 'build-fuzz');
const results = [];
const t0 = Date.now();
const since = (t) => `${((Date.now() - t) / 1000).toFixed(0)} s`;
const log = (msg) => process.stderr.write(`[hardening] ${msg}\n`);

function step(name, fn) {
  const t = Date.now();
  let ok = false;
  let detail = '';
  try {
    const r = fn();
    ok = r === undefined ? true : r.ok;
    detail = r?.detail ?? '';
  } catch (e) {
    detail = e.message.split('\n')[0];
  }
  results.push({ name, ok, detail, time: since(t) });
  log(`${ok ? 'ok    ' : 'FAILED'} ${name} (${since(t)}) ${detail}`);
  return ok;
}

const HARNESSES = [
  { name: 'fuzz_text_model', seeds: 'text' },
  { name: 'fuzz_vision_model', seeds: 'vision' },
];

function buildFuzzers() {
  const cc = process.env.MINIMONKEY_FUZZ_CC || 'clang';
  const cxx = process.env.MINIMONKEY_FUZZ_CXX || 'clang++';
  const cpu = staticCpuLevel();
  const gen = spawnSync('ninja', ['--version']).status === 0 ? ['-G', 'Ninja'] : [];
  run('cmake', ['-S', root, '-B', fuzzDir, ...gen, '-DCMAKE_BUILD_TYPE=Release', `-DCMAKE_C_COMPILER=${cc}`, `-DCMAKE_CXX_COMPILER=${cxx}`,
    '-DMINIMONKEY_ADDON=OFF', '-DMINIMONKEY_FUZZ=ON', ...(cpu ? [`-DMINIMONKEY_CPU=${cpu}`] : []), '--log-level=WARNING']);
  run('cmake', ['--build', fuzzDir, '--parallel', jobs, '--target', ...HARNESSES.map((h) => h.name)]);
}

/** Tiny GGUFs by our own synthesizer, in several weight types: the seed corpora. */
function makeSeeds() {
  const cli = path.join(root, 'dist', 'lib', 'cli', 'main.js');
  const seedDir = (kind) => path.join(fuzzDir, 'seeds', kind);
  for (const kind of ['text', 'vision']) fs.rmSync(seedDir(kind), { recursive: true, force: true });
  const tmp = path.join(fuzzDir, 'seeds', 'tmp');
  const pairs = [['q4_0', 'q4_0'], ['q8_0', 'q8_0'], ['f16', 'f16'], ['q4_0', 'f32']];
  pairs.forEach(([text, vision], i) => {
    fs.rmSync(tmp, { recursive: true, force: true });
    execFileSync(process.execPath, [cli, 'synth', '--shape', 'tiny', '--out', tmp, '--seed', String(i), '--text-type', text, '--vision-type', vision], { stdio: 'ignore' });
    for (const f of fs.readdirSync(tmp)) {
      const kind = f.startsWith('mmproj') ? 'vision' : 'text';
      fs.mkdirSync(seedDir(kind), { recursive: true });
      fs.renameSync(path.join(tmp, f), path.join(seedDir(kind), `${i}-${f}`));
    }
  });
  fs.rmSync(tmp, { recursive: true, force: true });
}

const fuzzEnv = () => ({
  ...process.env,
  GGML_NO_BACKTRACE: '1',
  ASAN_OPTIONS: `detect_leaks=1:allocator_may_return_null=1:${process.env.ASAN_OPTIONS ?? ''}`,
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  LSAN_OPTIONS: `suppressions=${path.join(root, 'native', 'fuzz', 'lsan-fuzz.supp')}:print_suppressions=0`,
});

/** Replays the committed reproducers: each one a crash found earlier that must stay fixed. */
function replay(h) {
  const dir = path.join(root, 'test', 'fuzz-regressions', h.seeds);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => !f.endsWith('.md')).map((f) => path.join(dir, f)) : [];
  if (files.length === 0) return { ok: true, detail: 'no reproducers' };
  const r = spawnSync(path.join(fuzzDir, h.name), ['-runs=1', ...files], { env: fuzzEnv(), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) process.stdout.write(r.stderr.slice(-20000));
  return { ok: r.status === 0, detail: `${files.length} reproducers` };
}

function fuzz(h) {
  const corpus = path.join(fuzzDir, 'corpus', h.seeds);
  const findings = path.join(fuzzDir, 'findings', h.name);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(findings, { recursive: true });
  const seedDir = path.join(fuzzDir, 'seeds', h.seeds);
  const maxLen = Math.max(...fs.readdirSync(seedDir).map((f) => fs.statSync(path.join(seedDir, f)).size));
  const args = [corpus, seedDir, `-max_total_time=${seconds}`, '-timeout=30', '-rss_limit_mb=4096', `-max_len=${maxLen}`,
    `-dict=${path.join(root, 'native', 'fuzz', 'gguf.dict')}`, `-artifact_prefix=${findings}/`, '-print_final_stats=1', '-reduce_inputs=1'];
  log(`${h.name} ${args.join(' ')}`);
  const r = spawnSync(path.join(fuzzDir, h.name), args, { env: fuzzEnv(), encoding: 'utf8', maxBuffer: 1 << 28, timeout: (seconds + 120) * 1000 });
  const out = `${r.stdout}${r.stderr}`;
  const execs = /stat::number_of_executed_units:\s*(\d+)/.exec(out)?.[1] ?? '?';
  const rate = /stat::average_exec_per_sec:\s*(\d+)/.exec(out)?.[1] ?? '?';
  const cov = [...out.matchAll(/cov: (\d+) ft: (\d+)/g)].pop();
  if (r.status !== 0) {
    // The report: the sanitizer's or libFuzzer's, with the stack and the saved input.
    const at = out.search(/==\d+==ERROR|==\d+== ERROR|runtime error:|==minimonkey-fuzz==|GGML_ASSERT|ERROR: libFuzzer/);
    process.stdout.write(out.slice(Math.max(0, at - 2000), at + 12000));
  }
  const crashes = fs.readdirSync(findings);
  return { ok: r.status === 0, detail: `${execs} executions (${rate}/s, cov ${cov?.[1] ?? '?'})${crashes.length ? `, inputs in ${path.relative(root, findings)}` : ''}` };
}

function jsFuzz(file) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=2048', path.join(root, 'test', 'fuzz', file)], {
    env: { ...process.env, MINIMONKEY_FUZZ_SECONDS: String(seconds) }, encoding: 'utf8', timeout: (seconds + 120) * 1000, maxBuffer: 1 << 28,
  });
  process.stdout.write(`${r.stdout}${r.stderr}`);
  const execs = /executions: (\d+)/.exec(r.stdout)?.[1] ?? '?';
  return { ok: r.status === 0, detail: `${execs} executions${r.signal ? ` (killed: ${r.signal}, a hang?)` : ''}` };
}

step('compile TypeScript (dist/)', () => run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')]));
if (!skip.has('sanitized')) {
  if (step('build the sanitized addon', () => void buildSanitized())) step('jest suites on the sanitized addon', () => ({ ok: testSanitized() }));
}
if (!skip.has('native-fuzz')) {
  if (step('build the libFuzzer harnesses', buildFuzzers) && step('seed corpora (minimonkey synth --shape tiny)', makeSeeds)) {
    for (const h of HARNESSES) {
      step(`${h.name}: replay test/fuzz-regressions/${h.seeds}`, () => replay(h));
      step(`${h.name}: fuzz ${seconds} s`, () => fuzz(h));
    }
  }
}
if (!skip.has('js-fuzz')) {
  for (const f of ['tokenizer-readers.fuzz.mjs', 'prompt.fuzz.mjs']) step(`${f}: fuzz ${seconds} s`, () => jsFuzz(f));
}

log(`summary (${since(t0)} in all):`);
for (const r of results) log(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.name.padEnd(52)} ${r.time.padStart(6)}  ${r.detail}`);
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
