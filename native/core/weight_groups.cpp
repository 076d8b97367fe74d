#include "weight_groups.h"

#include "cpu_backend.h"
#include "errors.h"
#include "gguf_file.h"

namespace mm {

WeightGroups::~WeightGroups() {
  for (Group& g : groups_) {
    if (g.buffer) ggml_backend_buffer_free(g.buffer);
    ggml_free(g.ctx);
  }
}

ggml_tensor* WeightGroups::add(const ggml_tensor* meta, const std::string& name, ggml_backend_buffer_type_t buft) {
  Group* home = nullptr;
  for (Group& g : groups_) {
    if (g.buft == buft) home = &g;
  }
  if (!home) {
    ggml_init_params ip{ggml_tensor_overhead() * (max_ + 1), nullptr, /*no_alloc=*/true};
    ggml_context* ctx = ggml_init(ip);
    if (!ctx) throw Error(ErrorCode::OutOfMemory, "cannot create a weight context");
    groups_.push_back({buft, ctx, nullptr});
    home = &groups_.back();
  }
  ggml_tensor* t = ggml_dup_tensor(home->ctx, meta);
  ggml_set_name(t, name.c_str());
  return t;
}

void WeightGroups::allocate(const std::string& what) {
  for (Group& g : groups_) {
    g.buffer = ggml_backend_alloc_ctx_tensors_from_buft(g.ctx, g.buft);
    if (!g.buffer) throw Error(ErrorCode::OutOfMemory, "cannot allocate " + std::string(ggml_backend_buft_name(g.buft)) + " memory for " + what);
    ggml_backend_buffer_set_usage(g.buffer, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
  }
}

size_t WeightGroups::bytes() const {
  size_t n = 0;
  for (const Group& g : groups_) n += g.buffer ? ggml_backend_buffer_get_size(g.buffer) : 0;
  return n;
}

void read_weights(const GgufFile& file, const std::vector<ggml_tensor*>& tensors) {
  ggml_backend_buffer_type_t plain = ggml_backend_dev_buffer_type(cpu_device());
  std::vector<uint8_t> staging;
  for (ggml_tensor* t : tensors) {
    const size_t nbytes = ggml_nbytes(t);
    if (ggml_backend_buffer_get_type(t->buffer) == plain) {
      file.read_tensor(ggml_get_name(t), t->data, nbytes);
    } else {
      staging.resize(nbytes);
      file.read_tensor(ggml_get_name(t), staging.data(), nbytes);
      ggml_backend_tensor_set(t, staging.data(), 0, nbytes);
    }
  }
}

}  // namespace mm
