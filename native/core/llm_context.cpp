#include "llm_context.h"

#include <algorithm>
#include <cstring>

#include "errors.h"
#include "mm_limits.h"
#include "ggml_log.h"
#include "cpu_backend.h"
#include "llama.h"
#include "llama_context_open.h"

namespace mm {

namespace {

// Frees a llama_batch however the decode loop leaves.
struct Batch {
  llama_batch b;
  Batch(int n, int embd) : b(llama_batch_init(n, embd, 1)) {}
  ~Batch() { llama_batch_free(b); }
};

}  // namespace

bool LlmContext::abort_requested(void* self) {
  const std::atomic<bool>* flag = static_cast<LlmContext*>(self)->cancel_.load();
  return flag != nullptr && flag->load(std::memory_order_relaxed);
}

std::unique_ptr<LlmContext> LlmContext::create(std::shared_ptr<TextModel> model, const ContextOptions& opts) {
  if (!model) throw Error(ErrorCode::InvalidArgument, "no text model");
  if (opts.n_ctx < limits::kMinContext || opts.n_ctx > limits::kMaxContext) throw Error(ErrorCode::InvalidArgument, "contextSize out of range");
  if (opts.n_batch < 1 || opts.n_batch > limits::kMaxBatch) throw Error(ErrorCode::InvalidArgument, "batchSize out of range");
  if (opts.threads < 1 || opts.threads > limits::kMaxThreads) throw Error(ErrorCode::InvalidArgument, "threads out of range");
  std::unique_ptr<LlmContext> c(new LlmContext());
  c->model_ = std::move(model);
  c->n_batch_ = std::min(opts.n_batch, opts.n_ctx);

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(opts.n_ctx);
  cp.n_batch = static_cast<uint32_t>(c->n_batch_);
  cp.n_ubatch = static_cast<uint32_t>(c->n_batch_);
  cp.n_seq_max = 1;
  c->ctx_ = open_llama_context(c->model_->raw(), cp, opts.threads, &LlmContext::abort_requested, c.get(),
                               "a context of " + std::to_string(opts.n_ctx) + " tokens", &c->threadpool_);
  c->n_ctx_ = static_cast<int>(llama_n_ctx(c->ctx_));
  c->sampler_ = std::make_unique<ReplySampler>(c->model_);
  return c;
}

LlmContext::~LlmContext() {
  sampler_.reset();
  close_llama_context(ctx_, threadpool_);
}

void LlmContext::prefill(const std::vector<PromptPart>& parts, const std::atomic<bool>* cancel, const Progress& progress) {
  const int n_embd = model_->info().n_embd;
  size_t total = 0;
  for (const PromptPart& p : parts) {
    if (p.embeddings) {
      if (!p.tokens.empty()) throw Error(ErrorCode::InvalidArgument, "a prompt part holds either tokens or embeddings");
      if (p.embeddings->empty() || p.embeddings->size() % static_cast<size_t>(n_embd) != 0) {
        throw Error(ErrorCode::InvalidArgument, "image embeddings must be whole rows of " + std::to_string(n_embd) +
                                                    " floats (the text model's embedding width)");
      }
    } else {
      for (int32_t t : p.tokens) {
        if (!model_->valid_token(t)) throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(t) + " is out of range");
      }
    }
    total += p.length(n_embd);
  }
  if (total == 0) throw Error(ErrorCode::InvalidArgument, "nothing to prefill");
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<size_t>(n_past_) + total > static_cast<size_t>(n_ctx_)) {
    throw Error(ErrorCode::ContextOverflow, "the prompt needs " + std::to_string(n_past_ + total) + " tokens of context (" +
                                                std::to_string(n_past_) + " already used + " + std::to_string(total) +
                                                " new) but the context holds " + std::to_string(n_ctx_));
  }
  run(parts, total, cancel, progress);
}

void LlmContext::decode(int32_t token, const std::atomic<bool>* cancel) {
  if (!model_->valid_token(token)) throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(token) + " is out of range");
  std::lock_guard<std::mutex> lock(mu_);
  if (n_past_ + 1 > n_ctx_) throw Error(ErrorCode::ContextOverflow, "the context is full (" + std::to_string(n_ctx_) + " tokens)");
  PromptPart p;
  p.tokens = {token};
  run({p}, 1, cancel, nullptr);
}

