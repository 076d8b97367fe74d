#include "text_gguf_check.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

#include "errors.h"
#include "gguf_file.h"

namespace mm {

namespace {

// Text architectures of the InternVL family that the chat path (and SCM) is built for.
const std::set<std::string> kSupportedArchs = {"internlm2", "qwen2", "llama"};

// libllama's LLAMA_MAX_LAYERS (llama-hparams.h): more layers assert in load_hparams.
constexpr uint64_t kMaxLayers = 512;
// Widths past these are no model that fits in memory; they also keep the products below in range.
constexpr uint64_t kMaxWidth = 1u << 20;
constexpr uint64_t kMaxHeads = 4096;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error(ErrorCode::ModelLoad, path + ": " + what);
}

uint64_t required_count(const GgufFile& f, const std::string& key, uint64_t max) {
  if (!f.has_key(key.c_str())) bad(f.path(), "missing key '" + key + "'");
  const uint64_t v = f.get_uint(key.c_str());
  if (v < 1 || v > max) bad(f.path(), "'" + key + "' = " + std::to_string(v) + " is outside 1.." + std::to_string(max));
  return v;
}

// A per-layer key (scalar or array of n_layer): every value within [min, max].
std::vector<uint64_t> layer_counts(const GgufFile& f, const std::string& key, uint64_t n_layer, uint64_t min, uint64_t max,
                                   bool required) {
  if (!f.has_key(key.c_str())) {
    if (required) bad(f.path(), "missing key '" + key + "'");
    return {};
  }
  std::vector<uint64_t> v = f.get_uint_list(key.c_str());
  if (v.size() != 1 && v.size() != n_layer) {
    bad(f.path(), "'" + key + "' has " + std::to_string(v.size()) + " values for " + std::to_string(n_layer) + " layers");
  }
  for (uint64_t x : v) {
    if (x < min || x > max) bad(f.path(), "'" + key + "' = " + std::to_string(x) + " is outside " + std::to_string(min) + ".." + std::to_string(max));
  }
  return v;
}

void check_float(const GgufFile& f, const std::string& key, bool (*ok)(double), const char* rule) {
  if (!f.has_key(key.c_str())) return;
  const double v = f.get_float(key.c_str());
  if (!std::isfinite(v) || !ok(v)) bad(f.path(), "'" + key + "' = " + std::to_string(v) + " must be " + rule);
}

void check_hparams(const GgufFile& f, const std::string& a) {
  const uint64_t n_layer = required_count(f, a + ".block_count", kMaxLayers);
  const uint64_t n_embd = required_count(f, a + ".embedding_length", kMaxWidth);
  required_count(f, a + ".context_length", UINT32_MAX);
  layer_counts(f, a + ".feed_forward_length", n_layer, 1, kMaxWidth, true);
  const auto heads = layer_counts(f, a + ".attention.head_count", n_layer, 1, kMaxHeads, true);
  auto kv = layer_counts(f, a + ".attention.head_count_kv", n_layer, 1, kMaxHeads, false);
  if (kv.empty()) kv = heads;
  for (size_t il = 0; il < n_layer; ++il) {
    const uint64_t h = heads[heads.size() == 1 ? 0 : il], k = kv[kv.size() == 1 ? 0 : il];
    if (k > h || h % k != 0) bad(f.path(), "layer " + std::to_string(il) + ": " + std::to_string(h) + " heads are not a multiple of " + std::to_string(k) + " KV heads");
    if (n_embd % h != 0) bad(f.path(), "embedding_length " + std::to_string(n_embd) + " is not a multiple of " + std::to_string(h) + " heads");
  }
  // Dense architectures: libllama asserts on any expert count that does not add up.
  for (const char* k : {".expert_count", ".expert_used_count", ".expert_group_count", ".expert_group_used_count", ".nextn_predict_layers"}) {
    const std::string key = a + k;
    if (!f.has_key(key.c_str())) continue;
    for (uint64_t v : f.get_uint_list(key.c_str())) {
      if (v != 0) bad(f.path(), "'" + key + "' = " + std::to_string(v) + ": " + a + " is a dense architecture");
    }
  }
  const uint64_t head_dim = n_embd / heads[0];
  for (const char* k : {".attention.key_length", ".attention.value_length"}) {
    const std::string key = a + k;
    if (f.has_key(key.c_str()) && f.get_uint(key.c_str()) != head_dim) {
      bad(f.path(), "'" + key + "' must equal embedding_length / head_count = " + std::to_string(head_dim));
    }
  }
  const std::string rope_dims = a + ".rope.dimension_count";
  if (f.has_key(rope_dims.c_str())) {
    const uint64_t d = f.get_uint(rope_dims.c_str());
    if (d < 2 || d % 2 != 0 || d > head_dim) bad(f.path(), "'" + rope_dims + "' = " + std::to_string(d) + " must be even and within 2.." + std::to_string(head_dim));
  }
  const std::string scaling = a + ".rope.scaling.type";
  if (f.has_key(scaling.c_str())) {
    const std::string t = f.get_string(scaling.c_str());
    if (t != "none" && t != "linear" && t != "yarn" && t != "longrope") bad(f.path(), "'" + scaling + "' = '" + t + "' is not none, linear, yarn or longrope");
  }
  check_float(f, a + ".rope.freq_base", [](double v) { return v > 0; }, "> 0");
  check_float(f, a + ".rope.scaling.factor", [](double v) { return v >= 0; }, ">= 0");
  // ggml_rms_norm asserts eps >= 0 at the first decode; a real eps is ~1e-6.
  check_float(f, a + ".attention.layer_norm_rms_epsilon", [](double v) { return v >= 0 && v < 1; }, "in [0, 1)");
}

// Weights in a float or quantized type ggml can multiply; 1-D tensors (norms, biases) in f32, the
// type libllama's element-wise ops take. Integer and f64 tensors would assert in the graph.
void check_tensor_types(const GgufFile& f) {
  for (int64_t i = 0; i < f.tensor_count(); ++i) {
    const ggml_tensor* t = ggml_get_tensor(f.meta(), f.tensor_name(i));
    if (!t) continue;
    const ggml_type type = t->type;
    const bool integer = type == GGML_TYPE_I8 || type == GGML_TYPE_I16 || type == GGML_TYPE_I32 || type == GGML_TYPE_I64 || type == GGML_TYPE_F64;
    if (integer) bad(f.path(), std::string("tensor '") + t->name + "' is " + ggml_type_name(type) + ": weights must be a float or quantized type");
    if (ggml_n_dims(t) == 1 && type != GGML_TYPE_F32) {
      bad(f.path(), std::string("tensor '") + t->name + "' is a 1-D " + ggml_type_name(type) + " tensor: norms and biases must be f32");
    }
  }
}

// SentencePiece vocabularies fall back to <0xXX> tokens for text outside the vocabulary; libllama
// looks those up with std::map::at, so a vocabulary without them cannot encode e.g. "€".
void check_vocab(const GgufFile& f, const std::string& tok_model, const std::set<std::string>& have) {
  if (tok_model != "llama") return;
  int missing = 0;
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    if (!have.count(name)) ++missing;
  }
  if (missing > 0) {
    bad(f.path(), "the SentencePiece vocabulary lacks " + std::to_string(missing) +
                      " of the 256 byte-fallback tokens <0x00>..<0xFF>: text outside the vocabulary could not be tokenized");
  }
}

}  // namespace

