#include <string>
#include <vector>

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
  o.Set("llamaCommit", ri.llama_commit);
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
  Napi::Array devices = Napi::Array::New(env, ri.devices.devices.size());
  for (size_t i = 0; i < ri.devices.devices.size(); ++i) {
    const mm::DeviceInfo& d = ri.devices.devices[i];
    Napi::Object v = Napi::Object::New(env);
    v.Set("name", d.name);
    v.Set("description", d.description);
    v.Set("backend", d.backend);
    v.Set("type", d.type);
    v.Set("memoryFree", static_cast<double>(d.memory_free));
    v.Set("memoryTotal", static_cast<double>(d.memory_total));
    devices.Set(static_cast<uint32_t>(i), v);
  }
  o.Set("devices", devices);
  Napi::Array modules = Napi::Array::New(env, ri.devices.modules.size());
  for (size_t i = 0; i < ri.devices.modules.size(); ++i) {
    const mm::BackendModuleInfo& m = ri.devices.modules[i];
    Napi::Object v = Napi::Object::New(env);
    v.Set("name", m.name);
    v.Set("path", m.path);
    v.Set("loaded", m.loaded);
    if (!m.error.empty()) v.Set("error", m.error);
    modules.Set(static_cast<uint32_t>(i), v);
  }
  o.Set("backendModules", modules);
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
  limits.Set("maxDeviceName", mm::limits::kMaxDeviceName);
  limits.Set("maxParallel", mm::limits::kMaxParallel);
  limits.Set("contextStep", mm::limits::kContextStep);
  o.Set("limits", limits);
  return o;
}

// addBackendDirs(dirs: string[]): folders of optional GPU backend packages, before the first device use.
Napi::Value AddBackendDirs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "addBackendDirs(dirs: string[])");
  Napi::Array arr = info[0].As<Napi::Array>();
  if (arr.Length() > 64) throw Napi::RangeError::New(env, "addBackendDirs: at most 64 folders");
  std::vector<std::string> dirs;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(env, "addBackendDirs: every folder must be a string");
    dirs.push_back(v.As<Napi::String>().Utf8Value());
  }
  mm::add_backend_dirs(dirs);
  return env.Undefined();
}

}  // namespace

void RegisterRuntimeInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("runtimeInfo", guarded_function<RuntimeInfo>(env, "runtimeInfo"));
  exports.Set("addBackendDirs", guarded_function<AddBackendDirs>(env, "addBackendDirs"));
}

}  // namespace mm_addon
