// npm run bench:llm — prefill and decode tokens/s of our chat path on the full-size synthetic
// InternLM2 text model, beside llama-bench built from the same pinned source, same file, same
// threads, printed as ratios.
//   node dist/bench/llm.js [--types q4_0,q8_0] [--threads N] [--prompt 512] [--gen 32] [--reps 2] [--shape tiny]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../lib/native';
import { schemaToGrammar } from '../lib/llm/json-schema';
import { TextModel } from '../lib/llm/text-model';
import type { NativeLlmContext } from '../lib/native';
import { defaultThreads } from '../lib/vision/encoder';
import { argValue, benchFile, machineLine, table, tool } from './common';

function promptTokens(n: number, vocab: number): Int32Array {
  const t = new Int32Array(n);
  let s = 777;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    t[i] = 300 + (s % (vocab - 400));
  }
  return t;
}

/**
 * Grammars a structured answer decodes under: a JSON string (the cheap pick is nearly always
 * accepted, so the grammar costs one token's check) and a run of hex digits (a random model's pick
 * is nearly always rejected, so every token pays the full-vocabulary pass: the worst case).
 */
function grammars(gen: number): { name: string; grammar?: string }[] {
  return [
    { name: 'none' },
    { name: 'JSON string', grammar: schemaToGrammar({ type: 'string' }) },
    { name: 'hex digits (worst case)', grammar: `root ::= [0-9a-f]{${gen}}` },
  ];
}

/** Ours: what an ask costs — a prefill of `prompt` tokens, then `gen` greedy steps (sample + decode, JS round trip included). */
async function ours(file: string, threads: number, prompt: number, gen: number, reps: number) {
  const model = await TextModel.load(file);
  const ctx = await model.createContext({ contextSize: prompt + gen + 64, batchSize: 512, threads });
  const tokens = promptTokens(prompt, model.info.vocabSize);
  let pp = 0;
  let tg = 0;
  const constrained = await decodeWith(ctx, tokens, gen, reps);
  for (let r = 0; r <= reps; r++) {
    ctx.truncate(0);
    ctx.setSampling({});
    const t0 = performance.now();
    await ctx.prefill([tokens]);
    const tp = performance.now() - t0;
    const { n, ms: tt } = await decodeGreedy(ctx, gen);
    if (r === 0) continue; // warm-up
    pp += prompt / (tp / 1000);
    tg += n / (tt / 1000);
  }
  ctx.dispose();
  model.dispose();
  return { pp: pp / reps, tg: tg / reps, constrained };
}

/** Up to `gen` decode steps (fewer if the reply ends): how many, and the milliseconds they took. */
async function decodeGreedy(ctx: NativeLlmContext, gen: number): Promise<{ n: number; ms: number }> {
  const t0 = performance.now();
  let n = 0;
  while (n < gen) {
    const s = await ctx.step();
    if (s.eog) break;
    n++;
  }
  return { n, ms: performance.now() - t0 };
}

/**
 * Greedy decode tokens/s under each grammar (none included), and the share of tokens that needed the
 * full pass. The variants take turns within each repetition, so a machine's drift hits all alike.
 */
async function decodeWith(ctx: NativeLlmContext, tokens: Int32Array, gen: number, reps: number) {
  const variants = grammars(gen).map((g) => ({ ...g, tg: 0, passes: 0 }));
  for (let r = 0; r <= reps; r++) {
    for (const v of variants) {
      ctx.truncate(0);
      await ctx.prefill([tokens]);
      ctx.setSampling(v.grammar !== undefined ? { grammar: v.grammar } : {});
      const { n, ms: tt } = await decodeGreedy(ctx, gen);
      if (r === 0) continue;
      v.tg += n / (tt / 1000) / reps;
      v.passes += ctx.grammarPasses() / Math.max(1, n) / reps;
    }
  }
  ctx.setSampling({});
  return variants;
}

