// libllama's context as both of ours make it (LlmContext: one conversation; SequenceContext: many):
// the caller's sizes, our threads and abort hook, no perf counters, and one persistent ggml worker
// pool attached for the context's life (without it ggml starts threads on every decode).
#pragma once
#include <string>

#include "llama.h"

struct ggml_threadpool;

namespace mm {

// Throws mm::Error(OutOfMemory) naming `what` when libllama cannot make it. `*pool` is set to the
// pool (or null when the CPU module has none); close_llama_context frees both.
llama_context* open_llama_context(llama_model* model, llama_context_params cp, int threads, ggml_abort_callback abort_cb,
                                  void* abort_data, const std::string& what, ggml_threadpool** pool);

// Frees the context, then the pool it used. Null-safe.
void close_llama_context(llama_context* ctx, ggml_threadpool* pool);

}  // namespace mm
