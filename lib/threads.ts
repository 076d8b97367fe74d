// How many threads ggml gets. ggml's workers spin-wait at every barrier, so a thread without a core of
// its own is a cliff, not a slope: 4 threads on 2 cores generated 15-25x slower than 2. The default is
// therefore the physical cores this process may use (as llama.cpp's `cpu_get_num_math`), and more
// threads than logical CPUs are refused (LIMITS.threads).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { checkInt, machineCores } from './limits';

/** CPUs a cgroup CPU quota allows (containers: `docker --cpus 2`), or undefined when unlimited. */
function cgroupCpus(): number | undefined {
  try {
    const [quota, period] = fs.readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    if (quota === 'max') return undefined;
    const n = Number(quota) / Number(period);
    return Number.isFinite(n) && n > 0 ? Math.max(1, Math.floor(n)) : undefined;
  } catch {
    return undefined;
  }
}

/** Linux: distinct cores among the online CPUs, from sysfs (each core lists its hardware threads once). */
function linuxCores(): number | undefined {
  try {
    const dir = '/sys/devices/system/cpu';
    const cores = new Set<string>();
    for (const name of fs.readdirSync(dir)) {
      if (!/^cpu\d+$/.test(name)) continue;
      try {
        cores.add(fs.readFileSync(`${dir}/${name}/topology/thread_siblings_list`, 'utf8').trim());
      } catch {
        // an offline CPU has no topology
      }
    }
    return cores.size > 0 ? cores.size : undefined;
  } catch {
    return undefined;
  }
}

/** macOS: the performance cores on Apple silicon (efficiency cores slow every barrier), else all cores. */
function macCores(): number | undefined {
  for (const key of ['hw.perflevel0.physicalcpu', 'hw.physicalcpu']) {
    try {
      const n = Number(execFileSync('sysctl', ['-n', key], { encoding: 'utf8', timeout: 2000 }).trim());
      if (Number.isSafeInteger(n) && n > 0) return n;
    } catch {
      // key absent (Intel Macs have no perflevels)
    }
  }
  return undefined;
}

let cached: number | undefined;

/**
 * Physical cores this process may use: Linux from sysfs, macOS from sysctl; elsewhere (Windows) half the
 * logical CPUs above 4, as llama.cpp guesses where it cannot ask. Never more than the logical CPUs the
 * process may run on (affinity) or a cgroup quota allows.
 */
export function physicalCores(): number {
  if (cached !== undefined) return cached;
  const logical = machineCores();
  let physical: number | undefined;
  if (process.platform === 'linux') physical = linuxCores();
  else if (process.platform === 'darwin') physical = macCores();
  physical ??= logical <= 4 ? logical : Math.floor(logical / 2);
  cached = Math.max(1, Math.min(physical, logical, cgroupCpus() ?? Infinity));
  return cached;
}

/** The default thread count everywhere (API, CLI, server, benchmarks): the physical cores. */
export function defaultThreads(): number {
  return physicalCores();
}

/** `threads` checked against LIMITS.threads (1 to the logical CPUs), or the default. */
export function checkThreads(threads: number | undefined): number {
  return checkInt('threads', threads) ?? defaultThreads();
}
