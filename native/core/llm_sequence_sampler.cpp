#include "llm_sequence_sampler.h"

#include <cmath>

#include "errors.h"
#include "ggml_log.h"
#include "mm_limits.h"

namespace mm {

ReplySampler::ReplySampler(std::shared_ptr<TextModel> model) : model_(std::move(model)) {
  if (!model_) throw Error(ErrorCode::InvalidArgument, "no text model");
  set(SamplingOptions{});
}

ReplySampler::~ReplySampler() {
  if (grammar_) llama_sampler_free(grammar_);
  if (chain_) llama_sampler_free(chain_);
}

void ReplySampler::set(const SamplingOptions& o) {
  if (!(o.temperature >= 0 && o.temperature <= 100)) throw Error(ErrorCode::InvalidArgument, "temperature must be between 0 and 100");
  if (o.top_k < 0 || o.top_k > limits::kMaxTopK) throw Error(ErrorCode::InvalidArgument, "topK out of range");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw Error(ErrorCode::InvalidArgument, "topP must be in (0, 1]");
  if (!(o.min_p >= 0 && o.min_p < 1)) throw Error(ErrorCode::InvalidArgument, "minP must be in [0, 1)");
  if (!(o.repeat_penalty > 0 && o.repeat_penalty <= 10)) throw Error(ErrorCode::InvalidArgument, "repeatPenalty must be in (0, 10]");
  // libllama allocates a ring of repeat_last_n tokens: an unbounded value is a bad_alloc.
  if (o.repeat_last_n < 0 || o.repeat_last_n > limits::kMaxRepeatLastN) throw Error(ErrorCode::InvalidArgument, "repeatLastN out of range");
  llama_sampler* chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
  if (o.repeat_penalty != 1.0f && o.repeat_last_n > 0) {
    llama_sampler_chain_add(chain, llama_sampler_init_penalties(model_->info().n_vocab, o.repeat_last_n, o.repeat_penalty, 0, 0));
  }
  if (o.temperature <= 0) {
    llama_sampler_chain_add(chain, llama_sampler_init_greedy());
  } else {
    if (o.top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(o.top_k));
    if (o.top_p < 1) llama_sampler_chain_add(chain, llama_sampler_init_top_p(o.top_p, 1));
    if (o.min_p > 0) llama_sampler_chain_add(chain, llama_sampler_init_min_p(o.min_p, 1));
    llama_sampler_chain_add(chain, llama_sampler_init_temp(o.temperature));
    llama_sampler_chain_add(chain, llama_sampler_init_dist(o.seed));
  }
  llama_sampler* grammar = nullptr;
  if (!o.grammar.empty()) {
    try {
      grammar = make_grammar(o.grammar);
    } catch (...) {
      llama_sampler_free(chain);
      throw;
    }
  }
  if (chain_) llama_sampler_free(chain_);
  if (grammar_) llama_sampler_free(grammar_);
  chain_ = chain;
  grammar_ = grammar;
  grammar_passes_ = 0;
  utf8_tail_.clear();
}

namespace {

// What in a grammar's text could crash libllama's parser rather than fail it: it recurses once per
// nested group and once per rule reference when it checks for left recursion, so a hostile text
// could overflow the worker thread's stack. Real grammars (ours from JSON schemas included) stay
// far inside these bounds.
constexpr size_t kMaxGrammarBytes = 4u << 20;
constexpr int kMaxGrammarNesting = 256;
constexpr size_t kMaxGrammarRules = 50000;

void check_grammar_text(const std::string& g) {
  if (g.size() > kMaxGrammarBytes) {
    throw Error(ErrorCode::InvalidArgument, "the grammar is " + std::to_string(g.size()) + " bytes; at most " +
                                                std::to_string(kMaxGrammarBytes) + " are accepted");
  }
  if (g.find('\0') != std::string::npos) throw Error(ErrorCode::InvalidArgument, "the grammar holds a NUL character");
  int depth = 0;
  size_t rules = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const char c = g[i];
    if (c == '"' || c == '[') {
      // a literal or a character class: skip to its end (escapes included)
      const char close = c == '"' ? '"' : ']';
      for (++i; i < g.size() && g[i] != close; ++i) {
        if (g[i] == '\\') ++i;
      }
    } else if (c == '#') {
      while (i < g.size() && g[i] != '\n') ++i;
    } else if (c == '(') {
      if (++depth > kMaxGrammarNesting) {
        throw Error(ErrorCode::InvalidArgument, "the grammar nests groups more than " + std::to_string(kMaxGrammarNesting) + " deep");
      }
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (c == ':' && g.compare(i, 3, "::=") == 0) {
      if (++rules > kMaxGrammarRules) {
        throw Error(ErrorCode::InvalidArgument, "the grammar has more than " + std::to_string(kMaxGrammarRules) + " rules");
      }
    }
  }
}

}  // namespace

llama_sampler* ReplySampler::make_grammar(const std::string& grammar) const {
  check_grammar_text(grammar);
  take_last_log_error();
  llama_sampler* g = llama_sampler_init_grammar(llama_model_get_vocab(model_->raw()), grammar.c_str(), "root");
  if (!g) {
    const std::string why = take_last_log_error();
    throw Error(ErrorCode::InvalidArgument, "the grammar does not parse as GBNF with a 'root' rule" + (why.empty() ? "" : " (" + why + ")"));
  }
  return g;
}

namespace {

// Strict UTF-8 (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF): -1 when
// `s` is invalid, else the length of an incomplete but so far valid character at its end.
int utf8_scan(const std::string& s) {
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return -1;
    for (int k = 1; k < len; ++k) {
      if (i + k >= n) return static_cast<int>(n - i);
      const uint8_t d = static_cast<uint8_t>(s[i + k]);
      if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return -1;
    }
    i += static_cast<size_t>(len);
  }
  return 0;
}

}  // namespace

