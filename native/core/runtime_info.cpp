#include "runtime_info.h"

#include "ggml-cpu.h"
#include "llama.h"

#ifndef MINIMONKEY_LLAMA_RELEASE
#define MINIMONKEY_LLAMA_RELEASE "unknown"
#endif
#ifndef MINIMONKEY_CPU_LEVEL
#define MINIMONKEY_CPU_LEVEL "unknown"
#endif

namespace mm {

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.llama_release = MINIMONKEY_LLAMA_RELEASE;
  info.ggml_system = llama_print_system_info();
  info.cpu_level = MINIMONKEY_CPU_LEVEL;
  // ggml_cpu_has_* report what the CPU backend was compiled to use.
  info.cpu_features = {
      {"sse3", ggml_cpu_has_sse3() != 0},       {"ssse3", ggml_cpu_has_ssse3() != 0},
      {"avx", ggml_cpu_has_avx() != 0},         {"avx2", ggml_cpu_has_avx2() != 0},
      {"fma", ggml_cpu_has_fma() != 0},         {"f16c", ggml_cpu_has_f16c() != 0},
      {"bmi2", ggml_cpu_has_bmi2() != 0},       {"avx512", ggml_cpu_has_avx512() != 0},
      {"avx_vnni", ggml_cpu_has_avx_vnni() != 0}, {"neon", ggml_cpu_has_neon() != 0},
      {"arm_fma", ggml_cpu_has_arm_fma() != 0}, {"fp16_va", ggml_cpu_has_fp16_va() != 0},
  };
  return info;
}

}  // namespace mm
