#include "backend_module.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif

#include "utf8_path.h"

namespace mm {

#ifdef _WIN32
namespace {
// Windows' own message for an error code (English or the user's language), without the trailing CRLF.
std::string system_message(DWORD code) {
  wchar_t* buf = nullptr;
  const DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                 nullptr, code, 0, reinterpret_cast<LPWSTR>(&buf), 0, nullptr);
  std::wstring w = n && buf ? std::wstring(buf, n) : std::wstring();
  if (buf) LocalFree(buf);
  while (!w.empty() && (w.back() == L'\r' || w.back() == L'\n' || w.back() == L' ')) w.pop_back();
  std::string s = path_to_utf8(std::filesystem::path(w));
  return "error " + std::to_string(code) + (s.empty() ? "" : ": " + s);
}
thread_local DWORD t_last_error = 0;
}  // namespace

ModuleHandle open_module(const std::string& utf8_path) {
  DWORD old_mode = 0;
  SetThreadErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX, &old_mode);
  HMODULE h = LoadLibraryExW(path_from_utf8(utf8_path).wstring().c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  t_last_error = h ? 0 : GetLastError();
  SetThreadErrorMode(old_mode, nullptr);
  return reinterpret_cast<ModuleHandle>(h);
}
void* module_symbol(ModuleHandle h, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(reinterpret_cast<HMODULE>(h), name));
}
void close_module(ModuleHandle h) { FreeLibrary(reinterpret_cast<HMODULE>(h)); }
std::string module_error() { return system_message(t_last_error); }
#else
ModuleHandle open_module(const std::string& utf8_path) { return dlopen(utf8_path.c_str(), RTLD_NOW | RTLD_LOCAL); }
void* module_symbol(ModuleHandle h, const char* name) { return dlsym(h, name); }
void close_module(ModuleHandle h) { dlclose(h); }
std::string module_error() {
  const char* e = dlerror();
  return e ? e : "unknown error";
}
#endif

ggml_backend_reg_t load_backend_module(const std::string& utf8_path, std::string& why) {
#ifdef _WIN32
  ModuleHandle h = open_module(utf8_path);
  if (!h) {
    why = module_error();
    return nullptr;
  }
  using ScoreFn = int (*)();
  using InitFn = ggml_backend_reg_t (*)();
  auto score = reinterpret_cast<ScoreFn>(module_symbol(h, "ggml_backend_score"));
  if (score && score() == 0) {
    close_module(h);
    why = "this machine cannot run it (its ggml_backend_score is 0)";
    return nullptr;
  }
  auto init = reinterpret_cast<InitFn>(module_symbol(h, "ggml_backend_init"));
  ggml_backend_reg_t reg = init ? init() : nullptr;
  if (!reg) {
    close_module(h);
    why = init ? "its ggml_backend_init returned nothing" : "it has no ggml_backend_init";
    return nullptr;
  }
  ggml_backend_register(reg);  // the module stays loaded: ggml keeps pointers into it
  return reg;
#else
  why.clear();  // ggml_backend_load says why through ggml's log (ggml_log.h)
  return ggml_backend_load(utf8_path.c_str());
#endif
}

}  // namespace mm
