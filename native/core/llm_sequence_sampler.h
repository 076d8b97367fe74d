// The sampler of one reply: the chain (penalties, top-k/p, min-p, temperature or greedy), the
// grammar when there is one, and the UTF-8 state a grammar needs. A plain context has one; a
// context of several sequences has one per sequence, so each conversation keeps its own sampling.
// It reads logits from a pointer, whether libllama's own buffer or a sequence's copy of it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llama.h"
#include "text_model.h"

namespace mm {

struct SamplingOptions {
  float temperature = 0.0f;  // <= 0: greedy (argmax), as the reference decodes
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  uint32_t seed = 0;
  // GBNF text (root rule "root"); empty: unconstrained. Checked against the grammar after the
  // cheaper samplers have picked a token; only a rejected pick pays for the full-vocabulary pass.
  std::string grammar;
};

class ReplySampler {
 public:
  explicit ReplySampler(std::shared_ptr<TextModel> model);
  ~ReplySampler();
  ReplySampler(const ReplySampler&) = delete;
  ReplySampler& operator=(const ReplySampler&) = delete;

  // Starts a new reply: a fresh chain (penalty history and RNG start over). Checks every option
  // first; on a bad one (or a grammar that does not parse) the old chain stays.
  void set(const SamplingOptions& opts);

  // The next token from `logits` (n_vocab floats), recorded in the chain (and in the grammar, when
  // there is one: every token it returns keeps the reply a prefix the grammar accepts, and an
  // end-of-generation token only once the grammar is complete).
  int32_t sample(const float* logits);

  // Throws mm::Error (InvalidArgument) unless `grammar` is GBNF that libllama's parser accepts for
  // this model's vocabulary. Guards what would crash the parser (size, nesting) first.
  void check_grammar(const std::string& grammar) const;

  // Full grammar passes (the unconstrained pick was rejected) since the last set().
  int grammar_passes() const { return grammar_passes_; }

 private:
  llama_sampler* make_grammar(const std::string& grammar) const;
  bool keeps_utf8(int32_t token) const;
  void fill_candidates(const float* logits);

  std::shared_ptr<TextModel> model_;
  llama_sampler* chain_ = nullptr;
  llama_sampler* grammar_ = nullptr;  // null: unconstrained
  std::vector<llama_token_data> candidates_;
  int grammar_passes_ = 0;
  // With a grammar, the reply's bytes stay valid UTF-8 (libllama's grammar reads an invalid
  // sequence, a surrogate or an overlong form, as some code point; the text would not hold it).
  std::vector<uint8_t> self_contained_;  // per token: its piece is complete valid UTF-8 (or empty)
  std::string utf8_tail_;                // an incomplete character at the end of the reply so far
};

}  // namespace mm
