// npm run bench:llm — prefill and decode tokens/s of our chat path on the full-size synthetic
// InternLM2 text model, beside llama-bench built from the same pinned source, same file, same
// threads, printed as ratios. Then several conversations on one shared context (load option
// `parallel`): aggregate decode tokens/s of 1, 2 and 4 sessions generating together, and the time
// to first token of a short question while another session prefills an image.
//   node dist/bench/llm.js [--types q4_0,q8_0] [--threads N] [--prompt 512] [--gen 32] [--reps 2] [--shape tiny]
//                          [--sessions 1,2,4] [--image 1536] [--only sequences]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../lib/native';
import { schemaToGrammar } from '../lib/llm/json-schema';
import { TextModel } from '../lib/llm/text-model';
import { SequenceBatcher } from '../lib/llm/sequence-batcher';
import { LlmSequence, Sequence } from '../lib/llm/sequence';
import { defaultThreads } from '../lib/threads';
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
async function decodeGreedy(ctx: LlmSequence, gen: number): Promise<{ n: number; ms: number }> {
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
async function decodeWith(ctx: LlmSequence, tokens: Int32Array, gen: number, reps: number) {
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

/** Rows of image-like embeddings (deterministic, small values), as the vision tower would give. */
function imageRows(n: number, width: number): Float32Array {
  const out = new Float32Array(n * width);
  let s = 4242;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.1;
  }
  return out;
}

/**
 * Sessions on one shared context, driven as ChatSession drives them (Sequence: prefill, then
 * one step per token, each step batched with the others'). For each count: every session prefills
 * its own `prompt`-token question, then all decode `gen` tokens together; the figure is all their
 * tokens over the wall time of that decode. Then the time to first token of a 32-token question
 * alone, and while another session prefills `image` embedding rows (the question's prompt waits
 * for one chunk of the image's, not all of it; a model without `parallel` would run it after).
 */
async function sequences(file: string, threads: number, prompt: number, gen: number, counts: number[], image: number, reps: number) {
  const model = await TextModel.load(file);
  const short = 32;
  const size = Math.max(prompt, image + short) + gen + 64;
  const b = await SequenceBatcher.create(model, { contextSize: size, parallel: Math.max(2, ...counts), batchSize: 512, threads });
  const slots = Array.from({ length: b.parallel }, () => new Sequence(b, b.acquire()!, b.size));
  const question = (i: number, n: number) => promptTokens(n + i, model.info.vocabSize).subarray(i);
  const decode = async (slot: Sequence) => {
    let n = 0;
    while (n < gen) {
      if ((await slot.step()).eog) break;
      n++;
    }
    return n;
  };
  // Rounds of every count in turn, the best of each kept: on a shared machine the other load comes
  // and goes, and a round it hit says nothing about batching.
  const best = new Map<number, number>();
  const round = async (n: number) => {
    const used = slots.slice(0, n);
    for (const s of used) {
      s.truncate(0);
      s.setSampling({});
    }
    await Promise.all(used.map((s, i) => s.prefill([question(i, prompt)])));
    const t0 = performance.now();
    const tokens = (await Promise.all(used.map(decode))).reduce((a, c) => a + c, 0);
    return tokens / ((performance.now() - t0) / 1000);
  };
  await round(1); // warm-up
  for (let r = 0; r < reps; r++) {
    for (const n of counts) best.set(n, Math.max(best.get(n) ?? 0, await round(n)));
  }
  const rows = counts.map((n) => ({ sessions: n, tps: best.get(n)! }));
  const firstToken = async (slot: Sequence) => {
    slot.truncate(0);
    slot.setSampling({});
    const t0 = performance.now();
    await slot.prefill([question(7, short)]);
    await slot.step();
    return performance.now() - t0;
  };
  const [q, img] = slots;
  let alone = Infinity, busy = Infinity, imageMs = Infinity;
  for (let r = 0; r < reps; r++) {
    alone = Math.min(alone, await firstToken(q));
    img.truncate(0);
    const t0 = performance.now();
    // Image rows only, so the chunk on its way when the question comes is 512 image positions.
    const prefilling = img.prefill([imageRows(image, model.info.embeddingWidth)]);
    await new Promise((r) => setImmediate(r)); // its first chunk is on its way
    busy = Math.min(busy, await firstToken(q));
    await prefilling;
    imageMs = Math.min(imageMs, performance.now() - t0);
  }
  for (const s of slots) s.dispose();
  b.dispose();
  model.dispose();
  return { rows, ttft: { alone, busy, imageMs, image } };
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

/** The shared-context tables' rows for one text model. */
async function sequenceRows(type: string, file: string, threads: number, prompt: number, gen: number, reps: number, seqRows: string[][], ttftRows: string[][]) {
  const sessions = argValue('sessions', '1,2,4').split(',').map(Number);
  const image = Number(argValue('image', '1536'));
  const sq = await sequences(file, threads, prompt, gen, sessions, image, reps);
  const one = sq.rows.find((r) => r.sessions === 1)?.tps ?? sq.rows[0].tps;
  for (const r of sq.rows) seqRows.push([type, String(r.sessions), r.tps.toFixed(2), (r.tps / r.sessions).toFixed(2), `${(r.tps / one).toFixed(2)}x`]);
  const t = sq.ttft;
  ttftRows.push([type, `${t.alone.toFixed(0)} ms`, `${t.busy.toFixed(0)} ms`, `${t.image} positions, ${t.imageMs.toFixed(0)} ms`]);
  process.stderr.write(`${type}: ${sq.rows.map((r) => `${r.sessions} sessions ${r.tps.toFixed(2)} t/s`).join(', ')}; ` +
    `first token ${t.alone.toFixed(0)} ms alone, ${t.busy.toFixed(0)} ms beside an image prefill\n`);
}

async function main(): Promise<void> {
  const types = argValue('types', 'q4_0,q8_0').split(',');
  const threads = Number(argValue('threads', String(defaultThreads())));
  const prompt = Number(argValue('prompt', '512'));
  const gen = Number(argValue('gen', '32'));
  const reps = Number(argValue('reps', '2'));
  // --only sequences: just the shared-context figures (minutes less on the full-size model).
  const only = argValue('only', '');
  if (only !== '' && only !== 'sequences') throw new Error(`--only ${only}: expected sequences`);
  const seqPrompt = Math.min(prompt, 128);
  const rows = [['text model', 'threads', 'prefill t/s ours', 'llama-bench', 'ratio', 'decode t/s ours', 'llama-bench', 'ratio']];
  const nlcRows = [['text model', 'threads', 'prefill t/s ours', 'node-llama-cpp', 'ratio', 'decode t/s ours', 'node-llama-cpp', 'ratio']];
  const grammarRows = [['text model', 'grammar', 'decode t/s', 'vs none', 'full passes']];
  const seqRows = [['text model', 'sessions', 'decode t/s, all together', 'per session', 'vs 1 session']];
  const ttftRows = [['text model', 'first token, alone', 'while another prefills an image', 'that image prefill']];
  for (const type of types) {
    const file = await benchFile('text', type);
    // The shared-context figures for the first type only: one model says what batching buys.
    if (type === types[0]) await sequenceRows(type, file, threads, seqPrompt, gen, reps, seqRows, ttftRows);
    if (only === 'sequences') continue;
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
  if (only === 'sequences') {
    process.stdout.write(machineLine());
  } else {
    process.stdout.write(`${machineLine('the best-scoring variant (ggml_backend_load_all)')}${table(rows)}\n(ratio = ours / llama-bench; ${prompt}-token prefill, ${gen}-token decode)\n\n`);
    process.stdout.write(`${table(nlcRows)}\n(ratio = ours / node-llama-cpp 3.22.1 with its own prebuilt binaries, same file and tokens)\n\n`);
    process.stdout.write(`${table(grammarRows)}\n(decode with a grammar, greedy; full passes = tokens whose cheap pick the grammar rejected)\n\n`);
  }
  process.stdout.write(`${table(seqRows)}\n(parallel: sessions on one shared context, their steps batched into one llama_decode; greedy, ${gen} tokens each after a ${seqPrompt}-token question; best of ${reps})\n\n`);
  process.stdout.write(`${table(ttftRows)}\n(a 32-token question's prefill + first token, ${threads} threads; the image prefill is chunks of 512 positions that take turns with the other sessions' work)\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
