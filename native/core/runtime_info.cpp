#include "runtime_info.h"

#include "llama.h"

#ifndef MINIMONKEY_LLAMA_RELEASE
#define MINIMONKEY_LLAMA_RELEASE "unknown"
#endif

namespace mm {

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.cpu = ensure_cpu_backend();
  info.devices = ensure_devices();
  info.llama_release = MINIMONKEY_LLAMA_RELEASE;
  info.llama_commit = MINIMONKEY_LLAMA_COMMIT;
  info.ggml_system = llama_print_system_info();
  return info;
}

}  // namespace mm
