#include "text_model.h"

#include <mutex>

#include "cpu_backend.h"
#include "devices.h"
#include "errors.h"
#include "ggml_log.h"
#include "llama.h"
#include "text_gguf_check.h"

namespace mm {

namespace {

struct LoadState {
  const std::atomic<bool>* cancel;
  const TextModel::Progress* progress;
};

bool on_progress(float p, void* data) {
  auto* st = static_cast<LoadState*>(data);
  if (st->cancel && st->cancel->load()) return false;
  if (st->progress && *st->progress) (*st->progress)(p);
  return true;
}

}  // namespace

std::shared_ptr<TextModel> TextModel::load(const std::string& path, const TextModelOptions& opts,
                                           const std::atomic<bool>* cancel, const Progress& progress) {
  install_log_sink();
  static std::once_flag backend_once;
  // Our CPU variant and GPU modules first: llama_backend_init loads ggml's backends itself, from the
  // executable's folder and the working directory, when none is registered yet.
  ensure_cpu_backend();
  const DeviceChoice device = choose_device(opts.device);
  std::call_once(backend_once, [] { llama_backend_init(); });
  if (opts.gpu_layers < -1) throw Error(ErrorCode::InvalidArgument, "gpuLayers must be -1 (all) or >= 0");
  check_text_gguf(path);  // libllama would assert on some malformed files

  llama_model_params mp = llama_model_default_params();
  // libllama's device list, never its default (every GPU): the CPU alone gets an empty list, so a
  // GPU in the machine takes no part (not even libllama's offload of large CPU batches).
  ggml_backend_dev_t devices[2] = {device.dev, nullptr};
  mp.devices = devices;
  mp.n_gpu_layers = device.dev ? opts.gpu_layers : 0;
  mp.load_mode = opts.use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
  LoadState st{cancel, &progress};
  mp.progress_callback = on_progress;
  mp.progress_callback_user_data = &st;

  take_last_log_error();
  llama_model* model = llama_model_load_from_file(path.c_str(), mp);
  if (!model) {
    if (cancel && cancel->load()) throw Error(ErrorCode::Aborted, "model load aborted");
    const std::string why = take_last_log_error();
    throw Error(ErrorCode::ModelLoad, path + ": libllama could not load the model" + (why.empty() ? "" : " (" + why + ")"));
  }
  std::shared_ptr<TextModel> tm(new TextModel());
  tm->model_ = model;
  tm->path_ = path;
  tm->vocab_ = llama_model_get_vocab(model);

  TextModelInfo& in = tm->info_;
  in.device = device.name;
  in.device_note = device.note;
  in.gpu_layers = device.dev ? (opts.gpu_layers < 0 ? llama_model_n_layer(model) + 1 : opts.gpu_layers) : 0;
  char buf[256];
  if (llama_model_meta_val_str(model, "general.architecture", buf, sizeof buf) >= 0) in.arch = buf;
  if (llama_model_meta_val_str(model, "general.name", buf, sizeof buf) >= 0) in.name = buf;
  in.n_embd = llama_model_n_embd(model);
  in.n_vocab = llama_vocab_n_tokens(tm->vocab_);
  in.n_layer = llama_model_n_layer(model);
  in.n_head = llama_model_n_head(model);
  in.n_head_kv = llama_model_n_head_kv(model);
  in.n_ctx_train = llama_model_n_ctx_train(model);
  in.n_params = llama_model_n_params(model);
  in.size_bytes = llama_model_size(model);
  switch (llama_model_rope_type(model)) {
    case LLAMA_ROPE_TYPE_NORM: in.rope_type = "norm"; break;
    case LLAMA_ROPE_TYPE_NEOX: in.rope_type = "neox"; break;
    case LLAMA_ROPE_TYPE_MROPE: in.rope_type = "mrope"; break;
    case LLAMA_ROPE_TYPE_IMROPE: in.rope_type = "imrope"; break;
    case LLAMA_ROPE_TYPE_VISION: in.rope_type = "vision"; break;
    default: in.rope_type = "none"; break;
  }
  if (const char* tmpl = llama_model_chat_template(model, nullptr)) in.chat_template = tmpl;
  SpecialTokens& sp = in.special;
  sp.bos = llama_vocab_bos(tm->vocab_);
  sp.eos = llama_vocab_eos(tm->vocab_);
  sp.add_bos = llama_vocab_get_add_bos(tm->vocab_);
  sp.im_start = tm->find_special("<|im_start|>");
  sp.im_end = tm->find_special("<|im_end|>");
  sp.img_start = tm->find_special("<img>");
  sp.img_end = tm->find_special("</img>");
  sp.img_context = tm->find_special("<IMG_CONTEXT>");
  return tm;
}

TextModel::~TextModel() {
  if (model_) llama_model_free(model_);
}

int32_t TextModel::find_special(const char* text) const {
  const std::vector<int32_t> ids = tokenize(text, false, true);
  if (ids.size() != 1) return -1;
  // Must be a real special token, not a plain piece spelled the same.
  const auto attr = llama_vocab_get_attr(vocab_, ids[0]);
  return (attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED)) ? ids[0] : -1;
}

std::vector<int32_t> TextModel::tokenize(const std::string& text, bool add_bos, bool parse_special) const {
  if (text.size() > 64u * 1024 * 1024) throw Error(ErrorCode::InvalidArgument, "text too long to tokenize (over 64 MiB)");
  if (add_bos && info_.special.bos < 0 && info_.special.add_bos) {
    throw Error(ErrorCode::InvalidArgument, "this vocabulary has no bos token to add");  // libllama asserts
  }
  std::vector<int32_t> out(text.size() + 8);
  int32_t n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), out.data(),
                             static_cast<int32_t>(out.size()), add_bos, parse_special);
  if (n == INT32_MIN) throw Error(ErrorCode::InvalidArgument, "tokenization overflow");
  if (n < 0) {
    out.resize(static_cast<size_t>(-n));
    n = llama_tokenize(vocab_, text.data(), static_cast<int32_t>(text.size()), out.data(),
                       static_cast<int32_t>(out.size()), add_bos, parse_special);
    if (n < 0) throw Error(ErrorCode::Internal, "tokenization failed");
  }
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string TextModel::piece(int32_t token, bool special) const {
  if (!valid_token(token)) throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(token) + " is out of range");
  char buf[128];
  int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof buf, 0, special);
  if (n >= 0) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(-n), '\0');
  n = llama_token_to_piece(vocab_, token, big.data(), static_cast<int32_t>(big.size()), 0, special);
  if (n < 0) throw Error(ErrorCode::Internal, "cannot render token " + std::to_string(token));
  big.resize(static_cast<size_t>(n));
  return big;
}

bool TextModel::is_end_of_generation(int32_t token) const { return llama_vocab_is_eog(vocab_, token); }

}  // namespace mm
