// The ggml graph of one chunk of SCM's pre-pass: query rows [a, a + n) of the prompt.
#pragma once
#include <memory>
#include <vector>

#include "ggml.h"
#include "scm_weights.h"

namespace mm {

// A run of detail-layer image tokens [start, start + length) of the sequence. Its scores come from
// the rows after it, [start + length, N).
struct ScmBlock {
  int start = 0, length = 0;
};

// Per-sequence caches the chunks append to, f32 [head_dim, n_head_kv, N]: layer-0 keys and values
// (for layer 0's own attention) and layer-1 keys (for the scores).
struct ScmCaches {
  ggml_tensor *k0 = nullptr, *v0 = nullptr, *k1 = nullptr;
};

struct ScmChunkGraph {
  struct CtxFree {
    void operator()(ggml_context* c) const { ggml_free(c); }
  };
  std::unique_ptr<ggml_context, CtxFree> ctx;
  ggml_cgraph* gf = nullptr;
  ggml_tensor* x = nullptr;     // in: f32 [n_embd, n] input embeddings of the rows
  ggml_tensor* pos = nullptr;   // in: i32 [n] positions a..a+n-1
  ggml_tensor* mask = nullptr;  // in: f32 [a+n, n] causal mask (0 or -inf)
  ggml_tensor* out0 = nullptr;  // out: f32 [n_embd, n] layer 0's output
  // out per block: f32 [1, length, n_head] sums over this chunk's rows that score the block
  // (rows >= start + length) of their attention probabilities on each block token; null when
  // no row of this chunk scores the block.
  std::vector<ggml_tensor*> colsum;
  std::vector<int> rows;        // per block: how many rows of this chunk scored it
};

ScmChunkGraph build_scm_chunk(const ScmWeights& w, const ScmCaches& caches, int a, int n, const std::vector<ScmBlock>& blocks);

}  // namespace mm
