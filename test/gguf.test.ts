// Our GGUF writer and reader: round trips, strict rejection of malformed files.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GgmlType, GgufValueType } from '../lib/gguf/constants';
import { GgufFormatError, readGgufHeaderSync, readTensorF32 } from '../lib/gguf/reader';
import { GgufWriter } from '../lib/gguf/writer';
import { quantize } from '../lib/native';
import { synthesize } from '../lib/synth/synthesize';
import { refWeightShapes } from './reference/internvit';
import { refConfig, tempDir } from './helpers/models';

describe('GGUF writer → reader', () => {
  it('round-trips every value type, arrays and tensor data', async () => {
    const f = path.join(tempDir(), 'roundtrip.gguf');
    const data = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 2);
    const q8 = await quantize('q8_0', data, 32);
    const w = new GgufWriter()
      .addKV('u8', GgufValueType.UINT8, 250)
      .addKV('i8', GgufValueType.INT8, -100)
      .addKV('u16', GgufValueType.UINT16, 65000)
      .addKV('i16', GgufValueType.INT16, -30000)
      .addKV('u32', GgufValueType.UINT32, 4000000000)
      .addKV('i32', GgufValueType.INT32, -2000000000)
      .addKV('u64', GgufValueType.UINT64, 2n ** 60n)
      .addKV('i64', GgufValueType.INT64, -(2n ** 60n))
      .addKV('f32', GgufValueType.FLOAT32, 1.5)
      .addKV('f64', GgufValueType.FLOAT64, Math.PI)
      .addKV('bool', GgufValueType.BOOL, true)
      .addKV('str', GgufValueType.STRING, '你好 <img>')
      .addArray('arr.str', GgufValueType.STRING, ['a', '', 'ü'])
      .addArray('arr.f32', GgufValueType.FLOAT32, [0.25, -1])
      .addTensor('t.f32', [32, 2], GgmlType.F32, () => new Uint8Array(data.buffer))
      .addTensor('t.q8', [32, 2], GgmlType.Q8_0, () => q8);
    await w.write(f);
    const h = readGgufHeaderSync(f);
    const v = (k: string) => h.kv.get(k)?.value;
    expect([v('u8'), v('i8'), v('u16'), v('i16'), v('u32'), v('i32')]).toEqual([250, -100, 65000, -30000, 4000000000, -2000000000]);
    expect([v('u64'), v('i64')]).toEqual([2n ** 60n, -(2n ** 60n)]);
    expect([v('f32'), v('f64'), v('bool'), v('str')]).toEqual([1.5, Math.PI, true, '你好 <img>']);
    expect(v('arr.str')).toEqual(['a', '', 'ü']);
    expect(v('arr.f32')).toEqual([0.25, -1]);
    expect(h.tensors.map((t) => [t.name, t.ne, t.type])).toEqual([
      ['t.f32', [32, 2], GgmlType.F32],
      ['t.q8', [32, 2], GgmlType.Q8_0],
    ]);
    expect(h.tensors.every((t) => t.offset % 32 === 0)).toBe(true);
    expect(Array.from(await readTensorF32(f, h.tensors[0]))).toEqual(Array.from(data));
    const back = await readTensorF32(f, h.tensors[1]);
    back.forEach((x, i) => expect(Math.abs(x - data[i])).toBeLessThan(0.02));
  });

  it('a failed write leaves no file behind', async () => {
    const f = path.join(tempDir(), 'failed.gguf');
    const w = new GgufWriter().addTensor('bad', [32], GgmlType.F32, () => new Uint8Array(3));
    await expect(w.write(f)).rejects.toThrow(/3 bytes given, 128 expected/);
    expect(fs.readdirSync(tempDir()).filter((n) => n.startsWith('failed.gguf'))).toEqual([]);
  });

  it('rejects truncated and corrupted headers with GgufFormatError', async () => {
    const { mmproj } = await synthesize({ shape: 'tiny', outDir: path.join(tempDir(), 'gguf-bad'), parts: ['vision'] });
    const bytes = fs.readFileSync(mmproj);
    const f = path.join(tempDir(), 'bad.gguf');
    const cases: Buffer[] = [
      bytes.subarray(0, 3),
      bytes.subarray(0, 100),
      bytes.subarray(0, bytes.length - 10), // last tensor cut short
      Buffer.concat([Buffer.from('GGUX'), bytes.subarray(4)]),
    ];
    const hugeCount = Buffer.from(bytes);
    hugeCount.writeBigUInt64LE(2n ** 50n, 16); // KV count
    cases.push(hugeCount);
    for (const c of cases) {
      fs.writeFileSync(f, c);
      expect(() => readGgufHeaderSync(f)).toThrow(GgufFormatError);
    }
  });
});

describe('synthetic models', () => {
  const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

  it('are deterministic per seed and differ between seeds', async () => {
    const a = await synthesize({ shape: 'tiny', outDir: path.join(tempDir(), 'seed-a'), seed: 5 });
    const b = await synthesize({ shape: 'tiny', outDir: path.join(tempDir(), 'seed-b'), seed: 5 });
    const c = await synthesize({ shape: 'tiny', outDir: path.join(tempDir(), 'seed-c'), seed: 6 });
    expect(sha(a.mmproj)).toBe(sha(b.mmproj));
    expect(sha(a.model)).toBe(sha(b.model));
    expect(sha(a.mmproj)).not.toBe(sha(c.mmproj));
  });

  it('the tiny projector has every tensor of facts §5.1 with the right shape and type', async () => {
    const { mmproj } = await synthesize({ shape: 'tiny', outDir: path.join(tempDir(), 'shapes'), visionType: 'q8_0', parts: ['vision'] });
    const h = readGgufHeaderSync(mmproj);
    const cfg = await refConfig(mmproj);
    const want = refWeightShapes(cfg, 64);
    const got = new Map(h.tensors.map((t) => [t.name, t]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, ne] of want) {
      const t = got.get(name)!;
      const trim = (s: number[]) => { const x = [...s]; while (x.length > 1 && x[x.length - 1] === 1) x.pop(); return x; };
      expect(trim(t.ne)).toEqual(trim(ne));
      const matrix = /attn_(q|k|v|out)\.weight|ffn_(up|down)\.weight|mlp\.[13]\.weight/.test(name);
      const expected = matrix ? GgmlType.Q8_0 : name === 'v.patch_embd.weight' ? GgmlType.F16 : GgmlType.F32;
      expect([name, t.type]).toEqual([name, expected]);
    }
    expect(h.kv.get('clip.projector_type')?.value).toBe('internvl');
    expect(h.kv.get('general.architecture')?.value).toBe('clip');
  });

  it('the text model carries the InternVL special tokens and eos = <|im_end|>', async () => {
    const { model } = await synthesize({ shape: 'tiny', outDir: path.join(tempDir(), 'text'), parts: ['text'] });
    const h = readGgufHeaderSync(model);
    const tokens = h.kv.get('tokenizer.ggml.tokens')!.value as string[];
    for (const s of ['<|im_start|>', '<|im_end|>', '<img>', '</img>', '<IMG_CONTEXT>']) expect(tokens).toContain(s);
    expect(h.kv.get('tokenizer.ggml.eos_token_id')!.value).toBe(tokens.indexOf('<|im_end|>'));
    expect(h.kv.get('general.architecture')!.value).toBe('internlm2');
  });
});
