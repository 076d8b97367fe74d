// A deterministic noisy RGB image (an LCG over a gradient): distinct pixels per seed, for tests
// that need an image whose embeddings differ from another's.
export function noiseImage(w: number, h: number, seed: number) {
  const data = new Uint8Array(w * h * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = ((i % (w * 3)) * 7 + (s >>> 24)) & 255;
  }
  return { data, width: w, height: h, channels: 3 as const };
}
