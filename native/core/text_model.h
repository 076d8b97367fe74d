// A language model loaded through libllama: weights, vocabulary and the special tokens the
// Mini-Monkey prompt needs. Shared (read-only) by every context made from it.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct llama_model;
struct llama_vocab;

namespace mm {

struct TextModelOptions {
  int gpu_layers = -1;           // layers on the device (-1: all); none when the device is the CPU
  bool use_mmap = true;
  std::string device = "auto";   // "auto" | "cpu" | a ggml device name (devices.h)
};

// Ids of the InternVL prompt tokens (facts §1.6), or -1 where the vocabulary lacks one.
struct SpecialTokens {
  int32_t bos = -1, eos = -1, im_start = -1, im_end = -1, img_start = -1, img_end = -1, img_context = -1;
  // Whether a prompt starts with bos (tokenizer.ggml.add_bos_token): InternLM2's <s> does, Qwen2's does not.
  bool add_bos = true;
};

struct TextModelInfo {
  std::string arch, name;
  int n_embd = 0, n_vocab = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ctx_train = 0;
  uint64_t n_params = 0, size_bytes = 0;
  // What libllama made of the file, so nothing above parses the GGUF again for it:
  // "norm" | "neox" | "mrope" | "imrope" | "vision" | "none", and the default chat template ("" when none).
  std::string rope_type, chat_template;
  SpecialTokens special;
  // The device libllama offloads layers to ("CPU" when none), how many it holds, and why the CPU is
  // used when a GPU was asked for or found ("" otherwise). SCM's pre-pass runs on the same device.
  std::string device = "CPU", device_note;
  int gpu_layers = 0;
};

class TextModel {
 public:
  using Progress = std::function<void(float)>;

  // Validates the file as GGUF with a supported text architecture first (libllama aborts on some
  // malformed inputs), then loads it. `cancel` stops a load in progress (throws Aborted).
  static std::shared_ptr<TextModel> load(const std::string& path, const TextModelOptions& opts,
                                         const std::atomic<bool>* cancel, const Progress& progress);
  ~TextModel();
  TextModel(const TextModel&) = delete;
  TextModel& operator=(const TextModel&) = delete;

  const TextModelInfo& info() const { return info_; }
  const std::string& path() const { return path_; }

  // SentencePiece tokenization of plain text. `parse_special` turns written special tokens into
  // their ids (only for trusted template text); `add_bos` prepends <s>.
  std::vector<int32_t> tokenize(const std::string& text, bool add_bos, bool parse_special) const;

  // The bytes a token stands for (may be part of a UTF-8 character); control tokens give "" unless
  // `special`.
  std::string piece(int32_t token, bool special) const;

  bool is_end_of_generation(int32_t token) const;
  bool valid_token(int32_t token) const { return token >= 0 && token < info_.n_vocab; }

  llama_model* raw() const { return model_; }
  const llama_vocab* vocab() const { return vocab_; }

 private:
  TextModel() = default;
  int32_t find_special(const char* text) const;

  llama_model* model_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  TextModelInfo info_;
  std::string path_;
};

}  // namespace mm
