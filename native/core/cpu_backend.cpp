#include "cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "errors.h"

#ifdef MINIMONKEY_BACKEND_DL
#include <filesystem>
#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif
#include "backend_module.h"
#include "ggml_log.h"
#include "utf8_path.h"
#endif

#ifndef MINIMONKEY_STATIC_CPU_LEVEL
#define MINIMONKEY_STATIC_CPU_LEVEL "default"
#endif

namespace mm {

namespace {

#ifdef MINIMONKEY_BACKEND_DL
namespace fs = std::filesystem;

#ifdef _WIN32
const char* const kPrefix = "ggml-cpu-";
const char* const kSuffix = ".dll";
// The folder of the binary this code is linked into (the addon or a tool), from its UTF-16 name.
fs::path module_dir() {
  HMODULE self = nullptr;
  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          reinterpret_cast<LPCWSTR>(&ensure_cpu_backend), &self)) {
    return fs::path();
  }
  std::wstring buf(32768, L'\0');
  const DWORD n = GetModuleFileNameW(self, buf.data(), static_cast<DWORD>(buf.size()));
  if (n == 0 || n >= buf.size()) return fs::path();
  buf.resize(n);
  return fs::path(buf).parent_path();
}
#else
const char* const kPrefix = "libggml-cpu-";
const char* const kSuffix = ".so";
// The folder of the binary this code is linked into: the addon (minimonkey.node) or a tool.
fs::path module_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ensure_cpu_backend), &info) == 0 || !info.dli_fname) return fs::path();
  std::error_code ec;
  fs::path p = fs::canonical(fs::path(info.dli_fname), ec);
  return (ec ? fs::path(info.dli_fname) : p).parent_path();
}
#endif

using ScoreFn = int (*)();

// Every variant in the addon's folder with its score. A module is opened only to call its score
// function (compiled without the variant's instruction flags, so it runs on any CPU of the arch).
std::vector<CpuVariant> scan_variants(const fs::path& dir) {
  std::vector<CpuVariant> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = path_to_utf8(entry.path().filename());
    if (file.size() <= std::char_traits<char>::length(kPrefix) + std::char_traits<char>::length(kSuffix)) continue;
    if (file.rfind(kPrefix, 0) != 0 || file.compare(file.size() - std::strlen(kSuffix), std::string::npos, kSuffix) != 0) continue;
    CpuVariant v;
    v.name = file.substr(std::strlen(kPrefix), file.size() - std::strlen(kPrefix) - std::strlen(kSuffix));
    v.path = path_to_utf8(entry.path());
    if (ModuleHandle h = open_module(v.path)) {
      if (auto score = reinterpret_cast<ScoreFn>(module_symbol(h, "ggml_backend_score"))) v.score = score();
      close_module(h);
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const CpuVariant& a, const CpuVariant& b) { return a.name < b.name; });
  return out;
}

std::string names(const std::vector<CpuVariant>& vs) {
  std::string s;
  for (const CpuVariant& v : vs) s += (s.empty() ? "" : ", ") + v.name + (v.score > 0 ? "" : " (not on this CPU)");
  return s;
}

