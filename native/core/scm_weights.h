// The part of a text model SCM's pre-pass needs (facts §4): layer 0 whole, layer 1 up to its
// roped Q and K, and the token embedding. Read from the same GGUF libllama loaded — about 2/L of
// the weights; token-embedding rows are read from the file on demand, never the whole matrix.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "gguf_file.h"
#include "graph_runner.h"
#include "weight_groups.h"

namespace mm {

struct ScmHparams {
  std::string arch;
  int n_embd = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0, n_vocab = 0, n_ctx_train = 0;
  int rope_mode = 0;  // GGML_ROPE_TYPE_NORM (internlm2, llama) or _NEOX (qwen2)
  float rope_freq_base = 10000.0f, rope_freq_scale = 1.0f, rms_eps = 1e-5f;
};

// One decoder layer's tensors; a null pointer is a tensor the file does not have (biases, or
// q/k/v when the file stores them fused as attn_qkv).
struct ScmLayer {
  ggml_tensor *attn_norm = nullptr, *wq = nullptr, *wk = nullptr, *wv = nullptr, *wqkv = nullptr;
  ggml_tensor *bq = nullptr, *bk = nullptr, *bv = nullptr, *bqkv = nullptr;
  ggml_tensor *wo = nullptr, *bo = nullptr, *ffn_norm = nullptr, *gate = nullptr, *up = nullptr, *down = nullptr;
};

class ScmWeights {
 public:
  // Throws Unsupported for architectures or rope variants the pre-pass does not implement.
  static std::unique_ptr<ScmWeights> load(const std::string& path, const GraphRunner& runner);
  ~ScmWeights();
  ScmWeights(const ScmWeights&) = delete;
  ScmWeights& operator=(const ScmWeights&) = delete;

  const ScmHparams& hp() const { return hp_; }
  const ScmLayer& layer(int i) const { return layers_[i]; }
  ggml_tensor* rope_freqs() const { return rope_freqs_; }  // llama-3 style frequency factors, or null

  // Token embeddings as f32 rows [ids.size(), n_embd]; ids must be valid.
  void embed_tokens(const std::vector<int32_t>& ids, float* dst) const;
  size_t bytes() const;

 private:
  ScmWeights() = default;
  ScmHparams hp_;
  std::unique_ptr<GgufFile> file_;
  ScmLayer layers_[2];
  ggml_tensor* rope_freqs_ = nullptr;
  std::unique_ptr<WeightGroups> weights_;  // where the runner placed them (device, repacked or plain CPU)
};

}  // namespace mm
