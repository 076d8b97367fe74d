// The addon lives inside someone's app: it must not leak ggml/llama/libstdc++ symbols into the
// host process (two copies of ggml in one Electron app would otherwise collide), and it drives
// ggml's CPU backend through the backend registry only, so the same code can drive other backends.
import { spawnSync } from 'node:child_process';
import { nativePath } from '../lib/native';

const onLinux = process.platform === 'linux' ? it : it.skip;

describe('addon binary', () => {
  onLinux('exports only the N-API module entry points', () => {
    const nm = spawnSync('nm', ['-D', '--defined-only', nativePath()], { encoding: 'utf8' });
    expect(nm.status).toBe(0);
    const symbols = nm.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).pop())
      .sort();
    expect(symbols).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  });

  onLinux('reaches ggml\'s CPU backend only through the registry: no link-time ggml_backend_cpu_* or ggml_cpu_* symbol', () => {
    const nm = spawnSync('nm', ['-D', '--undefined-only', nativePath()], { encoding: 'utf8' });
    expect(nm.status).toBe(0);
    const undefinedSymbols = nm.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!);
    expect(undefinedSymbols.some((s) => s.startsWith('ggml_backend_dev_'))).toBe(true); // the registry, used
    expect(undefinedSymbols.filter((s) => /^ggml_(backend_cpu|cpu)_/.test(s))).toEqual([]);
  });
});
