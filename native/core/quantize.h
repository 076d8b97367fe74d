// Row-wise conversion of f32 data to ggml storage types with ggml's own quantizer,
// for the synthetic model writer (and later the converter).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm {

// type: "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1".
// n_floats must be a multiple of row_len, and row_len a multiple of the type's block size.
std::vector<uint8_t> quantize_rows(const std::string& type, const float* data, size_t n_floats, int64_t row_len);

}  // namespace mm
