// Where a weight matrix should live on the CPU: ggml's "extra" buffer types store matrices in the
// interleaved (repacked) layouts its fastest matmul kernels read — what libllama uses for its own
// weights (e.g. q4_0 on AVX2, about 1.6x faster per layer here). Matrices no extra type takes stay
// in the default CPU buffer.
#pragma once
#include "ggml-backend.h"
#include "ggml.h"

namespace mm {

// The first extra CPU buffer type that can hold `weight` (metadata only) as the first operand of
// a mul_mat by f32 activations, or null. `allow_amx` false leaves AMX tiles out.
ggml_backend_buffer_type_t cpu_weight_buffer_type(const ggml_tensor* weight, bool allow_amx = true);

}  // namespace mm