bool ReplySampler::keeps_utf8(int32_t token) const {
  if (utf8_tail_.empty() && self_contained_[static_cast<size_t>(token)]) return true;
  const std::string piece = model_->piece(token, false);
  if (piece.empty()) return true;
  if (!utf8_tail_.empty() && self_contained_[static_cast<size_t>(token)]) return false;  // cannot continue a character
  return utf8_scan(utf8_tail_ + piece) >= 0;
}

void ReplySampler::check_grammar(const std::string& grammar) const {
  llama_sampler_free(make_grammar(grammar));
}

void ReplySampler::fill_candidates(const float* logits) {
  const int n = model_->info().n_vocab;
  candidates_.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) candidates_[i] = llama_token_data{i, logits[i], 0.0f};
}

int32_t ReplySampler::sample(const float* logits) {
  if (!logits) throw Error(ErrorCode::Internal, "no logits available");
  fill_candidates(logits);
  llama_token_data_array cur{candidates_.data(), candidates_.size(), -1, false};
  llama_sampler_apply(chain_, &cur);
  if (cur.selected < 0 || static_cast<size_t>(cur.selected) >= cur.size) throw Error(ErrorCode::Internal, "the sampler picked no token");
  llama_token id = cur.data[cur.selected].id;
  if (!grammar_) {
    // What llama_sampler_sample does with a context's logits, from any buffer of them.
    llama_sampler_accept(chain_, id);
    return id;
  }

  // As llama.cpp's common/sampling.cpp: pick with the cheap samplers, then ask the grammar about
  // that one token; only when it is rejected, constrain the whole vocabulary and pick again.
  if (self_contained_.empty()) {
    const int n = model_->info().n_vocab;
    self_contained_.resize(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) self_contained_[static_cast<size_t>(t)] = utf8_scan(model_->piece(t, false)) == 0;
  }
  llama_token_data one{id, 1.0f, 0.0f};
  llama_token_data_array single{&one, 1, -1, false};
  llama_sampler_apply(grammar_, &single);
  if (!std::isfinite(one.logit) || !keeps_utf8(id)) {
    ++grammar_passes_;
    fill_candidates(logits);
    cur = llama_token_data_array{candidates_.data(), candidates_.size(), -1, false};
    llama_sampler_apply(grammar_, &cur);
    for (size_t i = 0; i < cur.size; ++i) {
      if (std::isfinite(cur.data[i].logit) && !keeps_utf8(cur.data[i].id)) cur.data[i].logit = -INFINITY;
    }
    bool any = false;
    for (size_t i = 0; i < cur.size && !any; ++i) any = std::isfinite(cur.data[i].logit);
    // Sampling among none would pick a token the grammar cannot accept (libllama then aborts).
    if (!any) throw Error(ErrorCode::InvalidArgument, "the grammar allows no token of this model's vocabulary at this point");
    llama_sampler_apply(chain_, &cur);
    if (cur.selected < 0 || static_cast<size_t>(cur.selected) >= cur.size) throw Error(ErrorCode::Internal, "the sampler picked no token");
    id = cur.data[cur.selected].id;
    if (!std::isfinite(cur.data[cur.selected].logit)) throw Error(ErrorCode::Internal, "the sampler picked a token the grammar rejects");
  }
  try {
    llama_sampler_accept(grammar_, id);
  } catch (const std::exception& e) {
    // The grammar's state is spent; drop it so nothing samples from it again.
    llama_sampler_free(grammar_);
    grammar_ = nullptr;
    throw Error(ErrorCode::Internal, std::string("the grammar could not accept a token: ") + e.what());
  }
  llama_sampler_accept(chain_, id);
  const std::string piece = model_->piece(id, false);
  if (!piece.empty()) {
    const std::string bytes = utf8_tail_ + piece;
    const int tail = utf8_scan(bytes);
    utf8_tail_ = tail > 0 ? bytes.substr(bytes.size() - static_cast<size_t>(tail)) : std::string();
  }
  return id;
}

}  // namespace mm
