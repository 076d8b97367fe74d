import { runtimeInfo } from '../lib';
import { quantize } from '../lib/native';
import { bestCpuLevel, cpuLevels, CpuFeatures, detectCpuFeatures } from '../lib/addon-loader';

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

  x64('this machine is detected through the CPUID probe when one was built', () => {
    const f = detectCpuFeatures();
    expect(f.flags.size).toBeGreaterThan(0);
    expect(['cpuid', '/proc/cpuinfo']).toContain(f.source);
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
