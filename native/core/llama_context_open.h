// libllama's context as ours makes it (SequenceContext, from one sequence to many): the caller's
// sizes, our threads and abort hook, no perf counters, and one persistent ggml worker pool attached
// for the context's life (without it ggml starts threads on every decode). Beside it the two things
// every decode needs: a batch freed however the decode leaves, and llama_decode's codes as errors.
#pragma once
#include <cstdint>
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

// A llama_batch of `n` positions (token ids, or rows of `embd` floats when embd > 0, one sequence
// id each), freed however the decode loop leaves.
struct Batch {
  llama_batch b;
  Batch(int n, int embd) : b(llama_batch_init(n, embd, 1)) {}
  ~Batch() { llama_batch_free(b); }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
};

// llama_decode's result as mm::Error: 2 Aborted (the abort hook), 1 ContextOverflow (no KV slot),
// anything else Internal with libllama's last logged error. Nothing for 0.
void check_decode(int32_t rc);

}  // namespace mm
