#include "ggml_log.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "ggml.h"
#include "llama.h"

namespace mm {
namespace {

thread_local std::string t_last_error;
bool g_debug = false;

void log_sink(enum ggml_log_level level, const char* text, void*) {
  if (g_debug) std::fputs(text, stderr);
  if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) {
    std::string line(text);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) t_last_error = line;
  }
}

}  // namespace

void install_log_sink() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* dbg = std::getenv("MINIMONKEY_DEBUG");
    g_debug = dbg != nullptr && dbg[0] != '\0' && dbg[0] != '0';
    ggml_log_set(log_sink, nullptr);
    llama_log_set(log_sink, nullptr);
  });
}

std::string take_last_log_error() {
  std::string out;
  out.swap(t_last_error);
  return out;
}

}  // namespace mm
