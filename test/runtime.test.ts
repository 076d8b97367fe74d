import { runtimeInfo } from '../lib';
import { quantize } from '../lib/native';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bestCpuLevel, chooseAddon, cpuLevels, CpuFeatures, detectCpuFeatures, outsideAsar, packageRoot } from '../lib/addon-loader';

describe('runtimeInfo', () => {
  const info = runtimeInfo();

  it('reports version, pinned llama.cpp release and the loaded addon', () => {
    expect(info.version).toBe(require('../package.json').version);
    expect(info.llamaRelease).toBe('v0.5.0');
    expect(info.addonPath).toMatch(/minimonkey(\.[\w-]+)*\.node$/);
    expect(typeof info.prebuilt).toBe('boolean');
  });

  it('reports the x86-64 level and the SIMD features ggml was built with, and they agree', () => {
    if (process.arch !== 'x64') return;
    const v3 = info.cpuLevel === 'x86-64-v3';
    expect(['x86-64-v3', 'x86-64-v2', 'x86-64', 'native']).toContain(info.cpuLevel);
    if (info.cpuLevel !== 'native') {
      expect(info.cpuFeatures).toMatchObject({ avx2: v3, fma: v3, f16c: v3 });
      expect(info.ggmlSystemInfo).toContain(`AVX2 = ${v3 ? 1 : 0}`);
    }
  });
});

describe('quantize (ggml quantizer)', () => {
  it('q8_0 stores 34 bytes per 32 values and round-trips within the block scale', async () => {
    const data = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
    const q = await quantize('q8_0', data, 32);
    expect(q.length).toBe(2 * 34);
    const view = new DataView(q.buffer, q.byteOffset, q.byteLength);
    for (let b = 0; b < 2; b++) {
      // the f16 scale d followed by 32 int8 values: x ≈ d·q
      const d = f16ToF32(view.getUint16(b * 34, true));
      for (let i = 0; i < 32; i++) {
        const x = data[b * 32 + i];
        expect(Math.abs(d * view.getInt8(b * 34 + 2 + i) - x)).toBeLessThanOrEqual(d * 0.5 + 1e-3);
      }
    }
  });

  it('f16 halves the size and keeps values', async () => {
    const data = Float32Array.from([1, -2, 0.5, 65504]);
    const q = await quantize('f16', data, 4);
    expect(q.length).toBe(8);
    const view = new DataView(q.buffer, q.byteOffset);
    expect([0, 1, 2, 3].map((i) => f16ToF32(view.getUint16(i * 2, true)))).toEqual([1, -2, 0.5, 65504]);
  });

  it('rejects rows that do not fill whole blocks and unknown types, with typed codes', async () => {
    await expect(quantize('q4_0', new Float32Array(30), 30)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(quantize('q3_x', new Float32Array(32), 32)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

describe('choosing the addon for this CPU', () => {
  const x64 = process.arch === 'x64' ? it : it.skip;
  const flags = (list: string[]): CpuFeatures => ({ flags: new Set(list), source: 'cpuid' });
  const v2 = ['ssse3', 'sse4_1', 'sse4_2', 'popcnt'];
  const v3 = [...v2, 'avx', 'avx2', 'fma', 'f16c', 'bmi2'];

  const x64Linux = process.arch === 'x64' && process.platform === 'linux' ? it : it.skip;
  x64Linux('the CPUID probe (built beside the addon) agrees with the kernel on every flag a level needs', () => {
    const f = detectCpuFeatures();
    expect(f.source).toBe('cpuid');
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'))!;
    const kernel = new Set(line.split(':')[1].trim().split(/\s+/));
    for (const flag of cpuLevels.flatMap((l) => l.flags)) expect([flag, f.flags.has(flag)]).toEqual([flag, kernel.has(flag)]);
  });
  x64Linux('a source build made for a level this CPU lacks is left out, and the reason says so', () => {
    const level = JSON.parse(fs.readFileSync(path.join(packageRoot, 'build', 'Release', 'build-info.json'), 'utf8')).cpuLevel;
    const built = path.join(packageRoot, 'build', 'Release', 'minimonkey.node');
    expect(chooseAddon(flags(v3)).candidates).toContain(built);
    const old = chooseAddon(flags(['sse3']));
    expect(old.candidates).not.toContain(built);
    expect(old.skipped.join('\n')).toContain(`the source build in ${path.dirname(built)} is built for ${level}, and this CPU lacks`);
  });
  it('in an Electron app, binaries are taken from app.asar.unpacked when it holds them', () => {
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-asar-'));
    try {
      const inside = path.join(app, 'app.asar', 'node_modules', 'minimonkey', 'prebuilds');
      expect(outsideAsar(inside)).toBe(inside); // nothing unpacked: the path is left as it is
      fs.mkdirSync(path.join(app, 'app.asar.unpacked', 'node_modules', 'minimonkey', 'prebuilds'), { recursive: true });
      expect(outsideAsar(inside)).toBe(path.join(app, 'app.asar.unpacked', 'node_modules', 'minimonkey', 'prebuilds'));
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  });
  it('takes the best level whose flags the CPU has', () => {
    expect(bestCpuLevel(flags(v3))).toBe('x86-64-v3');
    expect(bestCpuLevel(flags(v3.filter((f) => f !== 'fma')))).toBe('x86-64-v2'); // AVX2 without FMA (VIA, some VMs)
    expect(bestCpuLevel(flags(v2))).toBe('x86-64-v2');
    expect(bestCpuLevel(flags(['sse3']), ['x86-64-v3', 'x86-64-v2'])).toBeUndefined();
    expect(bestCpuLevel(flags(v3), ['x86-64-v2'])).toBe('x86-64-v2');
  });
  it('takes the lowest level offered when the features cannot be read', () => {
    expect(bestCpuLevel({ flags: new Set(), source: 'unknown' }, ['x86-64-v3', 'x86-64-v2'])).toBe('x86-64-v2');
  });
  it('the levels are ordered best first, each needing more than the next', () => {
    for (let i = 1; i < cpuLevels.length; i++) {
      expect(cpuLevels[i - 1].flags.length).toBeGreaterThan(cpuLevels[i].flags.length);
    }
  });
});
