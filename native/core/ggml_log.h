// ggml and libllama log to stderr by default. Inside someone's app that is noise, and the one
// useful line (why a GGUF was rejected) must reach the user's error message instead.
#pragma once
#include <string>

namespace mm {

// Installs our log sink once (idempotent, thread-safe). Set MINIMONKEY_DEBUG=1 to see all logs.
void install_log_sink();

// The last warning/error line logged on this thread since the previous call, then cleared.
std::string take_last_log_error();

}  // namespace mm
