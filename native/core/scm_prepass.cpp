#include "scm_prepass.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "errors.h"
#include "mm_limits.h"
#include "cpu_backend.h"
#include "ggml_log.h"
#include "scm_graph.h"

namespace mm {

namespace {

constexpr int kMaxTokens = 1 << 20;
constexpr size_t kMaxBlocks = 256;

struct BufferFree {
  void operator()(ggml_backend_buffer* b) const { ggml_backend_buffer_free(b); }
};
struct CtxFree {
  void operator()(ggml_context* c) const { ggml_free(c); }
};

// The K positions of a block with the highest scores (ties: the earlier token), ascending.
std::vector<int32_t> top_k(const std::vector<float>& score, int start, int k) {
  std::vector<int32_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t x, int32_t y) { return score[x] > score[y]; });
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  for (int32_t& i : idx) i += start;
  return idx;
}

}  // namespace

std::unique_ptr<ScmPrepass> ScmPrepass::create(const std::string& text_model_path, int threads, const std::string& device) {
  if (threads < 1 || threads > limits::kMaxThreads) throw Error(ErrorCode::InvalidArgument, "threads out of range");
  std::unique_ptr<ScmPrepass> p(new ScmPrepass());
  p->runner_ = std::make_unique<GraphRunner>(choose_device(device), threads);
  p->weights_ = ScmWeights::load(text_model_path, *p->runner_);
  return p;
}

ScmPrepass::~ScmPrepass() {
  runner_.reset();  // the scheduler's graph memory, then the weights
  weights_.reset();
}

// The prompt as f32 rows [N, n_embd]: token embeddings looked up, image rows copied.
std::vector<float> ScmPrepass::input_rows(const ScmRequest& req, int n) const {
  const int E = hp().n_embd;
  std::vector<float> x(static_cast<size_t>(n) * E);
  size_t row = 0;
  for (const PromptPart& p : req.parts) {
    if (p.embeddings) {
      std::memcpy(x.data() + row * E, p.embeddings->data(), p.embeddings->size() * sizeof(float));
    } else {
      weights_->embed_tokens(p.tokens, x.data() + row * E);
    }
    row += p.length(E);
  }
  return x;
}

