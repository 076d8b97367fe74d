// resizeRGB must reproduce Pillow's `img.resize((w, h))` byte for byte on every golden written by
// scripts/make-resize-goldens.py (needs the built addon).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { InvalidArgumentError } from '../lib/errors';
import { resizeRGB } from '../lib/image/resize';
import { native } from '../lib/native';

interface GoldenCase {
  index: number;
  w: number;
  h: number;
  nw: number;
  nh: number;
  input: Uint8Array;
  output: Uint8Array | null; // null: only the hash is stored
  sha256: string;
}

function loadGoldens(): GoldenCase[] {
  const file = fs.readFileSync(path.join(__dirname, 'fixtures', 'resize', 'goldens.bin'));
  expect(file.subarray(0, 4).toString('latin1')).toBe('MMRZ');
  expect(file.readUInt32LE(4)).toBe(1);
  const n = file.readUInt32LE(8);
  const cases: GoldenCase[] = [];
  for (let i = 0; i < n; i++) {
    const rec = 12 + i * 56;
    const [w, h, nw, nh, inOff, outOff] = [0, 1, 2, 3, 4, 5].map((k) => file.readUInt32LE(rec + 4 * k));
    cases.push({
      index: i, w, h, nw, nh,
      input: new Uint8Array(file.subarray(inOff, inOff + w * h * 3)),
      output: outOff === 0xffffffff ? null : new Uint8Array(file.subarray(outOff, outOff + nw * nh * 3)),
      sha256: file.subarray(rec + 24, rec + 56).toString('hex'),
    });
  }
  return cases;
}

const goldens = loadGoldens();

describe('resizeRGB vs Pillow goldens', () => {
  test('the fixture has the expected breadth', () => {
    expect(goldens.length).toBeGreaterThanOrEqual(100);
    expect(goldens.some((c) => c.nw % 448 === 0 && c.nh % 448 === 0)).toBe(true);
    expect(goldens.some((c) => c.w === 1 && c.h === 1)).toBe(true);
  });

  test.each(goldens.map((c) => [c.index, `${c.w}x${c.h}`, `${c.nw}x${c.nh}`, c] as const))(
    'case %i: %s -> %s',
    async (_i, _from, _to, c) => {
      const out = await resizeRGB(c.input, c.w, c.h, c.nw, c.nh);
      expect(out).toBeInstanceOf(Uint8Array);
      expect(out.length).toBe(c.nw * c.nh * 3);
      if (c.output) {
        // A count rather than toEqual keeps the failure output short.
        let diffs = 0;
        for (let k = 0; k < out.length; k++) if (out[k] !== c.output[k]) diffs++;
        expect(diffs).toBe(0);
      }
      expect(crypto.createHash('sha256').update(out).digest('hex')).toBe(c.sha256);
    },
  );

  test('many resizes in flight at once all settle correctly', async () => {
    const picked = goldens.filter((c) => c.output !== null).slice(0, 24);
    const outs = await Promise.all(picked.map((c) => resizeRGB(c.input, c.w, c.h, c.nw, c.nh)));
    outs.forEach((o, k) => expect(Buffer.from(o).equals(Buffer.from(picked[k].output!))).toBe(true));
  });

  test('input is not modified and may be a Buffer or a subarray view', async () => {
    const c = goldens.find((g) => g.output !== null && g.w !== g.nw && g.h !== g.nh)!;
    const before = Buffer.from(c.input);
    const padded = new Uint8Array(c.input.length + 10);
    padded.set(c.input, 5);
    const viaView = await resizeRGB(padded.subarray(5, 5 + c.input.length), c.w, c.h, c.nw, c.nh);
    const viaBuffer = await resizeRGB(Buffer.from(c.input), c.w, c.h, c.nw, c.nh);
    expect(Buffer.from(viaView).equals(Buffer.from(c.output!))).toBe(true);
    expect(Buffer.from(viaBuffer).equals(Buffer.from(c.output!))).toBe(true);
    expect(Buffer.from(c.input).equals(before)).toBe(true);
  });
});

describe('resizeRGB argument checks', () => {
  const px = new Uint8Array(2 * 2 * 3);
  test.each([
    ['zero width', () => resizeRGB(px, 0, 2, 4, 4)],
    ['fractional height', () => resizeRGB(px, 2, 1.5, 4, 4)],
    ['negative target', () => resizeRGB(px, 2, 2, -4, 4)],
    ['NaN target', () => resizeRGB(px, 2, 2, 4, NaN)],
    ['wrong length', () => resizeRGB(px, 3, 2, 4, 4)],
    ['not a Uint8Array', () => resizeRGB([1, 2, 3] as unknown as Uint8Array, 1, 1, 2, 2)],
    ['Float32Array', () => resizeRGB(new Float32Array(12) as unknown as Uint8Array, 2, 2, 4, 4)],
  ])('%s is an InvalidArgumentError', async (_name, call) => {
    await expect(call()).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test('a target too large for the filter tables is an InvalidArgumentError, not a crash', async () => {
    await expect(resizeRGB(new Uint8Array(3), 1, 1, 300_000_000, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  test('same size returns an equal copy', async () => {
    const src = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const out = await resizeRGB(src, 2, 2, 2, 2);
    expect(out).not.toBe(src);
    expect(Array.from(out)).toEqual(Array.from(src));
  });

  test('the native export itself throws TypeError / RangeError synchronously', () => {
    const addon = native();
    const r = addon.resizeRGB!;
    const r4 = r as unknown as (...args: unknown[]) => unknown;
    expect(() => r4(px, 2, 2, 4)).toThrow(/expected 5 arguments/);
    expect(() => r('x' as unknown as Uint8Array, 2, 2, 4, 4)).toThrow(/data must be a Uint8Array/);
    expect(() => r(px, '2' as unknown as number, 2, 4, 4)).toThrow(/width must be a number/);
    expect(() => r(px, 2, 2, 0, 4)).toThrow(/newWidth must be an integer/);
    expect(() => r(px, 2, 2, 4, 2.5)).toThrow(/newHeight must be an integer/);
    expect(() => r(px, 2, 3, 4, 4)).toThrow(/needs 18/);
    // By name: errors made by the addon may come from another realm under jest.
    const nameOf = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).name;
      }
      return 'no error';
    };
    expect(nameOf(() => r4(px, 2, 2, 4))).toBe('TypeError');
    expect(nameOf(() => r(px, 2, 2, 0, 4))).toBe('RangeError');
    expect(nameOf(() => r(px, 2, 3, 4, 4))).toBe('RangeError');
  });
});
