// Child of test/package.test.ts (run natively and under qemu-user): one greedy ask about RAW RGB8
// pixels (no sharp needed), then one encoded image (sharp needed); prints both outcomes as JSON.
//   node raw-pixel-ask.js <minimonkey's dist/lib/index.js> <model.gguf> <mmproj.gguf> <image.png>
const [, , index, model, mmproj, png] = process.argv;
const { MiniMonkey, loadImage } = require(index);

(async () => {
  const w = 96;
  const h = 64;
  const data = new Uint8Array(w * h * 3);
  let s = 5;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = ((i % (w * 3)) * 7 + (s >>> 24)) & 255;
  }
  const mm = await MiniMonkey.load({ model, mmproj, threads: 2, contextSize: 2048 });
  const chat = await mm.chat();
  const r = await chat.ask([{ type: 'image', image: { data, width: w, height: h, channels: 3 } }, 'What is the total?'], { crop: 'fast', maxTokens: 8 });
  let encoded = 'decoded';
  try {
    await loadImage(png);
  } catch (e) {
    encoded = e.code;
  }
  process.stdout.write(`${JSON.stringify({ tokens: r.tokenIds.join(','), encoded })}\n`);
  mm.dispose();
})().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
