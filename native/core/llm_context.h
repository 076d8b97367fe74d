// One conversation's libllama context: its KV cache, the position reached, and the sampler of
// the current reply. Prompts arrive as parts (token runs or rows of image embeddings) and are
// appended at the current position; generation samples from the last logits one token at a time.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llama.h"
#include "llm_sequence_sampler.h"
#include "prompt_part.h"
#include "text_model.h"

struct ggml_threadpool;

namespace mm {

struct ContextOptions {
  int n_ctx = 8192;
  int n_batch = 512;   // tokens handed to one llama_decode
  int threads = 4;
};

class LlmContext {
 public:
  using Progress = std::function<void(size_t done, size_t total)>;

  static std::unique_ptr<LlmContext> create(std::shared_ptr<TextModel> model, const ContextOptions& opts);
  ~LlmContext();
  LlmContext(const LlmContext&) = delete;
  LlmContext& operator=(const LlmContext&) = delete;

  int n_ctx() const { return n_ctx_; }
  int n_past() const { return n_past_; }
  const TextModel& model() const { return *model_; }

  // Appends the parts at the current position (positions continue from n_past). Checks every
  // token id, embedding width and the context size before anything reaches libllama. On abort or
  // failure the cache is rolled back to where it was and an mm::Error is thrown.
  void prefill(const std::vector<PromptPart>& parts, const std::atomic<bool>* cancel, const Progress& progress);

  // Appends one token (a generated one) and computes its logits.
  void decode(int32_t token, const std::atomic<bool>* cancel);

  // Drops everything from position `n_keep` on.
  void truncate(int n_keep);

  // Starts a new reply: a fresh sampler chain (penalty history and RNG start over).
  void set_sampling(const SamplingOptions& opts);

  // The next token from the last logits (after prefill or decode), recorded in the sampler (and
  // in the grammar, when there is one: every token it returns keeps the reply a prefix the
  // grammar accepts, and an end-of-generation token only once the grammar is complete).
  int32_t sample();

  // Throws mm::Error (InvalidArgument) unless `grammar` is GBNF that libllama's parser accepts for
  // this model's vocabulary. Guards what would crash the parser (size, nesting) first.
  void check_grammar(const std::string& grammar) const;

  // Full grammar passes (the unconstrained pick was rejected) since the last set_sampling.
  int grammar_passes() const { return sampler_->grammar_passes(); }

  // Logits of the last position (n_vocab floats).
  std::vector<float> logits() const;

  // Runs `fn` on the libllama context under the context's lock, for code that moves KV cells in
  // or out directly (sequence_state.h; sequence 0); the position becomes what `fn` returns.
  void with_cells(const std::function<int(llama_context* ctx, int n_past)>& fn);

 private:
  LlmContext() = default;
  void run(const std::vector<PromptPart>& parts, size_t total, const std::atomic<bool>* cancel, const Progress& progress);
  static bool abort_requested(void* self);

  std::shared_ptr<TextModel> model_;
  llama_context* ctx_ = nullptr;
  // One persistent worker pool per context: without it ggml spawns threads for every decode,
  // which costs a measurable share of each generated token.
  ggml_threadpool* threadpool_ = nullptr;
  std::unique_ptr<ReplySampler> sampler_;
  int n_ctx_ = 0, n_batch_ = 0, n_past_ = 0;
  bool has_logits_ = false;
  std::atomic<const std::atomic<bool>*> cancel_{nullptr};
  mutable std::mutex mu_;
};

}  // namespace mm
