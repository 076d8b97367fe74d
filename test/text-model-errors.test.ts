// Bad text models and bad pairs never take the process down: libllama asserts on some malformed
// vocabularies, so those are checked before the file reaches it; everything else is a typed error.
import fs from 'node:fs';
import path from 'node:path';
import { MiniMonkey, MiniMonkeyError, ModelLoadError, TextModel, UnsupportedError } from '../lib';
import { readGgufHeader } from '../lib/gguf/reader';
import { tempDir, tinyPair } from './helpers/models';
import { mutate } from './helpers/mutate';

let pair: { model: string; mmproj: string };
beforeAll(async () => {
  pair = await tinyPair('f32');
});

test('a missing file and a projector given as text model are ModelLoadErrors', async () => {
  await expect(TextModel.load(path.join(tempDir(), 'none.gguf'))).rejects.toBeInstanceOf(ModelLoadError);
  await expect(TextModel.load(pair.mmproj)).rejects.toThrow(/vision projector \(mmproj\), not a text model/);
  await expect(MiniMonkey.load({ model: pair.mmproj, mmproj: pair.model })).rejects.toBeInstanceOf(ModelLoadError);
});

test('an architecture outside the InternVL family is UNSUPPORTED', async () => {
  const bytes = fs.readFileSync(pair.model);
  const at = bytes.indexOf(Buffer.from('internlm2'));
  const f = path.join(tempDir(), 'gpt9.gguf');
  fs.writeFileSync(f, Buffer.concat([bytes.subarray(0, at), Buffer.from('falcon_h9'), bytes.subarray(at + 9)]));
  await expect(TextModel.load(f)).rejects.toBeInstanceOf(UnsupportedError);
});

test('a vocabulary with a duplicate token (a libllama assert) is a ModelLoadError', async () => {
  const bytes = fs.readFileSync(pair.model);
  // Two specials of the same length: '<ref>' respelled as '<box>' keeps every offset in the file.
  const at = bytes.indexOf(Buffer.from('<ref>'));
  expect(at).toBeGreaterThan(0);
  const f = path.join(tempDir(), 'dup.gguf');
  fs.writeFileSync(f, Buffer.concat([bytes.subarray(0, at), Buffer.from('<box>'), bytes.subarray(at + 5)]));
  await expect(TextModel.load(f)).rejects.toThrow(/duplicate token '<box>'/);
});

test('120 mutated text models: each loads (and answers) or fails with a typed error', async () => {
  const bytes = fs.readFileSync(pair.model);
  const header = (await readGgufHeader(pair.model)).dataOffset;
  let seed = 4242;
  const rng = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const dir = fs.mkdtempSync(path.join(tempDir(), 'text-fuzz-'));
  const outcomes = { loaded: 0, rejected: 0 };
  for (let i = 0; i < 120; i++) {
    const f = path.join(dir, `t${i}.gguf`);
    fs.writeFileSync(f, mutate(bytes, rng, i, header));
    try {
      const m = await TextModel.load(f);
      outcomes.loaded++;
      try {
        const ids = m.tokenize('hello 你好', { addBos: true });
        await m.logits([ids]).catch((e) => expect(e).toBeInstanceOf(MiniMonkeyError));
      } finally {
        m.dispose();
      }
    } catch (e) {
      expect(e).toBeInstanceOf(MiniMonkeyError);
      outcomes.rejected++;
    }
    fs.rmSync(f);
  }
  expect(outcomes.rejected).toBeGreaterThan(30);
  expect(outcomes.loaded + outcomes.rejected).toBe(120);
}, 300_000);
