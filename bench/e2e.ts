// npm run bench:e2e — one question about a drawn 1344x896 page with the `default` preset on the
// full-size synthetic pair, from the image bytes to the last token, without and with SCM, each in a
// fresh process (so peak RSS is that run's): image read and plan, vision encode, SCM pre-pass,
// prefill, time to first token, decode tokens/s, peak RSS. Beside each stage, llama.cpp at equal
// work, built the way llama.cpp ships it (every CPU variant, the best one for this CPU): its clip
// encoder on the same mmproj for the same number of tiles, llama-bench prefilling the same number of
// tokens and decoding at that depth on the same text model, and llama-mtmd-cli's peak RSS on the
// same pair and page with the same context size.
//   node dist/bench/e2e.js [--text-type q4_0] [--vision-types f16,q8_0] [--preset default] [--threads N] [--gen 16] [--shape tiny]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkey } from '../lib/model';
import type { PresetName } from '../lib/msac/presets';
import { defaultThreads } from '../lib/threads';
import { argValue, benchFile, machineLine, pagePng, runJsonTool, table, tool } from './common';

interface Run {
  scm: boolean;
  tiles: number;
  promptTokens: number;
  readPlanMs: number;
  encodeMs: number;
  prepassMs: number;
  prefillMs: number;
  ttftMs: number;
  generated: number;
  decodeTps: number;
  peakRssMiB: number;
}

const question = 'What is the total amount on this invoice?';


/** One ask in this process (the child side): everything an app pays, from the PNG's bytes on. */
async function child(model: string, mmproj: string, page: string, scm: boolean, crop: PresetName, threads: number, gen: number, ctx: number): Promise<Run> {
  const mm = await MiniMonkey.load({ model, mmproj, threads, contextSize: ctx });
  try {
    const bytes = fs.readFileSync(page);
    const chat = await mm.chat();
    const t0 = performance.now();
    let first = 0;
    let last = 0;
    const r = await chat.ask([{ type: 'image', image: bytes }, question], {
      crop, maxTokens: gen, temperature: 0, scm: scm ? { keep: 0.5 } : false,
      onToken: () => {
        last = performance.now() - t0;
        if (!first) first = last;
      },
    });
    chat.dispose();
    return {
      scm,
      tiles: r.images[0].tileCount,
      promptTokens: r.tokens.prompt,
      readPlanMs: r.timings.decode,
      encodeMs: r.timings.encode,
      prepassMs: r.scm?.prepassMs ?? 0,
      prefillMs: r.timings.prefill,
      ttftMs: first,
      generated: r.tokens.generated,
      // The first token comes with the prefill; the rest are decode steps.
      decodeTps: r.tokens.generated > 1 && last > first ? (r.tokens.generated - 1) / ((last - first) / 1000) : 0,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    mm.dispose();
  }
}

/** Runs `cmd` and polls its peak RSS (VmHWM, monotonic) until it exits; MiB. */
function peakRss(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited between polls
      }
    }, 50);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`${cmd} exited with ${code}`));
      else resolve(peak);
    });
  });
}

function llamaBench(file: string, threads: number, prompt: number, gen: number) {
  const run = (args: string[]) => {
    const out = execFileSync(tool('llama-bench'), ['-m', file, '-t', String(threads), '-r', '1', '-b', '2048', '-ub', '512', '-o', 'json', ...args], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20,
    });
    return (JSON.parse(out) as { avg_ts: number }[])[0].avg_ts;
  };
  return { pp: run(['-p', String(prompt), '-n', '0']), tg: run(['-p', '0', '-n', String(gen), '-d', String(prompt)]) };
}

