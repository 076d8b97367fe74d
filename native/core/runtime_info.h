// What this build of the native core is: versions, the CPU variant ggml loaded and its features.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "cpu_backend.h"
#include "devices.h"

namespace mm {

struct RuntimeInfo {
  std::string llama_release;  // pinned llama.cpp release the build came from
  std::string llama_commit;   // the llama.cpp commit of that release
  std::string ggml_system;    // ggml's own feature summary
  CpuBackendInfo cpu;         // the loaded CPU variant, how it was chosen, the others, its features
  DevicesInfo devices;        // every ggml device (CPU first) and every GPU backend module found
};

/** Loads the CPU backend and GPU modules if nothing has yet (so it can throw what ensure_cpu_backend throws). */
RuntimeInfo runtime_info();

}  // namespace mm