// Feeds the parts in chunks of at most n_batch positions; a chunk never mixes tokens and
// embeddings (a llama_batch holds one or the other). Only the very last position asks for logits.
void LlmContext::run(const std::vector<PromptPart>& parts, size_t total, const std::atomic<bool>* cancel, const Progress& progress) {
  const int n_embd = model_->info().n_embd;
  const int start = n_past_;
  has_logits_ = false;
  cancel_.store(cancel);
  size_t done = 0;
  try {
    for (const PromptPart& p : parts) {
      const size_t len = p.length(n_embd);
      for (size_t off = 0; off < len; off += static_cast<size_t>(n_batch_)) {
        const int n = static_cast<int>(std::min(len - off, static_cast<size_t>(n_batch_)));
        Batch batch(n, p.embeddings ? n_embd : 0);
        llama_batch& b = batch.b;
        b.n_tokens = n;
        if (p.embeddings) {
          std::memcpy(b.embd, p.embeddings->data() + off * n_embd, sizeof(float) * n * n_embd);
        } else {
          std::memcpy(b.token, p.tokens.data() + off, sizeof(int32_t) * n);
        }
        for (int i = 0; i < n; ++i) {
          b.pos[i] = n_past_ + i;
          b.n_seq_id[i] = 1;
          b.seq_id[i][0] = 0;
          b.logits[i] = (done + i + 1 == total) ? 1 : 0;
        }
        if (cancel && cancel->load()) throw Error(ErrorCode::Aborted, "aborted");
        take_last_log_error();
        const int32_t rc = llama_decode(ctx_, b);
        if (rc == 2) throw Error(ErrorCode::Aborted, "aborted");
        if (rc == 1) throw Error(ErrorCode::ContextOverflow, "no room left in the KV cache");
        if (rc != 0) {
          const std::string why = take_last_log_error();
          throw Error(ErrorCode::Internal, "llama_decode failed (" + std::to_string(rc) + (why.empty() ? "" : ": " + why) + ")");
        }
        n_past_ += n;
        done += static_cast<size_t>(n);
        if (progress) progress(done, total);
      }
    }
  } catch (...) {
    // Leave the cache as it was before this call, so the conversation stays usable.
    llama_memory_seq_rm(llama_get_memory(ctx_), 0, start, -1);
    n_past_ = start;
    cancel_.store(nullptr);
    throw;
  }
  cancel_.store(nullptr);
  has_logits_ = true;
}

void LlmContext::truncate(int n_keep) {
  std::lock_guard<std::mutex> lock(mu_);
  if (n_keep < 0 || n_keep > n_past_) throw Error(ErrorCode::InvalidArgument, "truncate position out of range");
  llama_memory_seq_rm(llama_get_memory(ctx_), 0, n_keep, -1);
  n_past_ = n_keep;
  has_logits_ = false;
}

void LlmContext::set_sampling(const SamplingOptions& o) {
  std::lock_guard<std::mutex> lock(mu_);
  sampler_->set(o);
}

void LlmContext::check_grammar(const std::string& grammar) const { sampler_->check_grammar(grammar); }

int32_t LlmContext::sample() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_logits_) throw Error(ErrorCode::Internal, "nothing to sample from: prefill first");
  return sampler_->sample(llama_get_logits_ith(ctx_, -1));
}

std::vector<float> LlmContext::logits() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_logits_) throw Error(ErrorCode::Internal, "no logits: prefill first");
  const float* l = llama_get_logits_ith(ctx_, -1);
  if (!l) throw Error(ErrorCode::Internal, "no logits available");
  return std::vector<float>(l, l + model_->info().n_vocab);
}

void LlmContext::with_cells(const std::function<int(llama_context*, int)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  const int n = fn(ctx_, n_past_);
  if (n != n_past_) {
    n_past_ = n;
    has_logits_ = false;
  }
}

}  // namespace mm
