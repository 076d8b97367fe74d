// Bad input never takes the process down: every failure is a typed error.
import fs from 'node:fs';
import path from 'node:path';
import { AbortError, DisposedError, InvalidArgumentError, MiniMonkeyError, ModelLoadError } from '../lib/errors';
import { VisionEncoder } from '../lib/vision/encoder';
import { distinctTiles, tempDir, tinyPair } from './helpers/models';
import { mutate } from './helpers/mutate';


describe('vision encoder: bad input', () => {
  let mmproj: string;
  let model: string;
  beforeAll(async () => {
    ({ mmproj, model } = await tinyPair('f32'));
  });

  it('a missing file is a ModelLoadError', async () => {
    await expect(VisionEncoder.load(path.join(tempDir(), 'nope.gguf'))).rejects.toBeInstanceOf(ModelLoadError);
  });

  it('a file that is not GGUF is a ModelLoadError naming the file', async () => {
    const f = path.join(tempDir(), 'not-gguf.gguf');
    fs.writeFileSync(f, 'hello, this is not a model file at all');
    await expect(VisionEncoder.load(f)).rejects.toThrow(/not-gguf\.gguf.*not a valid GGUF/);
  });

  it('a text model given as projector is rejected (wrong architecture)', async () => {
    await expect(VisionEncoder.load(model)).rejects.toThrow(/architecture is 'internlm2'/);
  });

  it('a wrong projector type is UNSUPPORTED', async () => {
    const bytes = fs.readFileSync(mmproj);
    const at = bytes.indexOf(Buffer.from('internvl'));
    expect(at).toBeGreaterThan(0);
    const f = path.join(tempDir(), 'ldp.gguf');
    fs.writeFileSync(f, Buffer.concat([bytes.subarray(0, at), Buffer.from('ldpv2xyz'), bytes.subarray(at + 8)]));
    await expect(VisionEncoder.load(f)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/ldpv2xyz/) });
  });

  it('bad arguments are InvalidArgumentErrors', async () => {
    const enc = await VisionEncoder.load(mmproj, { threads: 1 });
    try {
      await expect(enc.encode(new Float32Array(10), 1)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(enc.encode(new Float32Array(0), 0)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(enc.encode([] as unknown as Float32Array, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(enc.encode(distinctTiles(1, 448), 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
      // past the per-call cap the native layer refuses before allocating anything
      await expect(enc.encode(new Float32Array(65 * 3 * 448 * 448), 65)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      enc.dispose();
    }
    await expect(VisionEncoder.load(mmproj, { threads: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('dispose twice is safe; use after dispose is a DisposedError', async () => {
    const enc = await VisionEncoder.load(mmproj, { threads: 1 });
    enc.dispose();
    enc.dispose();
    expect(enc.disposed).toBe(true);
    await expect(enc.encode(distinctTiles(1, 448), 1)).rejects.toBeInstanceOf(DisposedError);
  });

  it('dispose during an encode lets the encode finish, then frees', async () => {
    const enc = await VisionEncoder.load(mmproj, { threads: 1 });
    const pending = enc.encode(distinctTiles(2, 448), 2);
    enc.dispose();
    const out = await pending.catch((e) => e);
    // either it finished with a full result or it was refused as disposed before it started
    if (out instanceof Error) expect(out).toBeInstanceOf(DisposedError);
    else expect(out.length).toBe(2 * 256 * enc.info.embeddingWidth);
  });

  it('an AbortSignal cancels an encode with an AbortError and the encoder stays usable', async () => {
    const enc = await VisionEncoder.load(mmproj, { threads: 1 });
    try {
      const ac = new AbortController();
      ac.abort();
      await expect(enc.encode(distinctTiles(1, 448), 1, { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
      const ac2 = new AbortController();
      const pending = enc.encode(distinctTiles(8, 448), 8, { signal: ac2.signal });
      setTimeout(() => ac2.abort(), 5);
      await expect(pending).rejects.toBeInstanceOf(AbortError);
      const again = await enc.encode(distinctTiles(1, 448), 1);
      expect(again.length).toBe(256 * enc.info.embeddingWidth);
    } finally {
      enc.dispose();
    }
  });

  it('250 mutated projector files: each loads or fails with a typed error, never a crash', async () => {
    const bytes = fs.readFileSync(mmproj);
    let seed = 20261124;
    const rng = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const dir = fs.mkdtempSync(path.join(tempDir(), 'fuzz-'));
    const outcomes = { loaded: 0, rejected: 0 };
    const codes = new Set<string>();
    for (let i = 0; i < 250; i++) {
      const f = path.join(dir, `m${i}.gguf`);
      fs.writeFileSync(f, mutate(bytes, rng, i));
      try {
        const enc = await VisionEncoder.load(f, { threads: 1 });
        outcomes.loaded++;
        // a file that loads must also encode without crashing (weights may be garbage)
        await enc.encode(distinctTiles(1, enc.info.imageSize), 1).catch((e) => {
          expect(e).toBeInstanceOf(MiniMonkeyError);
        });
        enc.dispose();
      } catch (e) {
        expect(e).toBeInstanceOf(MiniMonkeyError);
        codes.add((e as MiniMonkeyError).code);
        outcomes.rejected++;
      }
      fs.rmSync(f);
    }
    expect(outcomes.loaded + outcomes.rejected).toBe(250);
    expect(outcomes.rejected).toBeGreaterThan(150);
    expect([...codes].every((c) => ['MODEL_LOAD', 'UNSUPPORTED', 'OUT_OF_MEMORY'].includes(c))).toBe(true);
  });
});
