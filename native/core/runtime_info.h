// What this build of the native core is: versions and the SIMD features ggml was compiled with.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace mm {

struct RuntimeInfo {
  std::string llama_release;   // pinned llama.cpp release the build came from
  std::string ggml_system;     // ggml's own feature summary
  std::string cpu_level;       // x86-64 level of ggml's CPU backend (CMake MINIMONKEY_CPU)
  std::vector<std::pair<std::string, bool>> cpu_features;
};

RuntimeInfo runtime_info();

}  // namespace mm