// Prefill from an empty cache; decode at the depth ours decodes at (right after the prompt), so
// both sides attend over the same number of cached positions.
function llamaBench(file: string, threads: number, prompt: number, gen: number, reps: number) {
  const run = (args: string[]) => {
    const out = execFileSync(tool('llama-bench'), ['-m', file, '-t', String(threads), '-r', String(reps), '-b', '512', '-ub', '512', '-o', 'json', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 << 20,
    });
    return (JSON.parse(out) as { avg_ts: number }[])[0].avg_ts;
  };
  return { pp: run(['-p', String(prompt), '-n', '0']), tg: run(['-p', '0', '-n', String(gen), '-d', String(prompt)]) };
}

/** node-llama-cpp 3.22.1 (npm, its own prebuilt binaries) on the same file, threads and tokens: prefill and decode t/s. */
function nodeLlamaCpp(file: string, threads: number, prompt: number, gen: number, reps: number, vocab: number) {
  const dir = execFileSync(process.execPath, [path.join(packageRoot, 'scripts', 'node-llama-cpp-anchor.mjs')], { encoding: 'utf8' }).trim();
  const out = execFileSync(process.execPath, [path.join(packageRoot, 'bench', 'node-llama-cpp-llm.mjs'), dir, file, String(threads), String(prompt), String(gen), String(reps), String(vocab)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as { pp: number; tg: number };
}

async function main(): Promise<void> {
  const types = argValue('types', 'q4_0,q8_0').split(',');
  const threads = Number(argValue('threads', String(defaultThreads())));
  const prompt = Number(argValue('prompt', '512'));
  const gen = Number(argValue('gen', '32'));
  const reps = Number(argValue('reps', '2'));
  const rows = [['text model', 'threads', 'prefill t/s ours', 'llama-bench', 'ratio', 'decode t/s ours', 'llama-bench', 'ratio']];
  const nlcRows = [['text model', 'threads', 'prefill t/s ours', 'node-llama-cpp', 'ratio', 'decode t/s ours', 'node-llama-cpp', 'ratio']];
  const grammarRows = [['text model', 'grammar', 'decode t/s', 'vs none', 'full passes']];
  for (const type of types) {
    const file = await benchFile('text', type);
    const a = await ours(file, threads, prompt, gen, reps);
    const b = llamaBench(file, threads, prompt, gen, reps);
    rows.push([type, String(threads), a.pp.toFixed(1), b.pp.toFixed(1), `${(a.pp / b.pp).toFixed(2)}x`, a.tg.toFixed(2), b.tg.toFixed(2), `${(a.tg / b.tg).toFixed(2)}x`]);
    const model = await TextModel.load(file);
    const vocab = model.info.vocabSize;
    model.dispose();
    const c = nodeLlamaCpp(file, threads, prompt, gen, reps, vocab);
    nlcRows.push([type, String(threads), a.pp.toFixed(1), c.pp.toFixed(1), `${(a.pp / c.pp).toFixed(2)}x`, a.tg.toFixed(2), c.tg.toFixed(2), `${(a.tg / c.tg).toFixed(2)}x`]);
    process.stderr.write(`${type}: prefill ${a.pp.toFixed(1)} vs ${b.pp.toFixed(1)} t/s, decode ${a.tg.toFixed(2)} vs ${b.tg.toFixed(2)} t/s\n`);
    const none = a.constrained[0].tg;
    for (const c of a.constrained) {
      grammarRows.push([type, c.name, c.tg.toFixed(2), `${(c.tg / none).toFixed(2)}x`, c.grammar === undefined ? '-' : `${(100 * c.passes).toFixed(0)}%`]);
    }
  }
  process.stdout.write(`${machineLine('the best-scoring variant (ggml_backend_load_all)')}${table(rows)}\n(ratio = ours / llama-bench; ${prompt}-token prefill, ${gen}-token decode)\n\n`);
  process.stdout.write(`${table(nlcRows)}\n(ratio = ours / node-llama-cpp 3.22.1 with its own prebuilt binaries, same file and tokens)\n\n`);
  process.stdout.write(`${table(grammarRows)}\n(decode with a grammar, greedy; full passes = tokens whose cheap pick the grammar rejected)\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
