// sharp (libvips), loaded on first use rather than at require time. Its prebuilt linux-x64 binary
// needs SSE4.2 (x86-64-v2): on an older CPU requiring it is a SIGILL that kills the process, while
// the rest of minimonkey runs there on ggml's baseline `x64` variant. So the CPU is asked first
// (through ggml's own CPUID check: the `sse42` variant's score), and such a CPU gets a typed error
// for encoded images and drawings; RGB8 raw pixels never need sharp.
import type sharpType from 'sharp';
import { UnsupportedCpuError } from '../errors';

let loaded: typeof sharpType | undefined;

function cpuRunsSharp(): boolean {
  if (process.arch !== 'x64') return true;
  const { runtimeInfo } = require('../runtime') as typeof import('../runtime');
  let variants: { name: string; score: number }[];
  try {
    variants = runtimeInfo().cpu.variants;
  } catch {
    return true; // no addon to ask (or it refused to load): nothing says the CPU lacks SSE4.2
  }
  const sse42 = variants.find((v) => v.name === 'sse42');
  return sse42 === undefined || sse42.score > 0; // a static build has no variants: its level was checked at build
}

/** The sharp module; UnsupportedCpuError on an x86-64 CPU without SSE4.2. */
export function sharpLib(): typeof sharpType {
  if (loaded) return loaded;
  if (!cpuRunsSharp()) {
    throw new UnsupportedCpuError(
      'decoding and drawing images uses sharp (libvips), whose binary needs SSE4.2, which this CPU lacks; ' +
        'pass the image as raw RGB8 pixels ({ data, width, height, channels: 3 }), which minimonkey handles without sharp',
    );
  }
  loaded = require('sharp') as typeof sharpType;
  return loaded;
}
