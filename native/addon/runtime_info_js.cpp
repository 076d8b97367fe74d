#include <napi.h>

#include "exports.h"
#include "runtime_info.h"

namespace mm_addon {

namespace {

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mm::RuntimeInfo ri = mm::runtime_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("llamaRelease", ri.llama_release);
  o.Set("ggmlSystemInfo", ri.ggml_system);
  o.Set("cpuLevel", ri.cpu_level);
  Napi::Object features = Napi::Object::New(env);
  for (const auto& f : ri.cpu_features) features.Set(f.first, f.second);
  o.Set("cpuFeatures", features);
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

}  // namespace

void RegisterRuntimeInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo, "runtimeInfo"));
}

}  // namespace mm_addon
