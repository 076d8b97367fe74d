// The hard limits native code re-checks (the same numbers as lib/limits.ts, which checks every
// option first and says them to the user; runtimeInfo().limits reports these so a test can hold
// the two tables equal). Each guards something that would crash or wrap: ggml's thread-pool size,
// a uint32 context size, the penalty ring libllama allocates.
#pragma once
#include <cstdint>

namespace mm::limits {

constexpr int kMaxThreads = 512;  // GGML_MAX_N_THREADS
constexpr int kMinContext = 64;
constexpr int kMaxContext = 131072;
constexpr int kMaxBatch = 8192;
constexpr int kMaxTopK = 1 << 20;
constexpr int kMaxRepeatLastN = kMaxContext;
constexpr int kMaxGpuLayers = 1024;
constexpr int kMaxDeviceName = 64;  // a ggml device name ("Vulkan0", "CUDA1"), or auto / cpu
constexpr int kMaxParallel = 64;  // sequences of one context (libllama: LLAMA_MAX_SEQ, 256)
// libllama pads every context size (and each sequence's) to this; a lone chat grows by it. Not a
// bound but a fact both sides size by: lib/limits.ts DEFAULTS.contextStep is held equal to it.
constexpr int kContextStep = 256;

}  // namespace mm::limits
