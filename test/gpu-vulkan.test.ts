// GPUs, proven on a machine without one: ggml's Vulkan backend (built from the pinned source by
// `npm run build:gpu -- vulkan`, here on demand) on Mesa's software Vulkan driver, lavapipe. The
// vision tower, SCM's pre-pass, the language model and a chat run on the device `Vulkan0` and are
// held to the CPU path on the same tiny pair; a device that cannot start falls back to the CPU.
// Each run is a child process: ggml enumerates devices once per process, from its environment.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { relError, tempDir, tinyPair } from './helpers/models';

const root = path.join(__dirname, '..');
const moduleFile = path.join(root, 'build', 'backends', 'libggml-vulkan.so');
const lavapipe = ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', '/usr/share/vulkan/icd.d/lvp_icd.aarch64.json'].find((f) => fs.existsSync(f));
const onLinux = process.platform === 'linux' ? describe : describe.skip;

// Tolerances: measured on the tiny pair (f32 weights) on lavapipe, as a fraction of the largest
// value: vision 6.2e-4, SCM layer 0 8.3e-4 (scores 5.3e-4), logits 6.4e-4, about f16's precision
// (4.9e-4), where a wrong op is off by 1e-1 and more. ggml's Vulkan shaders keep intermediates in
// f16 where the device has it: with GGML_VK_DISABLE_F16 the vision error drops to 6e-7, while SCM
// (2.3e-4) and the logits (5.8e-4) keep most of theirs (other shader paths; not isolated).
const TOL = { vision: 2e-3, scm: 2e-3, logits: 2e-3 };

let pair: { model: string; mmproj: string };
let n = 0;

interface ChildResult {
  runtime: { name: string; backend: string; description: string; type: string; memoryTotal: number }[];
  modules: { name: string; path: string; loaded: boolean; error?: string }[];
  vision: { device: string; note: string; weightBuffer: string; out: number[]; grown: number[]; computeBytes: number };
  scm?: { kept: number[]; scores: number[]; layer0: number[] };
  text?: { device: string; note: string; gpuLayers: number; logits: number[] };
  chat?: { device: { vision: string; text: string; gpuLayers: number; note?: string }; tokenIds: number[] };
  abort?: { code: string; ms: number };
  abortVision?: { code: string; whole: number; ms: number };
}

