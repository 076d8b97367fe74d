// npm run bench:scm — what SCM buys on a CPU: the full-size synthetic pair (real InternVL2-2B
// dimensions), a 1344x896 document-like page with the `ocr` preset, one question asked with and
// without SCM. Prints the prompt tokens before/after, the pre-pass time, the prefill time, time to
// first token, and the cut in image prefill time including the pre-pass (goal: >= 40%).
//   node dist/bench/scm.js [--preset ocr] [--text-type q4_0] [--vision-type f16] [--threads N] [--keep 0.5] [--shape tiny]
import { documentPixels } from '../lib/demo/document-image';
import { MiniMonkey } from '../lib/model';
import type { PresetName } from '../lib/msac/presets';
import { defaultThreads } from '../lib/threads';
import { argValue, benchFile, machineLine, table } from './common';

async function main(): Promise<void> {
  const crop = argValue('preset', 'ocr') as PresetName;
  const threads = Number(argValue('threads', String(defaultThreads())));
  const keep = Number(argValue('keep', '0.5'));
  const model = await benchFile('text', argValue('text-type', 'q4_0'));
  const mmproj = await benchFile('vision', argValue('vision-type', 'f16'));
  const image = documentPixels({ width: 1344, height: 896 });
  const question = 'What is the total amount on this invoice?';

  const mm = await MiniMonkey.load({ model, mmproj, threads, contextSize: 16384 });
  try {
    const plan = mm.planCrops(image.width, image.height, crop);
    process.stderr.write(`${plan.tileCount} tiles (detail ${plan.detail.cols}x${plan.detail.rows}, adaptive ` +
      `${plan.adaptive ? `${plan.adaptive.cols}x${plan.adaptive.rows}` : 'none'}, global), ${plan.imageTokens} image tokens; encoding ...\n`);
    let t = performance.now();
    await mm.encodeImage(image, { crop }); // both asks then take the embeddings from the cache
    const encodeMs = performance.now() - t;

    const ask = async (scm: boolean) => {
      const chat = await mm.chat();
      try {
        t = performance.now();
        const r = await chat.ask([{ type: 'image', image }, question], { crop, maxTokens: 1, scm: scm ? { keep } : false });
        return { r, ttft: performance.now() - t };
      } finally {
        chat.dispose();
      }
    };
    process.stderr.write('prefill without SCM ...\n');
    const off = await ask(false);
    process.stderr.write('prefill with SCM ...\n');
    const on = await ask(true);
    const s = on.r.scm!;

    const imagePrefillOff = off.r.timings.prefill;
    const imagePrefillOn = s.prepassMs + on.r.timings.prefill;
    const rows = [
      ['', 'prompt tokens', 'pre-pass ms', 'prefill ms', 'time to first token ms'],
      ['without SCM', String(off.r.tokens.prompt), '-', off.r.timings.prefill.toFixed(0), off.ttft.toFixed(0)],
      ['with SCM', `${s.tokensAfter} (of ${s.tokensBefore})`, s.prepassMs.toFixed(0), on.r.timings.prefill.toFixed(0), on.ttft.toFixed(0)],
    ];
    process.stdout.write(`${machineLine()}${table(rows)}\n`);
    process.stdout.write(
      `image encode (once, cached for both): ${encodeMs.toFixed(0)} ms for ${plan.tileCount} tiles\n` +
        `SCM kept ${s.detailKept} of ${s.detailTokens} detail tokens; pre-pass peak memory ${(s.peakBytes / 2 ** 20).toFixed(0)} MiB\n` +
        `prefill time with SCM, pre-pass included: ${imagePrefillOn.toFixed(0)} vs ${imagePrefillOff.toFixed(0)} ms = ` +
        `${((1 - imagePrefillOn / imagePrefillOff) * 100).toFixed(1)}% less (goal >= 40%); ${threads} threads\n`,
    );
  } finally {
    mm.dispose();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
