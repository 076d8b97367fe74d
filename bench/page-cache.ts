// npm run bench:page-cache — what the page cache saves a document app: the same drawn 1344x896
// page as bench:e2e, asked once in a fresh process with an empty cache (the first ask), then a new
// question in a second process on the same cache (the vision tower skipped: its embeddings come
// from disk; and without SCM the prompt up to the image restored from its stored KV state, not
// prefilled), and a new question in the first process on a new conversation (the in-memory
// cache, and the stored KV state again), without and with SCM. Per ask: model load, encode, SCM
// pre-pass, prefill (and the positions restored instead), time to first token (from the ask, load
// excluded), the process's peak RSS so far, and the cache folder's size after.
//   node dist/bench/page-cache.js [--preset default] [--text-type q4_0] [--vision-type q8_0] [--threads N] [--gen 8] [--shape tiny]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiniMonkey } from '../lib/model';
import type { PresetName } from '../lib/msac/presets';
import { defaultThreads } from '../lib/threads';
import { argValue, benchFile, machineLine, pagePng, table } from './common';

interface Ask {
  loadMs: number;
  tiles: number;
  fromPageCache: number;
  fromMemory: number;
  encodeMs: number;
  prepassMs: number;
  promptTokens: number;
  prefillMs: number;
  restoredTokens: number;
  ttftMs: number;
  peakRssMiB: number;
  cacheMiB: number;
}

/** Bytes of the cache folder's entries, in MiB. */
function folderMiB(dir: string): number {
  let n = 0;
  for (const name of fs.readdirSync(dir)) if (name.endsWith('.mmpc')) n += fs.statSync(path.join(dir, name)).size;
  return n / 1024 ** 2;
}

// The first process asks 0 then 1; the second process asks 2, a question the cache has not seen
// (with SCM the kept image rows, and so the stored prefix, depend on the question).
const QUESTIONS = ['What is the total amount on this invoice?', 'Who is the invoice addressed to?', 'What is the date of this invoice?'];


/** The child side: load once with the page cache in `dir`, then ask each question on a new conversation. */
async function child(dir: string, questions: string[], scm: boolean): Promise<Ask[]> {
  const crop = argValue('preset', 'default') as PresetName;
  const threads = Number(argValue('threads', String(defaultThreads())));
  const gen = Number(argValue('gen', '8'));
  const model = await benchFile('text', argValue('text-type', 'q4_0'));
  const mmproj = await benchFile('vision', argValue('vision-type', 'q8_0'));
  const page = await pagePng();
  let t = performance.now();
  const mm = await MiniMonkey.load({ model, mmproj, threads, contextSize: 8192, pageCache: { dir } });
  let loadMs = performance.now() - t;
  const out: Ask[] = [];
  try {
    for (const q of questions) {
      const chat = await mm.chat();
      t = performance.now();
      let first = 0;
      const r = await chat.ask([{ type: 'image', image: fs.readFileSync(page) }, q], {
        crop, maxTokens: gen, temperature: 0, scm: scm ? { keep: 0.5 } : false,
        onToken: () => {
          if (!first) first = performance.now() - t;
        },
      });
      chat.dispose();
      out.push({
        loadMs,
        tiles: r.images[0].tileCount,
        fromPageCache: r.pageCacheHits,
        fromMemory: r.imageCacheHits - r.pageCacheHits,
        encodeMs: r.timings.encode,
        prepassMs: r.scm?.prepassMs ?? 0,
        promptTokens: r.tokens.prompt,
        prefillMs: r.timings.prefill,
        restoredTokens: r.restoredTokens,
        ttftMs: first,
        peakRssMiB: process.resourceUsage().maxRSS / 1024,
        cacheMiB: folderMiB(dir),
      });
      loadMs = 0; // the same process: loaded already
    }
  } finally {
    mm.dispose();
  }
  return out;
}

function runChild(dir: string, questions: number[], scm: boolean): Ask[] {
  const pass = ['preset', 'text-type', 'vision-type', 'threads', 'gen', 'shape'].flatMap((n) => (process.argv.includes(`--${n}`) ? [`--${n}`, argValue(n, '')] : []));
  const c = spawnSync(process.execPath, [__filename, '--child', dir, '--questions', questions.join(','), ...(scm ? ['--scm'] : []), ...pass], {
    encoding: 'utf8', maxBuffer: 64 << 20,
  });
  if (c.status !== 0) throw new Error(`page-cache child failed: ${c.stderr}`);
  return JSON.parse(c.stdout.trim().split('\n').pop()!) as Ask[];
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) {
    const dir = argValue('child', '');
    const questions = argValue('questions', '0').split(',').map((i) => QUESTIONS[Number(i)]);
    process.stdout.write(`${JSON.stringify(await child(dir, questions, process.argv.includes('--scm')))}\n`);
    return;
  }
  const rows = [['SCM', 'stage', 'first ask (empty cache)', 'second ask, new process', 'second ask, same process']];
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  const notes: string[] = [];
  for (const scm of [false, true]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minimonkey-page-cache-bench-'));
    try {
      process.stderr.write(`page-cache: ${scm ? 'with' : 'without'} SCM: first and same-process asks ...\n`);
      const [first, sameProcess] = runChild(dir, [0, 1], scm);
      process.stderr.write('page-cache: second ask in a new process ...\n');
      const [newProcess] = runChild(dir, [2], scm);
      const on = scm ? 'on' : 'off';
      const all = [first, newProcess, sameProcess];
      const source = (a: Ask) => (a.fromPageCache ? ' (page cache)' : a.fromMemory ? ' (memory)' : '');
      rows.push([on, 'model load', ...all.map((a) => (a.loadMs ? ms(a.loadMs) : '- (loaded)'))]);
      rows.push([on, `encode ${first.tiles} tiles`, ...all.map((a) => `${ms(a.encodeMs)}${source(a)}`)]);
      if (scm) rows.push([on, 'SCM pre-pass', ...all.map((a) => ms(a.prepassMs))]);
      rows.push([on, 'prefill', ...all.map((a) => `${ms(a.prefillMs)} (${a.promptTokens - a.restoredTokens} of ${a.promptTokens} tokens${a.restoredTokens ? `, ${a.restoredTokens} restored` : ''})`)]);
      rows.push([on, 'time to first token', ...all.map((a) => ms(a.ttftMs))]);
      rows.push([on, 'peak RSS of the process', ...all.map((a) => `${a.peakRssMiB.toFixed(0)} MiB`)]);
      rows.push([on, 'page-cache folder after', ...all.map((a) => `${a.cacheMiB.toFixed(1)} MiB`)]);
      const pct = (a: Ask) => `${((100 * a.ttftMs) / first.ttftMs).toFixed(1)}%`;
      notes.push(`SCM ${on}: the second ask's first token came at ${pct(newProcess)} of the first ask's in a new process, ${pct(sameProcess)} in the same process`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const crop = argValue('preset', 'default');
  process.stdout.write(`${machineLine()}${table(rows)}\n${notes.join('\n')}\n` +
    `(${crop} preset, ${argValue('vision-type', 'q8_0')} vision, ${argValue('text-type', 'q4_0')} text, ${argValue('threads', String(defaultThreads()))} threads, context 8192, ${argValue('shape', 'internvl2-2b')} pair)\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
