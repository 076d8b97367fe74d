// Checks a text GGUF before libllama sees it. libllama and ggml GGML_ASSERT (abort the host) on
// several values a file can carry: layer counts outside 1..512, MoE counts on a dense model, an
// unknown rope scaling type, a negative norm epsilon (asserted at the first decode), an integer
// tensor where a weight or norm belongs (asserted in a binary op), tokens it cannot encode. Each
// of those is a typed mm::Error here instead.
#pragma once
#include <string>

namespace mm {

// Throws mm::Error (ModelLoad or Unsupported) naming the file, the key or tensor, and the rule.
void check_text_gguf(const std::string& path);

}  // namespace mm
