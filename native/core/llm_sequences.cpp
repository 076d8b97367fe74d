#include "llm_sequences.h"
#include "llama_context_open.h"

#include <algorithm>
#include <cstring>

#include "cpu_backend.h"
#include "ggml_log.h"
#include "mm_limits.h"

namespace mm {

bool SequenceContext::abort_requested(void* self) {
  const std::atomic<bool>* flag = static_cast<SequenceContext*>(self)->cancel_.load();
  return flag != nullptr && flag->load(std::memory_order_relaxed);
}

std::unique_ptr<SequenceContext> SequenceContext::create(std::shared_ptr<TextModel> model, const SequenceOptions& opts) {
  if (!model) throw Error(ErrorCode::InvalidArgument, "no text model");
  if (opts.n_seq < 1 || opts.n_seq > limits::kMaxParallel) throw Error(ErrorCode::InvalidArgument, "parallel out of range");
  if (opts.n_ctx_seq < limits::kMinContext || opts.n_ctx_seq > limits::kMaxContext) throw Error(ErrorCode::InvalidArgument, "contextSize out of range");
  if (opts.n_batch < 1 || opts.n_batch > limits::kMaxBatch) throw Error(ErrorCode::InvalidArgument, "batchSize out of range");
  if (opts.threads < 1 || opts.threads > limits::kMaxThreads) throw Error(ErrorCode::InvalidArgument, "threads out of range");
  const int per_seq = (opts.n_ctx_seq + limits::kContextStep - 1) / limits::kContextStep * limits::kContextStep;
  // All sequences' cells together are one KV cache: the same bound as one context's.
  if (static_cast<int64_t>(per_seq) * opts.n_seq > limits::kMaxContext) {
    throw Error(ErrorCode::InvalidArgument, "parallel x contextSize is over " + std::to_string(limits::kMaxContext) + " tokens");
  }
  std::unique_ptr<SequenceContext> c(new SequenceContext());
  c->model_ = std::move(model);
  c->n_batch_ = std::min(opts.n_batch, per_seq);

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(per_seq * opts.n_seq);
  // A step decodes one token of every sequence: the batch must hold them all (libllama asserts).
  cp.n_batch = static_cast<uint32_t>(std::max(c->n_batch_, opts.n_seq));
  cp.n_ubatch = cp.n_batch;
  cp.n_seq_max = static_cast<uint32_t>(opts.n_seq);
  // A stream per sequence: its cells start at 0 as in a context of its own, so its attention sums
  // the same terms in the same order and greedy replies equal a lone session's (and libllama's
  // note: separate streams are the faster choice when sequences share no prefix).
  cp.kv_unified = false;
  if (opts.kv_q8_0) {
    cp.type_k = GGML_TYPE_Q8_0;
    cp.type_v = GGML_TYPE_Q8_0;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
  }
  c->ctx_ = open_llama_context(c->model_->raw(), cp, opts.threads, &SequenceContext::abort_requested, c.get(),
                               "a context of " + std::to_string(opts.n_seq) + " sequences of " + std::to_string(per_seq) + " tokens",
                               &c->threadpool_);
  c->n_ctx_seq_ = static_cast<int>(llama_n_ctx_seq(c->ctx_));
  if (c->n_ctx_seq_ != per_seq || static_cast<int>(llama_n_seq_max(c->ctx_)) != opts.n_seq) {
    throw Error(ErrorCode::Internal, "libllama made " + std::to_string(llama_n_seq_max(c->ctx_)) + " sequences of " +
                                         std::to_string(c->n_ctx_seq_) + " tokens, not the ones asked for");
  }
  c->checker_ = std::make_unique<ReplySampler>(c->model_);
  for (int i = 0; i < opts.n_seq; ++i) {
    auto s = std::make_unique<Sequence>();
    s->sampler = std::make_unique<ReplySampler>(c->model_);
    c->seqs_.push_back(std::move(s));
  }
  return c;
}

SequenceContext::~SequenceContext() {
  seqs_.clear();
  checker_.reset();
  close_llama_context(ctx_, threadpool_);
}

SequenceContext::Sequence& SequenceContext::at(int seq) {
  if (seq < 0 || seq >= n_seq()) throw Error(ErrorCode::InvalidArgument, "sequence " + std::to_string(seq) + " is out of range");
  return *seqs_[static_cast<size_t>(seq)];
}

const SequenceContext::Sequence& SequenceContext::at(int seq) const {
  return const_cast<SequenceContext*>(this)->at(seq);
}

void SequenceContext::truncate(int seq, int n_keep) {
  Sequence& s = at(seq);
  if (n_keep < 0 || n_keep > s.n_past.load()) throw Error(ErrorCode::InvalidArgument, "truncate position out of range");
  s.n_past.store(n_keep);
  s.has_logits = false;
  // The lowest position asked for since the last job wins.
  int cur = s.rm_from.load();
  while ((cur < 0 || n_keep < cur) && !s.rm_from.compare_exchange_weak(cur, n_keep)) {
  }
}

void SequenceContext::apply_truncations() {
  for (int i = 0; i < n_seq(); ++i) {
    const int from = seqs_[static_cast<size_t>(i)]->rm_from.exchange(-1);
    if (from >= 0) llama_memory_seq_rm(llama_get_memory(ctx_), i, from, -1);
  }
}

void SequenceContext::keep_logits(Sequence& s, int32_t batch_index) {
  const float* l = llama_get_logits_ith(ctx_, batch_index);
  if (!l) throw Error(ErrorCode::Internal, "no logits available");
  if (n_seq() == 1) {
    s.logits_row = batch_index;
  } else {
    s.logits.assign(l, l + model_->info().n_vocab);
  }
  s.has_logits = true;
}

const float* SequenceContext::last_logits(const Sequence& s) const {
  if (s.logits_row < 0) return s.logits.data();
  return llama_get_logits_ith(ctx_, s.logits_row);
}

// The parts' positions in all; throws on a token id or an embedding width libllama would misread.
size_t SequenceContext::check_parts(const std::vector<PromptPart>& parts) const {
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
  return total;
}

// One llama_decode of `n` positions of `part` from `offset`, at positions from `pos` of `seq`.
void SequenceContext::decode_chunk(int seq, const PromptPart& part, size_t offset, int n, int pos, bool logits) {
  const int n_embd = model_->info().n_embd;
  Batch batch(n, part.embeddings ? n_embd : 0);
  llama_batch& b = batch.b;
  b.n_tokens = n;
  if (part.embeddings) {
    std::memcpy(b.embd, part.embeddings->data() + offset * n_embd, sizeof(float) * n * n_embd);
  } else {
    std::memcpy(b.token, part.tokens.data() + offset, sizeof(int32_t) * n);
  }
  for (int i = 0; i < n; ++i) {
    b.pos[i] = pos + i;
    b.n_seq_id[i] = 1;
    b.seq_id[i][0] = seq;
    b.logits[i] = (logits && i + 1 == n) ? 1 : 0;
  }
  take_last_log_error();
  check_decode(llama_decode(ctx_, b));
}

void SequenceContext::prefill(int seq, const std::vector<PromptPart>& parts, bool last, const std::atomic<bool>* cancel,
                              const Progress& progress) {
  Sequence& s = at(seq);
  const int n_embd = model_->info().n_embd;
  const size_t total = check_parts(parts);
  std::lock_guard<std::mutex> lock(mu_);
  apply_truncations();
  const int start = s.n_past.load();
  if (static_cast<size_t>(start) + total > static_cast<size_t>(n_ctx_seq_)) {
    throw Error(ErrorCode::ContextOverflow, "the prompt needs " + std::to_string(start + total) + " tokens of context (" +
                                                std::to_string(start) + " already used + " + std::to_string(total) +
                                                " new) but the sequence holds " + std::to_string(n_ctx_seq_));
  }
  s.has_logits = false;
  cancel_.store(cancel);
  size_t done = 0;
  int n = 0;
  try {
    for (const PromptPart& p : parts) {
      const size_t len = p.length(n_embd);
      for (size_t off = 0; off < len; off += static_cast<size_t>(n_batch_)) {
        n = static_cast<int>(std::min(len - off, static_cast<size_t>(n_batch_)));
        if (cancel && cancel->load()) throw Error(ErrorCode::Aborted, "aborted");
        decode_chunk(seq, p, off, n, start + static_cast<int>(done), last && done + n == total);
        done += static_cast<size_t>(n);
        if (progress) progress(done, total);
      }
    }
    cancel_.store(nullptr);
    if (last) keep_logits(s, n - 1);
  } catch (...) {
    // Leave the sequence as it was before this call (an abort leaves the ubatches it finished).
    cancel_.store(nullptr);
    llama_memory_seq_rm(llama_get_memory(ctx_), seq, start, -1);
    s.has_logits = false;
    throw;
  }
  s.n_past.store(start + static_cast<int>(total));
}

std::vector<StepResult> SequenceContext::step(const std::vector<int>& seqs, const std::vector<const std::atomic<bool>*>& cancels) {
  if (seqs.empty() || seqs.size() > seqs_.size() || cancels.size() != seqs.size()) {
    throw Error(ErrorCode::InvalidArgument, "step: one to n_seq distinct sequences, each with its cancel flag");
  }
  std::vector<bool> seen(seqs_.size(), false);
  for (int q : seqs) {
    at(q);
    if (seen[static_cast<size_t>(q)]) throw Error(ErrorCode::InvalidArgument, "step: sequence " + std::to_string(q) + " is listed twice");
    seen[static_cast<size_t>(q)] = true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  apply_truncations();
  std::vector<StepResult> out(seqs.size());
  auto fail = [&](size_t i, ErrorCode code, const std::string& message) {
    out[i].failed = true;
    out[i].code = code;
    out[i].message = message;
  };
  std::vector<size_t> decoded;  // indexes into seqs of the tokens that go in the batch
  for (size_t i = 0; i < seqs.size(); ++i) {
    Sequence& s = at(seqs[i]);
    try {
      if (cancels[i] && cancels[i]->load()) throw Error(ErrorCode::Aborted, "aborted");
      if (!s.has_logits) throw Error(ErrorCode::Internal, "nothing to sample from: prefill first");
      const int32_t token = s.sampler->sample(last_logits(s));
      out[i].token = token;
      out[i].eog = model_->is_end_of_generation(token);
      out[i].bytes = model_->piece(token, false);
      if (out[i].eog) continue;
      if (s.n_past.load() + 1 > n_ctx_seq_) throw Error(ErrorCode::ContextOverflow, "the sequence is full (" + std::to_string(n_ctx_seq_) + " tokens)");
      decoded.push_back(i);
    } catch (const Error& e) {
      fail(i, e.code(), e.what());
    } catch (const std::exception& e) {
      fail(i, ErrorCode::Internal, e.what());
    }
  }
  if (decoded.empty()) return out;
  const int n = static_cast<int>(decoded.size());
  Batch batch(n, 0);
  llama_batch& b = batch.b;
  b.n_tokens = n;
  for (int k = 0; k < n; ++k) {
    const size_t i = decoded[static_cast<size_t>(k)];
    b.token[k] = out[i].token;
    b.pos[k] = at(seqs[i]).n_past.load();
    b.n_seq_id[k] = 1;
    b.seq_id[k][0] = seqs[i];
    b.logits[k] = 1;
  }
  // One sequence alone may be aborted inside its decode, as its prefill can; a batch of several
  // is not (its other tokens would go too).
  if (n == 1) cancel_.store(cancels[decoded[0]]);
  try {
    take_last_log_error();
    // A failed decode leaves the cache as it was (llama.h), for every sequence in it.
    check_decode(llama_decode(ctx_, b));
    cancel_.store(nullptr);
  } catch (const Error& e) {
    cancel_.store(nullptr);
    for (size_t i : decoded) {
      at(seqs[i]).has_logits = false;
      fail(i, e.code(), e.what());
    }
    return out;
  }
  for (int k = 0; k < n; ++k) {
    const size_t i = decoded[static_cast<size_t>(k)];
    Sequence& s = at(seqs[i]);
    try {
      keep_logits(s, k);
      s.n_past.fetch_add(1);
    } catch (const Error& e) {
      llama_memory_seq_rm(llama_get_memory(ctx_), seqs[i], s.n_past.load(), -1);
      s.has_logits = false;
      fail(i, e.code(), e.what());
    }
  }
  return out;
}

std::vector<float> SequenceContext::logits(int seq) const {
  const Sequence& s = at(seq);
  if (!s.has_logits) throw Error(ErrorCode::Internal, "no logits: prefill first");
  const float* l = last_logits(s);
  if (!l) throw Error(ErrorCode::Internal, "no logits available");
  return std::vector<float>(l, l + model_->info().n_vocab);
}

void SequenceContext::with_cells(int seq, const std::function<int(llama_context*, int)>& fn) {
  Sequence& s = at(seq);
  std::lock_guard<std::mutex> lock(mu_);
  apply_truncations();
  const int n = fn(ctx_, s.n_past.load());
  if (n != s.n_past.load()) {
    s.n_past.store(n);
    s.has_logits = false;
  }
}

}  // namespace mm
