import { runtimeInfo } from '../lib';
import { quantize } from '../lib/native';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { addonCandidates, findAddons, loadAddon, outsideAsar, packageRoot } from '../lib/addon-loader';
import { NativeLoadError } from '../lib/errors';

describe('runtimeInfo', () => {
  const info = runtimeInfo();

  it('reports version, pinned llama.cpp release and the loaded addon', () => {
    expect(info.version).toBe(require('../package.json').version);
    expect(info.llamaRelease).toBe('v0.5.0');
    // The commit anyone can look up, the one scripts/fetch-llama.mjs pins and unpacks.
    expect(info.llamaCommit).toBe(fs.readFileSync(path.join(__dirname, '..', 'scripts', 'fetch-llama.mjs'), 'utf8').match(/commit: '([0-9a-f]{40})'/)![1]);
    expect(info.addonPath).toMatch(/minimonkey(\.[\w-]+)*\.node$/);
    expect(['package', 'prebuilds', 'build', 'env']).toContain(info.addonSource);
    expect(typeof info.prebuilt).toBe('boolean');
  });

  it('names the CPU variant ggml loaded: the best-scoring one, and it uses nothing this CPU lacks', () => {
    expect(info.cpuModel.length).toBeGreaterThan(0);
    const { variant, chosenBy, variants, features } = info.cpu;
    expect(chosenBy).toBe('score');
    expect(variants.length).toBeGreaterThan(1);
    const best = [...variants].sort((a, b) => b.score - a.score)[0];
    expect(variant).toBe(best.name);
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    // ggml's feature names against the kernel's, for what the variant was compiled to use.
    const kernel = cpuFlags();
    const needs: Record<string, string[]> = {
      SSE3: ['pni'], SSSE3: ['ssse3'], AVX: ['avx'], AVX2: ['avx2'], F16C: ['f16c'], FMA: ['fma'], BMI2: ['bmi2'],
      AVX_VNNI: ['avx_vnni'], AVX512: ['avx512f'], AVX512_VBMI: ['avx512vbmi'], AVX512_VNNI: ['avx512_vnni'],
      AVX512_BF16: ['avx512_bf16'], AMX_INT8: ['amx_int8', 'amx_tile'],
    };
    for (const [name, value] of Object.entries(features)) {
      if (value === '1' && needs[name]) expect([name, needs[name].filter((f) => !kernel.has(f))]).toEqual([name, []]);
    }
    // And it is the best one: a CPU with AVX2 and FMA gets at least the AVX2 code.
    if (kernel.has('avx2') && kernel.has('fma')) expect(features).toMatchObject({ AVX2: '1', FMA: '1' });
    if (kernel.has('avx512f') && kernel.has('avx512bw')) expect(features).toMatchObject({ AVX512: '1' });
  });

  it('ggml\'s system summary agrees with the loaded variant', () => {
    if (process.arch !== 'x64') return;
    expect(info.ggmlSystemInfo).toContain(`AVX2 = ${info.cpu.features.AVX2 === '1' ? 1 : 0}`);
  });
});

function cpuFlags(): Set<string> {
  const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'))!;
  return new Set(line.split(':')[1].trim().split(/\s+/));
}

/** `minimonkey runtime --json` in a child process with `env`, for what only a fresh process can show. */
function runtimeIn(env: Record<string, string>) {
  const cli = path.join(packageRoot, 'dist', 'lib', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'runtime', '--json'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stderr: r.stderr, info: r.status === 0 ? JSON.parse(r.stdout) : undefined };
}

