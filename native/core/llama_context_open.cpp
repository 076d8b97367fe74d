#include "llama_context_open.h"

#include "cpu_backend.h"
#include "errors.h"
#include "ggml_log.h"

namespace mm {

llama_context* open_llama_context(llama_model* model, llama_context_params cp, int threads, ggml_abort_callback abort_cb,
                                  void* abort_data, const std::string& what, ggml_threadpool** pool) {
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  cp.no_perf = true;
  cp.abort_callback = abort_cb;
  cp.abort_callback_data = abort_data;
  take_last_log_error();
  llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) {
    const std::string why = take_last_log_error();
    throw Error(ErrorCode::OutOfMemory, "cannot create " + what + (why.empty() ? "" : " (" + why + ")"));
  }
  *pool = new_cpu_threadpool(threads);
  if (*pool) llama_attach_threadpool(ctx, *pool, *pool);  // else ggml's per-call threads
  return ctx;
}

void close_llama_context(llama_context* ctx, ggml_threadpool* pool) {
  if (ctx) llama_free(ctx);
  free_cpu_threadpool(pool);  // after the context that uses it
}

void check_decode(int32_t rc) {
  if (rc == 0) return;
  if (rc == 2) throw Error(ErrorCode::Aborted, "aborted");
  if (rc == 1) throw Error(ErrorCode::ContextOverflow, "no room left in the KV cache");
  const std::string why = take_last_log_error();
  throw Error(ErrorCode::Internal, "llama_decode failed (" + std::to_string(rc) + (why.empty() ? "" : ": " + why) + ")");
}

}  // namespace mm
