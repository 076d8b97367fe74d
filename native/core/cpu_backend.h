// ggml's CPU backend, reached only through ggml's backend registry.
//
// In the default build (MINIMONKEY_BACKEND_DL) the CPU backend is one loadable module per variant
// (libggml-cpu-haswell.so, ...-zen4.so, ...-sapphirerapids.so) beside the addon. The first call here
// scores every variant for this CPU with the module's own ggml_backend_score (0 = cannot run) and
// loads the best one, or the one MINIMONKEY_CPU_VARIANT names. A static build (the sanitizer and
// fuzz builds) has one CPU backend linked in and loads nothing. Either way, callers get devices,
// backends, threads and abort callbacks from the registry, so the same code drives other backends.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"

namespace mm {

struct CpuVariant {
  std::string name;  // ggml's tag: x64, sse42, haswell, skylakex, zen4, sapphirerapids, ...
  std::string path;
  int score = 0;     // ggml_backend_score: 0 when this CPU cannot run it
};

struct CpuBackendInfo {
  std::string variant;   // the one loaded; a static build reports "static-<x86-64 level>"
  std::string chosen_by; // "score", "MINIMONKEY_CPU_VARIANT" or "static"
  std::vector<CpuVariant> variants;                          // every variant found, by file name
  std::vector<std::pair<std::string, std::string>> features;  // ggml_backend_get_features of the loaded one
};

/**
 * Loads the CPU backend once per process (thread-safe). Throws mm::Error: Unsupported when no
 * variant runs on this CPU or MINIMONKEY_CPU_VARIANT names one it cannot run, InvalidArgument when
 * that variable names no variant, ModelLoad when the modules are missing. A failure is remembered:
 * every later call throws the same error.
 */
const CpuBackendInfo& ensure_cpu_backend();

/** The folder of the binary this code is linked into (the addon or a tool); "" when unknown. */
std::string module_folder();

/** The CPU device (ensure_cpu_backend first). */
ggml_backend_dev_t cpu_device();

/** A new CPU backend with `threads` threads; the caller frees it with ggml_backend_free. */
ggml_backend_t new_cpu_backend(int threads);

/** ggml_threadpool_new / ggml_threadpool_free from the loaded CPU module (nullptr when it has none). */
ggml_threadpool_t new_cpu_threadpool(int threads);
void free_cpu_threadpool(ggml_threadpool_t pool);

/** Installs (or, with nullptr, removes) the abort callback of a CPU backend. */
void set_cpu_abort_callback(ggml_backend_t backend, ggml_abort_callback cb, void* data);

}  // namespace mm