void check_text_gguf(const std::string& path) {
  GgufFile f(path);
  const std::string arch = f.get_string("general.architecture");
  if (arch == "clip") {
    throw Error(ErrorCode::ModelLoad, path + ": this is a vision projector (mmproj), not a text model; pass it as `mmproj`");
  }
  if (!kSupportedArchs.count(arch)) {
    throw Error(ErrorCode::Unsupported, path + ": text architecture '" + arch + "' is not supported (internlm2, qwen2, llama)");
  }
  const std::string tok_model = f.get_string("tokenizer.ggml.model");
  if (tok_model != "llama" && tok_model != "gpt2") {
    throw Error(ErrorCode::Unsupported, path + ": tokenizer '" + tok_model + "' is not supported (llama/SPM or gpt2/BPE)");
  }
  const std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (tokens.empty()) bad(path, "the vocabulary is empty");
  std::set<std::string> seen;
  for (const auto& t : tokens) {
    if (!seen.insert(t).second) bad(path, "duplicate token '" + t + "' in the vocabulary");
  }
  // Special ids libllama asserts on when a prompt asks for them (add_bos / add_eos).
  if (f.get_uint("tokenizer.ggml.bos_token_id", 1) >= tokens.size()) bad(path, "bos token id out of range");
  if (f.has_key("tokenizer.ggml.eos_token_id") && f.get_uint("tokenizer.ggml.eos_token_id") >= tokens.size()) bad(path, "eos token id out of range");
  if (f.get_bool("tokenizer.ggml.add_eos_token", false) && !f.has_key("tokenizer.ggml.eos_token_id")) {
    bad(path, "add_eos_token is set but the file names no eos token");
  }
  check_vocab(f, tok_model, seen);  // the set the duplicate check built: no second copy of 92k tokens
  check_hparams(f, arch);
  check_tensor_types(f);
}

}  // namespace mm
