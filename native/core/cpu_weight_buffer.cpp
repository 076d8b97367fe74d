#include "cpu_weight_buffer.h"

#include <cstring>

namespace mm {

bool runs_matmul(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft, const ggml_tensor* weight) {
  ggml_init_params ip{ggml_tensor_overhead() * 4, nullptr, /*no_alloc=*/true};
  ggml_context* ctx = ggml_init(ip);
  if (!ctx) return false;
  // As the graphs multiply it: flattened to [everything but the last dimension, last dimension]
  // (the patch kernel [P, P, 3, H] is a [3·P·P, H] matrix), never a shape mul_mat would assert on.
  const int64_t rows = weight->ne[ggml_n_dims(weight) - 1];
  const int64_t cols = ggml_nelements(weight) / rows;
  ggml_tensor* w = ggml_new_tensor_2d(ctx, weight->type, cols, rows);
  ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, 64);
  ggml_tensor* op = ggml_mul_mat(ctx, w, x);
  ggml_backend_buffer_t buf = ggml_backend_buft_alloc_buffer(buft, 0);
  bool ok = false;
  if (buf) {
    w->buffer = buf;
    ok = ggml_backend_dev_supports_op(dev, op);
    ggml_backend_buffer_free(buf);
  }
  ggml_free(ctx);
  return ok;
}

ggml_backend_buffer_type_t cpu_weight_buffer_type(const ggml_tensor* weight, bool allow_amx) {
  if (ggml_n_dims(weight) != 2) return nullptr;
  ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  if (!dev) return nullptr;
  auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
  if (!get_extra) return nullptr;
  for (ggml_backend_buffer_type_t* b = get_extra(dev); b && *b; ++b) {
    // The pinned AMX kernel gets rows of a single 32-value block wrong (K = 32, M >= 32: NaN or
    // unrelated values, measured against the plain CPU path), and its supports_op accepts them.
    // Its f16 path is AVX-512 code no faster than the plain CPU matmul (234 vs 216 ms for a
    // 1024x4096 weight by 1025 rows here): only quantized weights go to AMX tiles (q8_0: 3-4x).
    if (std::strcmp(ggml_backend_buft_name(*b), "AMX") == 0 &&
        (!allow_amx || weight->ne[0] < 64 || weight->type == GGML_TYPE_F16 || weight->type == GGML_TYPE_BF16 || weight->type == GGML_TYPE_F32)) {
      continue;
    }
    if (runs_matmul(dev, *b, weight)) return *b;
  }
  return nullptr;
}

}  // namespace mm
