// The thread default is the physical cores (ggml spin-waits: a thread without a core stalls every
// barrier), and more threads than logical CPUs are refused with the range. Linux's count is checked
// against util-linux's lscpu, an independent reader of the same topology.
import { spawnSync } from 'node:child_process';
import { MiniMonkey, runtimeInfo } from '../lib';
import { machineCores } from '../lib/limits';
import { defaultThreads, physicalCores } from '../lib/threads';
import { tinyPair } from './helpers/models';

const onLinux = process.platform === 'linux' ? it : it.skip;

describe('threads', () => {
  onLinux('the default is the physical cores lscpu counts, within the CPUs this process may use', () => {
    const r = spawnSync('lscpu', ['-p=CORE,SOCKET,ONLINE'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const cores = new Set(r.stdout.split('\n').filter((l) => l && !l.startsWith('#') && l.endsWith(',Y')).map((l) => l.split(',').slice(0, 2).join(',')));
    expect(cores.size).toBeGreaterThan(0);
    expect(physicalCores()).toBe(Math.min(cores.size, machineCores()));
    expect(defaultThreads()).toBe(physicalCores());
  });

  it('runtimeInfo says the default and the most allowed', () => {
    expect(runtimeInfo().threads).toEqual({ default: physicalCores(), physicalCores: physicalCores(), logicalCpus: machineCores(), max: Math.min(machineCores(), 512) });
  });

  it('more threads than logical CPUs are refused at load, naming the range; as many load', async () => {
    const pair = await tinyPair();
    await expect(MiniMonkey.load({ ...pair, threads: machineCores() + 1 }))
      .rejects.toThrow(`threads must be an integer from 1 to ${machineCores()} (got ${machineCores() + 1})`);
    const m = await MiniMonkey.load({ ...pair, threads: machineCores() });
    m.dispose();
  });
});
