// SCM's pre-pass (facts §4): our own ggml graph over the whole uncompressed prompt — layer 0 in
// full, layer 1 up to its roped Q and K — that scores each detail-layer image token by the
// attention it receives from every later token, and keeps the top fraction.
//
// Query rows are processed in chunks, like ubatches against a KV cache: each chunk appends its
// layer-0 K/V and layer-1 K to caches of the whole sequence, then computes its rows' softmax over
// their full causal range and adds the probabilities that land on each detail block into per-head
// column sums. Nothing of size N x N x heads is ever held.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "ggml-backend.h"
#include "graph_runner.h"
#include "prompt_part.h"
#include "scm_graph.h"
#include "scm_weights.h"

namespace mm {

struct ScmRequest {
  std::vector<PromptPart> parts;   // the whole prompt, positions 0..N-1
  std::vector<ScmBlock> blocks;    // ascending, non-overlapping
  double keep = 0.5;               // fraction of each block kept: floor(length * keep) tokens
  int chunk = 64;                  // query rows per graph
  bool want_layer0 = false;        // return layer 0's output (for tests)
};

struct ScmResult {
  int n_tokens = 0;
  std::vector<std::vector<int32_t>> kept;  // per block: kept positions, ascending
  std::vector<std::vector<float>> scores;  // per block: mean attention over rows and heads
  std::vector<float> layer0;               // [N, n_embd] when asked
  size_t peak_bytes = 0;                   // weights + caches + graph memory + the input rows
};

class ScmPrepass {
 public:
  using Progress = std::function<void(size_t done, size_t total)>;

  // `device`: "auto" | "cpu" | a ggml device name (devices.h).
  static std::unique_ptr<ScmPrepass> create(const std::string& text_model_path, int threads, const std::string& device = "auto");
  ~ScmPrepass();
  ScmPrepass(const ScmPrepass&) = delete;
  ScmPrepass& operator=(const ScmPrepass&) = delete;

  const ScmHparams& hp() const { return weights_->hp(); }
  const DeviceChoice& device() const { return runner_->device(); }

  // Validates the request (ids, widths, blocks, keep) before any graph is built.
  ScmResult run(const ScmRequest& req, const std::atomic<bool>* cancel, const Progress& progress);

 private:
  ScmPrepass() = default;
  std::vector<float> input_rows(const ScmRequest& req, int n) const;

  std::unique_ptr<GraphRunner> runner_;
  std::unique_ptr<ScmWeights> weights_;
  std::mutex mu_;  // one run at a time: the runner's scheduler and abort hook are shared
};

}  // namespace mm