CpuBackendInfo load_cpu_backend() {
  CpuBackendInfo info;
  const fs::path dir = module_dir();
  info.variants = scan_variants(dir);
  if (info.variants.empty()) {
    throw Error(ErrorCode::ModelLoad, "ggml's CPU backend modules (" + std::string(kPrefix) + "*" + kSuffix +
                                          ") are missing from " + path_to_utf8(dir) + ": the install is incomplete; rebuild or reinstall minimonkey");
  }
  const CpuVariant* pick = nullptr;
  const char* forced = std::getenv("MINIMONKEY_CPU_VARIANT");
  if (forced && *forced) {
    for (const CpuVariant& v : info.variants) {
      if (v.name == forced) pick = &v;
    }
    if (!pick) {
      throw Error(ErrorCode::InvalidArgument, std::string("MINIMONKEY_CPU_VARIANT=") + forced +
                                                  " names no CPU variant of this build; it has " + names(info.variants));
    }
    if (pick->score <= 0) {
      throw Error(ErrorCode::UnsupportedCpu, std::string("MINIMONKEY_CPU_VARIANT=") + forced +
                                                 ": this CPU lacks instructions that variant needs (running it would crash the "
                                                 "process); the ones this CPU runs: " + names(info.variants));
    }
    info.chosen_by = "MINIMONKEY_CPU_VARIANT";
  } else {
    for (const CpuVariant& v : info.variants) {
      if (v.score > 0 && (!pick || v.score > pick->score)) pick = &v;
    }
    if (!pick) {
      throw Error(ErrorCode::UnsupportedCpu, "no CPU variant of this build runs on this CPU (" + names(info.variants) +
                                                 "); loading one would crash the process");
    }
    info.chosen_by = "score";
  }
  take_last_log_error();
  std::string why;
  if (!load_backend_module(pick->path, why)) {
    if (why.empty()) why = take_last_log_error();
    throw Error(ErrorCode::ModelLoad, "cannot load ggml's CPU backend " + pick->path + ": " + (why.empty() ? "unknown error" : why));
  }
  info.variant = pick->name;
  return info;
}
#else
CpuBackendInfo load_cpu_backend() {
  CpuBackendInfo info;
  info.variant = std::string("static-") + MINIMONKEY_STATIC_CPU_LEVEL;
  info.chosen_by = "static";
  return info;
}
#endif

struct LoadOnce {
  std::once_flag once;
  CpuBackendInfo info;
  bool failed = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

LoadOnce& state() {
  static LoadOnce s;
  return s;
}

ggml_backend_reg_t cpu_reg() { return ggml_backend_dev_backend_reg(cpu_device()); }

template <typename Fn>
Fn cpu_proc(const char* name) {
  return reinterpret_cast<Fn>(ggml_backend_reg_get_proc_address(cpu_reg(), name));
}

}  // namespace

std::string module_folder() {
#ifdef MINIMONKEY_BACKEND_DL
  return path_to_utf8(module_dir());
#else
  return std::string();
#endif
}

const CpuBackendInfo& ensure_cpu_backend() {
  LoadOnce& s = state();
  std::call_once(s.once, [&s] {
    try {
      s.info = load_cpu_backend();
      ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
      if (!dev) throw Error(ErrorCode::Internal, "ggml has no CPU device after loading its CPU backend");
      auto get_features = reinterpret_cast<ggml_backend_get_features_t>(
          ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_get_features"));
      if (get_features) {
        for (ggml_backend_feature* f = get_features(ggml_backend_dev_backend_reg(dev)); f && f->name; ++f) {
          s.info.features.emplace_back(f->name, f->value ? f->value : "");
        }
      }
    } catch (const Error& e) {
      s.failed = true;
      s.code = e.code();
      s.message = e.what();
    } catch (const std::exception& e) {
      s.failed = true;
      s.message = e.what();
    }
  });
  if (s.failed) throw Error(s.code, s.message);
  return s.info;
}

ggml_backend_dev_t cpu_device() {
  ensure_cpu_backend();
  ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  if (!dev) throw Error(ErrorCode::Internal, "ggml has no CPU device");
  return dev;
}

ggml_backend_t new_cpu_backend(int threads) {
  ggml_backend_t b = ggml_backend_dev_init(cpu_device(), nullptr);
  if (!b) throw Error(ErrorCode::Internal, "cannot initialize the ggml CPU backend");
  if (auto set_threads = cpu_proc<ggml_backend_set_n_threads_t>("ggml_backend_set_n_threads")) set_threads(b, threads);
  return b;
}

ggml_threadpool_t new_cpu_threadpool(int threads) {
  using NewFn = ggml_threadpool_t (*)(ggml_threadpool_params*);
  auto make = cpu_proc<NewFn>("ggml_threadpool_new");
  if (!make) return nullptr;
  ggml_threadpool_params p = ggml_threadpool_params_default(threads);
  return make(&p);
}

void free_cpu_threadpool(ggml_threadpool_t pool) {
  if (!pool) return;
  using FreeFn = void (*)(ggml_threadpool_t);
  if (auto drop = cpu_proc<FreeFn>("ggml_threadpool_free")) drop(pool);
}

void set_cpu_abort_callback(ggml_backend_t backend, ggml_abort_callback cb, void* data) {
  if (auto set = cpu_proc<ggml_backend_set_abort_callback_t>("ggml_backend_set_abort_callback")) set(backend, cb, data);
}

}  // namespace mm
