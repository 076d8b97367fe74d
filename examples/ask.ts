// node ask.js MODEL.gguf MMPROJ.gguf IMAGE "QUESTION": streams the answer, then prints the figures.
// Ctrl-C stops the reply cleanly (the ask rejects with AbortError).
import { AbortError, MiniMonkey, planCrops, runtimeInfo } from 'minimonkey';

async function main(): Promise<void> {
  const [model, mmproj, image, question] = process.argv.slice(2);
  if (!question) throw new Error('usage: node ask.js MODEL.gguf MMPROJ.gguf IMAGE "QUESTION"');
  console.error(`ggml cpu variant: ${runtimeInfo().cpu.variant}`);

  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  await using mm = await MiniMonkey.load({
    model, mmproj, signal: stop.signal,
    onProgress: ({ phase, fraction }) => console.error(`loading ${phase} ${Math.round(fraction * 100)}%`),
  });

  const page = await mm.encodeImage(image, { crop: 'ocr', signal: stop.signal }); // optional: see the plan first
  console.error(`${page.plan.tileCount} tiles, ${page.plan.imageTokens} image tokens`);
  console.error(`(a 1920x1080 screenshot would be ${planCrops(1920, 1080, 'document').tileCount} tiles with 'document')`);

  const chat = await mm.chat();
  try {
    const result = await chat.ask([{ type: 'image', image }, question], {
      crop: 'ocr', scm: { keep: 0.5 }, maxTokens: 256, signal: stop.signal,
      onToken: (text) => process.stdout.write(text),
    });
    console.error(`\n${result.finishReason}; prompt ${result.tokens.prompt} tokens (SCM: ${result.scm?.tokensBefore} before)`);
  } catch (err) {
    if (err instanceof AbortError) console.error('\nstopped');
    else throw err;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
