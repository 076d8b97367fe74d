#include "llm_context.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "errors.h"
#include "mm_limits.h"
#include "ggml_log.h"
#include "cpu_backend.h"
#include "llama.h"

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
  cp.n_threads = opts.threads;
  cp.n_threads_batch = opts.threads;
  cp.no_perf = true;
  cp.abort_callback = &LlmContext::abort_requested;
  cp.abort_callback_data = c.get();
  take_last_log_error();
  c->ctx_ = llama_init_from_model(c->model_->raw(), cp);
  if (!c->ctx_) {
    const std::string why = take_last_log_error();
    throw Error(ErrorCode::OutOfMemory, "cannot create a context of " + std::to_string(opts.n_ctx) + " tokens" +
                                            (why.empty() ? "" : " (" + why + ")"));
  }
  c->n_ctx_ = static_cast<int>(llama_n_ctx(c->ctx_));
  c->threadpool_ = new_cpu_threadpool(opts.threads);
  if (c->threadpool_) llama_attach_threadpool(c->ctx_, c->threadpool_, c->threadpool_);  // else ggml's per-call threads
  c->set_sampling(SamplingOptions{});
  return c;
}

LlmContext::~LlmContext() {
  if (grammar_) llama_sampler_free(grammar_);
  if (sampler_) llama_sampler_free(sampler_);
  if (ctx_) llama_free(ctx_);
  free_cpu_threadpool(threadpool_);  // after the context that uses it
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
  std::lock_guard<std::mutex> lock(mu_);
  if (sampler_) llama_sampler_free(sampler_);
  if (grammar_) llama_sampler_free(grammar_);
  sampler_ = chain;
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

llama_sampler* LlmContext::make_grammar(const std::string& grammar) const {
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

bool LlmContext::keeps_utf8(int32_t token) const {
  if (utf8_tail_.empty() && self_contained_[static_cast<size_t>(token)]) return true;
  const std::string piece = model_->piece(token, false);
  if (piece.empty()) return true;
  if (!utf8_tail_.empty() && self_contained_[static_cast<size_t>(token)]) return false;  // cannot continue a character
  return utf8_scan(utf8_tail_ + piece) >= 0;
}

void LlmContext::check_grammar(const std::string& grammar) const {
  llama_sampler_free(make_grammar(grammar));
}

void LlmContext::fill_candidates(const float* logits) {
  const int n = model_->info().n_vocab;
  candidates_.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) candidates_[i] = llama_token_data{i, logits[i], 0.0f};
}

int32_t LlmContext::sample() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_logits_) throw Error(ErrorCode::Internal, "nothing to sample from: prefill first");
  if (!grammar_) return llama_sampler_sample(sampler_, ctx_, -1);

  // As llama.cpp's common/sampling.cpp: pick with the cheap samplers, then ask the grammar about
  // that one token; only when it is rejected, constrain the whole vocabulary and pick again.
  const float* logits = llama_get_logits_ith(ctx_, -1);
  if (!logits) throw Error(ErrorCode::Internal, "no logits available");
  if (self_contained_.empty()) {
    const int n = model_->info().n_vocab;
    self_contained_.resize(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) self_contained_[static_cast<size_t>(t)] = utf8_scan(model_->piece(t, false)) == 0;
  }
  fill_candidates(logits);
  llama_token_data_array cur{candidates_.data(), candidates_.size(), -1, false};
  llama_sampler_apply(sampler_, &cur);
  if (cur.selected < 0 || static_cast<size_t>(cur.selected) >= cur.size) throw Error(ErrorCode::Internal, "the sampler picked no token");
  llama_token id = cur.data[cur.selected].id;

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
    llama_sampler_apply(sampler_, &cur);
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
  llama_sampler_accept(sampler_, id);
  const std::string piece = model_->piece(id, false);
  if (!piece.empty()) {
    const std::string bytes = utf8_tail_ + piece;
    const int tail = utf8_scan(bytes);
    utf8_tail_ = tail > 0 ? bytes.substr(bytes.size() - static_cast<size_t>(tail)) : std::string();
  }
  return id;
}

std::vector<float> LlmContext::logits() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_logits_) throw Error(ErrorCode::Internal, "no logits: prefill first");
  const float* l = llama_get_logits_ith(ctx_, -1);
  if (!l) throw Error(ErrorCode::Internal, "no logits available");
  return std::vector<float>(l, l + model_->info().n_vocab);
}

}  // namespace mm