async function main(): Promise<void> {
  const crop = argValue('preset', 'default') as PresetName;
  const threads = Number(argValue('threads', String(defaultThreads())));
  const gen = Number(argValue('gen', '16'));
  const textType = argValue('text-type', 'q4_0');
  const model = await benchFile('text', textType);
  const page = await pagePng();
  const ctxSize = 8192;

  if (process.argv.includes('--child')) {
    const r = await child(model, await benchFile('vision', argValue('vision-type', 'f16')), page, process.argv.includes('--scm'), crop, threads, gen, ctxSize);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }

  const rows = [['vision', 'SCM', 'stage', 'minimonkey', 'llama.cpp at equal work', 'ratio (theirs / ours time)']];
  let theirsVariant = '';
  for (const visionType of argValue('vision-types', 'f16,q8_0').split(',')) {
    const mmproj = await benchFile('vision', visionType);
    for (const scm of [false, true]) {
      process.stderr.write(`e2e: ${visionType} vision, ${scm ? 'with' : 'without'} SCM ...\n`);
      const args = [__filename, '--child', '--vision-type', visionType, '--text-type', textType, '--preset', crop, '--threads', String(threads),
        '--gen', String(gen), '--shape', argValue('shape', 'internvl2-2b'), ...(scm ? ['--scm'] : [])];
      const c = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (c.status !== 0) throw new Error(`e2e child failed: ${c.stderr}`);
      const r = JSON.parse(c.stdout.trim().split('\n').pop()!) as Run;
      // llama.cpp at equal work: the same tiles through its clip, the same prompt length through libllama.
      const clip = runJsonTool<{ ms_per_tile: number; variant: string }>('mm-clip-bench', [mmproj, String(Math.min(r.tiles, 4)), String(threads)]);
      theirsVariant = clip.variant;
      const lb = llamaBench(model, threads, r.promptTokens, gen);
      const theirEncode = clip.ms_per_tile * r.tiles;
      const theirPrefill = (r.promptTokens / lb.pp) * 1000;
      const ratio = (theirs: number, ours: number) => (ours > 0 ? `${(theirs / ours).toFixed(2)}x` : '-');
      const label = [visionType, scm ? 'on' : 'off'];
      rows.push([...label, 'image read + plan', `${r.readPlanMs.toFixed(0)} ms`, '-', '-']);
      rows.push([...label, `encode ${r.tiles} tiles`, `${r.encodeMs.toFixed(0)} ms`, `${theirEncode.toFixed(0)} ms`, ratio(theirEncode, r.encodeMs)]);
      if (scm) rows.push([...label, 'SCM pre-pass', `${r.prepassMs.toFixed(0)} ms`, '- (no SCM)', '-']);
      rows.push([...label, `prefill ${r.promptTokens} tokens`, `${r.prefillMs.toFixed(0)} ms`, `${theirPrefill.toFixed(0)} ms`, ratio(theirPrefill, r.prefillMs)]);
      rows.push([...label, 'time to first token', `${r.ttftMs.toFixed(0)} ms`, `${(theirEncode + theirPrefill).toFixed(0)} ms`, ratio(theirEncode + theirPrefill, r.ttftMs)]);
      rows.push([...label, 'decode', `${r.decodeTps.toFixed(2)} tok/s (${r.generated} tokens)`, `${lb.tg.toFixed(2)} tok/s`, r.decodeTps > 0 ? `${(r.decodeTps / lb.tg).toFixed(2)}x (ours / theirs)` : '-']);
      if (!scm) {
        let theirRss = NaN;
        try {
          theirRss = await peakRss(tool('llama-mtmd-cli'), ['-m', model, '--mmproj', mmproj, '--image', page, '-p', question, '-n', String(gen), '-c', String(ctxSize), '-t', String(threads), '--temp', '0', '--no-warmup']);
        } catch (e) {
          process.stderr.write(`llama-mtmd-cli: ${(e as Error).message}\n`);
        }
        rows.push([...label, 'peak RSS', `${r.peakRssMiB.toFixed(0)} MiB`, Number.isFinite(theirRss) ? `${theirRss.toFixed(0)} MiB (llama-mtmd-cli, its own tiling)` : '-', '-']);
      } else {
        rows.push([...label, 'peak RSS', `${r.peakRssMiB.toFixed(0)} MiB`, '-', '-']);
      }
    }
  }
  process.stdout.write(`${machineLine(theirsVariant)}${table(rows)}\n(${crop} preset, ${textType} text, ${threads} threads, context ${ctxSize})\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
