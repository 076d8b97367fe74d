// The one conversation context: a libllama context of n_seq_max sequences, from one (a lone chat,
// which grows by being replaced with a larger one) to many (`parallel`), each with a KV stream of
// its own (kv_unified off, so a sequence's cells sit where they would in a context of its own and
// its attention is computed as there). The work on it comes in two kinds of job: a prefill of one
// sequence (token runs and embedding rows, cut here into chunks of n_batch positions, one
// llama_decode each: the caller hands a whole prompt when nothing else waits, or one chunk at a
// time to interleave), or one generation step of several sequences at once (one token each,
// batched). The caller (lib/llm/sequence-batcher.ts) runs one job at a time, on the libuv pool;
// the context's mutex is only ever taken by those jobs, never by the JS thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"
#include "llama.h"
#include "llm_sequence_sampler.h"
#include "prompt_part.h"
#include "text_model.h"

struct ggml_threadpool;

namespace mm {

struct SequenceOptions {
  int n_seq = 2;         // conversations the context holds
  int n_ctx_seq = 8192;  // positions per sequence (rounded up to limits::kContextStep, as libllama does)
  int n_batch = 512;     // positions per prefill chunk
  int threads = 4;
  // KV cells in q8_0 instead of f16: about half the memory (34 bytes per 32 values against 64),
  // at a small cost in precision. libllama stores a quantized V cache only with flash attention.
  bool kv_q8_0 = false;
};

// What one sequence got from a step: its sampled token, or its own failure.
struct StepResult {
  int32_t token = -1;
  bool eog = false;  // the token ends the reply: it was not appended
  std::string bytes;
  bool failed = false;
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

class SequenceContext {
 public:
  using Progress = std::function<void(size_t done, size_t total)>;

  static std::unique_ptr<SequenceContext> create(std::shared_ptr<TextModel> model, const SequenceOptions& opts);
  ~SequenceContext();
  SequenceContext(const SequenceContext&) = delete;
  SequenceContext& operator=(const SequenceContext&) = delete;

  int n_seq() const { return static_cast<int>(seqs_.size()); }
  int n_ctx_seq() const { return n_ctx_seq_; }
  int n_batch() const { return n_batch_; }
  const TextModel& model() const { return *model_; }
  int n_past(int seq) const { return at(seq).n_past.load(); }

  // Appends `parts` to `seq` at its position, in chunks of at most n_batch positions (a chunk never
  // mixes tokens and embeddings: a llama_batch holds one or the other). `last`: the parts end the
  // prompt, and the final position's logits are kept for the next step. Checks token ids, rows and
  // room first; on abort or failure every cell of this call is removed (the sequence is as it was)
  // and mm::Error is thrown. `progress` is told the positions done after each chunk.
  void prefill(int seq, const std::vector<PromptPart>& parts, bool last, const std::atomic<bool>* cancel, const Progress& progress);

  // One generation step of each sequence in `seqs` (distinct): each samples from its last logits,
  // and those whose token does not end the reply are appended together in one llama_decode. One
  // sequence's failure (aborted, full, its grammar) is its result alone; the others go on. A step
  // that decodes one sequence alone can be aborted inside its llama_decode.
  std::vector<StepResult> step(const std::vector<int>& seqs, const std::vector<const std::atomic<bool>*>& cancels);

  // The calls below are the JS thread's, made only while `seq` is in no job (busy() says so); they
  // touch that sequence's own state and atomics, never the libllama context.

  // Marks a job on `seq` as queued (false: it already has one); the job clears it when it ends.
  bool claim(int seq) { return !at(seq).busy.exchange(true); }
  void unclaim(int seq) { at(seq).busy.store(false); }
  bool busy(int seq) const { return at(seq).busy.load(); }
  // Drops positions from `n_keep` on. The cells go at the start of the next job (the KV cache is
  // only ever changed by jobs, which hold the context).
  void truncate(int seq, int n_keep);
  void set_sampling(int seq, const SamplingOptions& opts) { at(seq).sampler->set(opts); }
  void check_grammar(const std::string& grammar) const { checker_->check_grammar(grammar); }
  int grammar_passes(int seq) const { return at(seq).sampler->grammar_passes(); }
  std::vector<float> logits(int seq) const;

  // A job on `seq`, claimed by the caller: runs `fn` on the libllama context under the context's
  // lock, for code that moves the sequence's KV cells in or out directly (sequence_state.h); its
  // position becomes what `fn` returns.
  void with_cells(int seq, const std::function<int(llama_context* ctx, int n_past)>& fn);

 private:
  struct Sequence {
    std::unique_ptr<ReplySampler> sampler;
    // The last computed position's logits: copied out of libllama's buffer, which the next decode
    // of any sequence overwrites; in a context of one sequence no other decode comes between, so
    // they stay there (row >= 0: its row in the buffer) and a token costs no vocabulary-sized copy.
    std::vector<float> logits;
    int32_t logits_row = -1;
    bool has_logits = false;
    std::atomic<int> n_past{0};
    std::atomic<int> rm_from{-1};  // cells from here on go before the next decode; -1: none
    std::atomic<bool> busy{false};
  };

  SequenceContext() = default;
  Sequence& at(int seq);
  const Sequence& at(int seq) const;
  void apply_truncations();
  size_t check_parts(const std::vector<PromptPart>& parts) const;
  void decode_chunk(int seq, const PromptPart& part, size_t offset, int n, int pos, bool logits);
  void keep_logits(Sequence& s, int32_t batch_index);
  const float* last_logits(const Sequence& s) const;
  static bool abort_requested(void* self);

  std::shared_ptr<TextModel> model_;
  llama_context* ctx_ = nullptr;
  ggml_threadpool* threadpool_ = nullptr;  // one persistent pool (open_llama_context)
  std::vector<std::unique_ptr<Sequence>> seqs_;
  std::unique_ptr<ReplySampler> checker_;  // parses grammars for check_grammar; never samples
  int n_ctx_seq_ = 0, n_batch_ = 0;
  // Set only while a decode of one sequence alone runs (a prefill, a step of one): aborting a
  // batched step would abort the other sequences' tokens too, so those are cancelled between decodes.
  std::atomic<const std::atomic<bool>*> cancel_{nullptr};
  std::mutex mu_;  // held by a job for its whole length
};

}  // namespace mm
