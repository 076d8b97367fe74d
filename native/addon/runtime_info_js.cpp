#include <napi.h>

#include "exports.h"
#include "guard.h"
#include "mm_limits.h"
#include "runtime_info.h"

namespace mm_addon {

namespace {

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mm::RuntimeInfo ri = mm::runtime_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("llamaRelease", ri.llama_release);
  o.Set("ggmlSystemInfo", ri.ggml_system);
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("variant", ri.cpu.variant);
  cpu.Set("chosenBy", ri.cpu.chosen_by);
  Napi::Array variants = Napi::Array::New(env, ri.cpu.variants.size());
  for (size_t i = 0; i < ri.cpu.variants.size(); ++i) {
    Napi::Object v = Napi::Object::New(env);
    v.Set("name", ri.cpu.variants[i].name);
    v.Set("score", ri.cpu.variants[i].score);
    variants.Set(static_cast<uint32_t>(i), v);
  }
  cpu.Set("variants", variants);
  Napi::Object features = Napi::Object::New(env);
  for (const auto& f : ri.cpu.features) features.Set(f.first, f.second);
  cpu.Set("features", features);
  o.Set("cpu", cpu);
  o.Set("napiVersion", NAPI_VERSION);
  // The native re-checks, reported so a test can hold them equal to lib/limits.ts.
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("maxThreads", mm::limits::kMaxThreads);
  limits.Set("minContext", mm::limits::kMinContext);
  limits.Set("maxContext", mm::limits::kMaxContext);
  limits.Set("maxBatch", mm::limits::kMaxBatch);
  limits.Set("maxTopK", mm::limits::kMaxTopK);
  limits.Set("maxRepeatLastN", mm::limits::kMaxRepeatLastN);
  limits.Set("maxGpuLayers", mm::limits::kMaxGpuLayers);
  o.Set("limits", limits);
  return o;
}

}  // namespace

void RegisterRuntimeInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("runtimeInfo", guarded_function<RuntimeInfo>(env, "runtimeInfo"));
}

}  // namespace mm_addon
