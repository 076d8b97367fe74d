// Where a weight matrix should live on the CPU: ggml's "extra" buffer types store matrices in the
// interleaved (repacked) layouts its fastest matmul kernels read — what libllama uses for its own
// weights (e.g. q4_0 on AVX2, about 1.6x faster per layer here). Matrices no extra type takes stay
// in the default CPU buffer.
#pragma once
#include "ggml-backend.h"
#include "ggml.h"

namespace mm {

// Whether `dev` multiplies a weight like `weight` (metadata only; any shape, taken as the matrix of
// its last dimension's rows), held in `buft`, by f32 activations: the check libllama makes before
// it places a weight (a throwaway mul_mat whose weight sits in a zero-size buffer of that type).
// Used for the CPU's extra types and for a GPU's own.
bool runs_matmul(ggml_backend_dev_t dev, ggml_backend_buffer_type_t buft, const ggml_tensor* weight);

// The first extra CPU buffer type that can hold `weight` (metadata only) as the first operand of
// a mul_mat by f32 activations, or null. `allow_amx` false leaves AMX tiles out.
ggml_backend_buffer_type_t cpu_weight_buffer_type(const ggml_tensor* weight, bool allow_amx = true);

}  // namespace mm
