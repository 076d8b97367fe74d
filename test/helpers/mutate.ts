// Damaged copies of model files for the bad-input tests.
/** One of five damages to a GGUF file: truncations, flipped header bytes, bogus counts and lengths. */
export function mutate(bytes: Buffer, rng: () => number, kind: number, headerBytes = 8192): Buffer {
  const out = Buffer.from(bytes);
  const headerEnd = Math.min(out.length, headerBytes); // KV pairs and tensor infos live up front
  switch (kind % 5) {
    case 0: // truncate anywhere
      return out.subarray(0, Math.floor(rng() * out.length));
    case 1: // truncate inside the header
      return out.subarray(0, Math.floor(rng() * headerEnd));
    case 2: { // flip a few bytes in the header
      const n = 1 + Math.floor(rng() * 4);
      for (let i = 0; i < n; i++) out[Math.floor(rng() * headerEnd)] ^= 1 + Math.floor(rng() * 255);
      return out;
    }
    case 3: { // bogus tensor or KV count
      const off = rng() < 0.5 ? 8 : 16;
      out.writeBigUInt64LE(BigInt(Math.floor(rng() * 2 ** 40)), off);
      return out;
    }
    default: { // a bogus 64-bit length somewhere in the header (strings and arrays are length-prefixed)
      const off = 24 + Math.floor(rng() * (headerEnd - 32));
      out.writeBigUInt64LE(BigInt(Math.floor(rng() * 2 ** 48)), off);
      return out;
    }
  }
}