describe('MINIMONKEY_CPU_VARIANT', () => {
  const variants = runtimeInfo().cpu.variants;
  const runnable = variants.filter((v) => v.score > 0);
  const worst = [...runnable].sort((a, b) => a.score - b.score)[0];

  it('forces a variant the CPU runs, and runtimeInfo says so', () => {
    const r = runtimeIn({ MINIMONKEY_CPU_VARIANT: worst.name });
    expect(r.status).toBe(0);
    expect(r.info.cpu).toMatchObject({ variant: worst.name, chosenBy: 'MINIMONKEY_CPU_VARIANT' });
  });

  it('an install without the CPU modules is MODEL_LOAD saying so, not a crash and not ggml searching elsewhere', () => {
    if (process.platform !== 'linux') return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-nomodules-'));
    try {
      const built = path.join(packageRoot, 'build', 'Release');
      for (const f of fs.readdirSync(built).filter((f) => f === 'minimonkey.node' || f.startsWith('libmm-'))) fs.copyFileSync(path.join(built, f), path.join(dir, f));
      const r = runtimeIn({ MINIMONKEY_ADDON_PATH: path.join(dir, 'minimonkey.node') });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('[MODEL_LOAD]');
      expect(r.stderr).toContain(`modules (libggml-cpu-*.so) are missing from ${fs.realpathSync(dir)}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a name no variant has is INVALID_ARGUMENT that lists the variants', () => {
    const r = runtimeIn({ MINIMONKEY_CPU_VARIANT: 'pentium-mmx' });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[INVALID_ARGUMENT]');
    expect(r.stderr).toContain(worst.name);
  });

  const cannot = variants.find((v) => v.score === 0);
  (cannot ? it : it.skip)(`a variant this CPU cannot run is UNSUPPORTED_CPU, not a crash (${cannot?.name ?? 'none here: qemu covers it'})`, () => {
    const r = runtimeIn({ MINIMONKEY_CPU_VARIANT: cannot!.name });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[UNSUPPORTED_CPU]');
  });

  it('the forced variant computes: a q8_0 vision tower on the baseline variant equals the best one within q8_0 noise', async () => {
    const { tinyPair } = await import('./helpers/models');
    const pair = await tinyPair('q8_0', 2);
    const script = `
      const { VisionEncoder } = require(${JSON.stringify(path.join(packageRoot, 'dist', 'lib', 'index.js'))});
      (async () => {
        const enc = await VisionEncoder.load(${JSON.stringify(pair.mmproj)}, { threads: 2 });
        const n = enc.info.imageSize;
        const tiles = new Float32Array(3 * n * n).map((_, i) => Math.sin(i * 0.37));
        const out = await enc.encode(tiles, 1);
        process.stdout.write(JSON.stringify({ buffer: enc.info.weightBuffer, out: Array.from(out.slice(0, 4096)) }));
        enc.dispose();
      })();`;
    const run = (env: Record<string, string>) => {
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
      if (r.status !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout) as { buffer: string; out: number[] };
    };
    const best = run({});
    const base = run({ MINIMONKEY_CPU_VARIANT: worst.name });
    expect(base.buffer).toBe('CPU');
    let num = 0;
    let den = 0;
    for (let i = 0; i < best.out.length; i++) {
      num += (best.out[i] - base.out[i]) ** 2;
      den += base.out[i] ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(0.02);
  }, 120_000);
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

describe('choosing the addon', () => {
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

  it('a source build newer than the prebuilt set is tried first, an older one after it; nothing is deleted', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-loader-'));
    const saved = process.env.MINIMONKEY_ADDON_PATH;
    delete process.env.MINIMONKEY_ADDON_PATH;
    try {
      const dirs = { prebuilt: path.join(dir, 'prebuilds', 'linux-x64'), built: path.join(dir, 'build', 'Release') };
      for (const d of Object.values(dirs)) {
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, 'minimonkey.node'), '');
      }
      const packedAt = new Date('2026-06-01T00:00:00Z');
      fs.utimesSync(path.join(dirs.prebuilt, 'minimonkey.node'), packedAt, packedAt);
      const builtAt = (iso: string) => fs.writeFileSync(path.join(dirs.built, 'build-info.json'), JSON.stringify({ builtAt: iso }));
      builtAt('2026-07-01T00:00:00Z');
      expect(addonCandidates(dirs)).toEqual([path.join(dirs.built, 'minimonkey.node'), path.join(dirs.prebuilt, 'minimonkey.node')]);
      builtAt('2026-05-01T00:00:00Z');
      expect(addonCandidates(dirs)).toEqual([path.join(dirs.prebuilt, 'minimonkey.node'), path.join(dirs.built, 'minimonkey.node')]);
      expect(Object.values(dirs).every((d) => fs.existsSync(path.join(d, 'minimonkey.node')))).toBe(true);
    } finally {
      if (saved !== undefined) process.env.MINIMONKEY_ADDON_PATH = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the platform package', () => {
    // A main package folder with @minimonkey/linux-x64 installed beside it, the way npm lays them out.
    const layout = (platformVersion: string) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-platform-'));
      const main = path.join(dir, 'node_modules', 'minimonkey');
      const pkg = path.join(dir, 'node_modules', '@minimonkey', 'linux-x64');
      for (const [d, name, version] of [[main, 'minimonkey', '1.2.3'], [pkg, '@minimonkey/linux-x64', platformVersion]]) {
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ name, version }));
      }
      fs.writeFileSync(path.join(pkg, 'minimonkey.node'), '');
      const dirs = { prebuilt: path.join(main, 'prebuilds', 'linux-x64'), built: path.join(main, 'build', 'Release'), main, packageName: '@minimonkey/linux-x64' };
      return { dir, pkg, dirs };
    };
    const withoutEnv = (f: () => void) => {
      const saved = process.env.MINIMONKEY_ADDON_PATH;
      delete process.env.MINIMONKEY_ADDON_PATH;
      try {
        f();
      } finally {
        if (saved !== undefined) process.env.MINIMONKEY_ADDON_PATH = saved;
      }
    };

    it('of the same version is tried before the checkout\'s prebuilds/ and an older source build', () => withoutEnv(() => {
      const { dir, pkg, dirs } = layout('1.2.3');
      try {
        for (const d of [dirs.prebuilt, dirs.built]) {
          fs.mkdirSync(d, { recursive: true });
          fs.writeFileSync(path.join(d, 'minimonkey.node'), '');
        }
        fs.writeFileSync(path.join(dirs.built, 'build-info.json'), JSON.stringify({ builtAt: '2020-01-01T00:00:00Z' }));
        const { candidates, refused } = findAddons(dirs);
        expect(refused).toBeUndefined();
        expect(candidates).toEqual([
          { file: path.join(pkg, 'minimonkey.node'), source: 'package', package: { name: '@minimonkey/linux-x64', version: '1.2.3' } },
          { file: path.join(dirs.prebuilt, 'minimonkey.node'), source: 'prebuilds' },
          { file: path.join(dirs.built, 'minimonkey.node'), source: 'build' },
        ]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));

    it('of another version is refused: never loaded, and NativeLoadError names the version to install', () => withoutEnv(() => {
      const { dir, dirs } = layout('1.2.0');
      try {
        expect(findAddons(dirs).candidates).toEqual([]);
        let err: unknown;
        try {
          loadAddon(dirs);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(NativeLoadError);
        expect(err).toMatchObject({ code: 'NATIVE_LOAD' });
        expect((err as Error).message).toContain('@minimonkey/linux-x64@1.2.0');
        expect((err as Error).message).toContain('install @minimonkey/linux-x64@1.2.3');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));
  });

  it('MINIMONKEY_ADDON_PATH comes first; then this source build (no prebuilt set here)', () => {
    const built = path.join(packageRoot, 'build', 'Release', 'minimonkey.node');
    const saved = process.env.MINIMONKEY_ADDON_PATH;
    try {
      process.env.MINIMONKEY_ADDON_PATH = __filename;
      expect(addonCandidates()[0]).toBe(__filename);
      delete process.env.MINIMONKEY_ADDON_PATH;
      expect(addonCandidates()).toContain(built);
    } finally {
      if (saved === undefined) delete process.env.MINIMONKEY_ADDON_PATH;
      else process.env.MINIMONKEY_ADDON_PATH = saved;
    }
  });
});

describe('the device option', () => {
  it('runtimeInfo lists the CPU first, with its memory', () => {
    const { devices } = runtimeInfo();
    expect(devices[0]).toMatchObject({ name: 'CPU', type: 'cpu' });
    expect(devices[0].memoryTotal).toBeGreaterThan(0);
  });

  it('a malformed device is INVALID_ARGUMENT at the edge and again in the addon, before any file is read', async () => {
    const { VisionEncoder } = await import('../lib/vision/encoder');
    const { TextModel } = await import('../lib/llm/text-model');
    const { native } = await import('../lib/native');
    for (const device of ['', 'a b', '../x', 'x'.repeat(65), 5]) {
      await expect(VisionEncoder.load('/nonexistent.gguf', { device: device as string })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(TextModel.load('/nonexistent.gguf', { device: device as string })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(() => native().loadVisionEncoder('/nonexistent.gguf', 1, 'x'.repeat(65))).toThrow(/at most 64 characters/);
    expect(() => native().loadVisionEncoder('/nonexistent.gguf', 1, 'a/b')).toThrow(/letters, digits/);
  });

  it('the CLI refuses a malformed --device as a usage error (exit 2)', () => {
    const r = spawnSync(process.execPath, [path.join(packageRoot, 'dist', 'lib', 'cli', 'main.js'), 'ask', 'x.png', 'q', '--model', 'm.gguf', '--mmproj', 'p.gguf', '--device', 'a b'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--device/);
  });
});