function child(device: string, env: Record<string, string | undefined>, mode = ''): ChildResult {
  const out = path.join(tempDir(), `device-${n++}.json`);
  const r = spawnSync(process.execPath, [path.join(__dirname, 'helpers', 'device-child.mjs'), device, pair.model, pair.mmproj, out, mode], {
    encoding: 'utf8',
    timeout: 900_000,
    env: { ...process.env, GGML_VK_VISIBLE_DEVICES: undefined, VK_ICD_FILENAMES: undefined, ...env },
  });
  if (r.status !== 0) throw new Error(`device child (${device}) failed: ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as ChildResult;
}

// lavapipe is a CPU-type Vulkan device, which ggml leaves out unless asked for by index.
const onLavapipe = { GGML_VK_VISIBLE_DEVICES: '0', VK_ICD_FILENAMES: lavapipe };

onLinux('Vulkan on lavapipe', () => {
  let cpu: ChildResult;
  let vk: ChildResult;

  beforeAll(async () => {
    if (!lavapipe) throw new Error("Mesa's lavapipe is missing: scripts/setup-system.sh installs mesa-vulkan-drivers");
    const sources = path.join(root, 'deps', 'llama.cpp', 'ggml', 'src', 'ggml-vulkan', 'ggml-vulkan.cpp');
    if (!fs.existsSync(moduleFile) || fs.statSync(moduleFile).mtimeMs < fs.statSync(sources).mtimeMs) {
      execFileSync(process.execPath, [path.join(root, 'scripts', 'build-gpu.mjs'), 'vulkan'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    pair = await tinyPair('f32', 6);
    cpu = child('cpu', onLavapipe);
    vk = child('Vulkan0', onLavapipe);
  }, 3_600_000);

  test('runtimeInfo lists the device ggml found, with its memory', () => {
    const d = vk.runtime.find((x) => x.name === 'Vulkan0');
    expect(d).toMatchObject({ backend: 'Vulkan' });
    expect(d!.description).toMatch(/llvmpipe/);
    expect(d!.memoryTotal).toBeGreaterThan(0);
    expect(vk.runtime[0]).toMatchObject({ name: 'CPU', type: 'cpu' });
  });

  test('the vision tower runs on Vulkan0 (weights in its memory) and equals the CPU', () => {
    expect(cpu.vision).toMatchObject({ device: 'CPU', note: '' });
    expect(vk.vision).toMatchObject({ device: 'Vulkan0', weightBuffer: 'Vulkan0', note: '' });
    const e = relError(vk.vision.out, cpu.vision.out);
    console.log(`vulkan vs cpu: vision ${e.toExponential(2)}`);
    expect(e).toBeLessThan(TOL.vision);
    // Then 4 tiles (the same two first): more compute memory on a backend that has computed, which
    // corrupted the heap on Vulkan until the runner took a fresh backend for it (graph_runner.cpp).
    expect(relError(vk.vision.grown, vk.vision.out)).toBeLessThan(1e-5);
    expect(relError(cpu.vision.grown, cpu.vision.out)).toBeLessThan(1e-5);
    // computeBytes measures on a backend of its own, on either device.
    expect(vk.vision.computeBytes).toBeGreaterThan(0);
    expect(cpu.vision.computeBytes).toBeGreaterThan(0);
  });

  test("SCM's pre-pass on Vulkan0: the same layer-0 output, scores and kept indices", () => {
    const le = relError(vk.scm!.layer0, cpu.scm!.layer0);
    const se = relError(vk.scm!.scores, cpu.scm!.scores);
    console.log(`vulkan vs cpu: scm layer0 ${le.toExponential(2)}, scores ${se.toExponential(2)}`);
    expect(le).toBeLessThan(TOL.scm);
    expect(se).toBeLessThan(TOL.scm);
    expect(vk.scm!.kept).toEqual(cpu.scm!.kept);
  });

  test('the language model on Vulkan0: every layer there, the same logits and the same greedy chat', () => {
    expect(vk.text).toMatchObject({ device: 'Vulkan0', note: '' });
    expect(vk.text!.gpuLayers).toBeGreaterThan(0);
    expect(cpu.text).toMatchObject({ device: 'CPU', gpuLayers: 0 });
    const e = relError(vk.text!.logits, cpu.text!.logits);
    console.log(`vulkan vs cpu: logits ${e.toExponential(2)}`);
    expect(e).toBeLessThan(TOL.logits);
    expect(vk.chat!.device).toMatchObject({ vision: 'Vulkan0', text: 'Vulkan0' });
    expect(vk.chat!.tokenIds.length).toBeGreaterThan(0);
    expect(vk.chat!.tokenIds).toEqual(cpu.chat!.tokenIds);
  });

  test('an abort stops a run on Vulkan0: between SCM chunks, and inside one vision graph', () => {
    const a = child('Vulkan0', onLavapipe, 'abort');
    expect(a.abort!.code).toBe('ABORTED');
    const v = a.abortVision!;
    console.log(`vulkan abort: 48 tiles take ${v.whole} ms; aborted at ${Math.floor(v.whole / 10)} ms, returned after ${v.ms} ms`);
    expect(v.code).toBe('ABORTED');
    expect(v.ms).toBeLessThan(v.whole);
  }, 900_000);

  test("'auto' leaves lavapipe out (a CPU-type Vulkan device is slower than our CPU path)", () => {
    const a = child('auto', { VK_ICD_FILENAMES: lavapipe });
    expect(a.vision.device).toBe('CPU');
    expect(a.runtime.some((d) => d.backend === 'Vulkan')).toBe(false);
    expect(a.vision.out).toEqual(cpu.vision.out);
  }, 900_000);

  test('a Vulkan device that cannot start falls back to the CPU, saying why', () => {
    // An index past the devices: ggml's Vulkan backend refuses to register, as with a broken driver.
    const f = child('Vulkan0', { GGML_VK_VISIBLE_DEVICES: '7', VK_ICD_FILENAMES: lavapipe });
    expect(f.vision.device).toBe('CPU');
    expect(f.vision.note).toMatch(/Vulkan0 is unavailable: ggml's vulkan backend did not load .*; using the CPU/);
    expect(f.chat!.device.note).toMatch(/using the CPU/);
    expect(f.vision.out).toEqual(cpu.vision.out);
    expect(f.chat!.tokenIds).toEqual(cpu.chat!.tokenIds);
  }, 900_000);

  test('the optional package @minimonkey/vulkan-linux-x64, installed with npm, is where the module comes from', () => {
    // As docs/GPU-BUILDS.md shows it (npm runs no pre-script for it: there is no "prepackage:gpu").
    execFileSync('npm', ['run', 'package:gpu', '--', 'vulkan'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    const app = fs.mkdtempSync(path.join(tempDir(), 'app-'));
    const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', app, path.join(root, 'build', 'packages', `vulkan-linux-${process.arch}`)], { encoding: 'utf8' }).trim();
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    // --legacy-peer-deps: its peer, minimonkey, is this checkout, not a registry package.
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--legacy-peer-deps', '--offline', path.join(app, tgz)], { cwd: app, stdio: 'ignore' });
    const installed = path.join(app, 'node_modules', '@minimonkey', `vulkan-linux-${process.arch}`, 'lib');
    const a = child('Vulkan0', { ...onLavapipe, NODE_PATH: path.join(app, 'node_modules') });
    expect(a.modules.find((m) => m.name === 'vulkan')).toMatchObject({ loaded: true, path: path.join(installed, 'libggml-vulkan.so') });
    expect(a.vision.device).toBe('Vulkan0');
    expect(a.vision.out).toEqual(vk.vision.out);
  }, 900_000);

  test('a device name that is no device is INVALID_ARGUMENT, naming the ones there are', () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'helpers', 'device-child.mjs'), 'Vulkan9', pair.model, pair.mmproj, path.join(tempDir(), 'x.json')], {
      encoding: 'utf8',
      env: { ...process.env, ...onLavapipe },
    });
    expect(r.status).not.toBe(0);
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(/INVALID_ARGUMENT|no device named 'Vulkan9'; this process has CPU, Vulkan0/);
  }, 900_000);
});
