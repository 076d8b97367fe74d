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

// ggml calls this from GGML_ASSERT / GGML_ABORT (in ggml and libllama) just before abort(). The
// inputs are validated so that none is reachable; if one ever is, the host's log says what failed
// and where to report it instead of a bare SIGABRT.
void on_ggml_abort(const char* message) {
  std::fprintf(stderr,
               "minimonkey: ggml aborted the process: %s\n"
               "minimonkey: last ggml/libllama message: %s\n"
               "minimonkey: this input should have been refused with a typed error; please report it "
               "(the file, the options, and runtimeInfo()) so the check can be added.\n",
               message ? message : "(no message)", t_last_error.empty() ? "(none)" : t_last_error.c_str());
  std::fflush(stderr);
}

}  // namespace

void install_log_sink() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* dbg = std::getenv("MINIMONKEY_DEBUG");
    g_debug = dbg != nullptr && dbg[0] != '\0' && dbg[0] != '0';
    ggml_log_set(log_sink, nullptr);
    llama_log_set(log_sink, nullptr);
    ggml_set_abort_callback(on_ggml_abort);
  });
}

std::string take_last_log_error() {
  std::string out;
  out.swap(t_last_error);
  return out;
}

}  // namespace mm