ScmResult ScmPrepass::run(const ScmRequest& req, const std::atomic<bool>* cancel, const Progress& progress) {
  const ScmHparams& hp = this->hp();
  const int E = hp.n_embd;

  // Everything checked before any graph exists: a bad request is a typed error, never an assert.
  size_t total = 0;
  for (const PromptPart& p : req.parts) {
    if (p.embeddings) {
      if (!p.tokens.empty()) throw Error(ErrorCode::InvalidArgument, "a prompt part holds either tokens or embeddings");
      if (p.embeddings->empty() || p.embeddings->size() % static_cast<size_t>(E) != 0) {
        throw Error(ErrorCode::InvalidArgument, "image embeddings must be whole rows of " + std::to_string(E) + " floats");
      }
    } else {
      for (int32_t t : p.tokens) {
        if (t < 0 || t >= hp.n_vocab) throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(t) + " is out of range");
      }
    }
    total += p.length(E);
  }
  if (total == 0 || total > static_cast<size_t>(kMaxTokens)) throw Error(ErrorCode::InvalidArgument, "the prompt must hold 1 to 2^20 tokens");
  const int N = static_cast<int>(total);
  if (!(req.keep > 0 && req.keep <= 1)) throw Error(ErrorCode::InvalidArgument, "keep must be in (0, 1]");
  if (req.chunk < 1 || req.chunk > 8192) throw Error(ErrorCode::InvalidArgument, "chunk must be between 1 and 8192 rows");
  if (req.blocks.empty() || req.blocks.size() > kMaxBlocks) throw Error(ErrorCode::InvalidArgument, "1 to 256 detail blocks are needed");
  int prev_end = 0;
  for (const ScmBlock& b : req.blocks) {
    if (b.length < 1 || b.start < prev_end || b.start + static_cast<int64_t>(b.length) >= N) {
      throw Error(ErrorCode::InvalidArgument, "detail blocks must be ascending, non-overlapping, and each followed by at least one token");
    }
    prev_end = b.start + b.length;
  }

  std::lock_guard<std::mutex> lock(mu_);
  ScmResult res;
  res.n_tokens = N;
  std::vector<float> x = input_rows(req, N);

  // The caches of the whole sequence.
  const int64_t hd = hp.head_dim, kv = hp.n_head_kv;
  ggml_init_params ip{ggml_tensor_overhead() * 4, nullptr, true};
  std::unique_ptr<ggml_context, CtxFree> cctx(ggml_init(ip));
  if (!cctx) throw Error(ErrorCode::OutOfMemory, "cannot create the SCM cache context");
  ScmCaches caches;
  caches.k0 = ggml_new_tensor_3d(cctx.get(), GGML_TYPE_F32, hd, kv, N);
  caches.v0 = ggml_new_tensor_3d(cctx.get(), GGML_TYPE_F32, hd, kv, N);
  caches.k1 = ggml_new_tensor_3d(cctx.get(), GGML_TYPE_F32, hd, kv, N);
  std::unique_ptr<ggml_backend_buffer, BufferFree> cbuf(ggml_backend_alloc_ctx_tensors_from_buft(cctx.get(), runner_->state_buffer_type()));
  if (!cbuf) throw Error(ErrorCode::OutOfMemory, "cannot allocate SCM caches for " + std::to_string(N) + " tokens");

  // Graph memory sized once by the largest chunk: the last one, which sees every key.
  const int chunk = std::min(req.chunk, N);
  // The last chunk sees every key: the largest graph of the run, reserved first so no chunk reallocates.
  const std::vector<int64_t> shape{N, chunk, static_cast<int64_t>(req.blocks.size())};
  if (!runner_->fits(shape)) {
    const int a = std::max(0, N - chunk);
    ScmChunkGraph worst = build_scm_chunk(*weights_, caches, a, N - a, req.blocks);
    runner_->reserve(worst.gf, shape);
  }
  const size_t graph_bytes = runner_->reserved_bytes();
  res.peak_bytes = weights_->bytes() + ggml_backend_buffer_get_size(cbuf.get()) + graph_bytes + x.size() * sizeof(float);

  std::vector<std::vector<double>> sums(req.blocks.size());  // [head][token] per block
  std::vector<int64_t> rows(req.blocks.size(), 0);
  for (size_t i = 0; i < req.blocks.size(); ++i) sums[i].assign(static_cast<size_t>(req.blocks[i].length) * hp.n_head, 0.0);
  if (req.want_layer0) res.layer0.resize(x.size());

  std::vector<int32_t> pos;
  std::vector<float> mask, colsum;
  for (int a = 0; a < N; a += chunk) {
    if (cancel && cancel->load()) throw Error(ErrorCode::Aborted, "aborted");
    const int n = std::min(chunk, N - a), b = a + n;
    ScmChunkGraph g = build_scm_chunk(*weights_, caches, a, n, req.blocks);
    runner_->alloc(g.gf, shape, "the SCM pre-pass");
    pos.resize(n);
    std::iota(pos.begin(), pos.end(), a);
    mask.assign(static_cast<size_t>(b) * n, 0.0f);
    for (int r = 0; r < n; ++r) {
      std::fill(mask.begin() + static_cast<size_t>(r) * b + a + r + 1, mask.begin() + static_cast<size_t>(r + 1) * b,
                -std::numeric_limits<float>::infinity());
    }
    ggml_backend_tensor_set(g.x, x.data() + static_cast<size_t>(a) * E, 0, ggml_nbytes(g.x));
    ggml_backend_tensor_set(g.pos, pos.data(), 0, ggml_nbytes(g.pos));
    ggml_backend_tensor_set(g.mask, mask.data(), 0, ggml_nbytes(g.mask));

    runner_->compute(g.gf, cancel, "the SCM pre-pass");

    if (req.want_layer0) ggml_backend_tensor_get(g.out0, res.layer0.data() + static_cast<size_t>(a) * E, 0, ggml_nbytes(g.out0));
    for (size_t i = 0; i < req.blocks.size(); ++i) {
      if (!g.colsum[i]) continue;
      colsum.resize(ggml_nelements(g.colsum[i]));
      ggml_backend_tensor_get(g.colsum[i], colsum.data(), 0, ggml_nbytes(g.colsum[i]));
      for (size_t j = 0; j < colsum.size(); ++j) sums[i][j] += colsum[j];
      rows[i] += g.rows[i];
    }
    if (progress) progress(static_cast<size_t>(b), static_cast<size_t>(N));
  }

  // Mean over the rows, then over the heads (facts §4 step 4); keep the top floor(H * keep).
  for (size_t i = 0; i < req.blocks.size(); ++i) {
    const int H = req.blocks[i].length;
    std::vector<float> score(H);
    for (int t = 0; t < H; ++t) {
      double s = 0;
      for (int h = 0; h < hp.n_head; ++h) s += sums[i][static_cast<size_t>(h) * H + t];
      score[t] = static_cast<float>(s / (static_cast<double>(rows[i]) * hp.n_head));
    }
    const int k = static_cast<int>(std::floor(H * req.keep));
    res.kept.push_back(top_k(score, req.blocks[i].start, k));
    res.scores.push_back(std::move(score));
  }
  return res;
}

}  // namespace mm
