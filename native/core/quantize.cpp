#include "quantize.h"

#include <cstring>

#include "errors.h"
#include "ggml.h"

namespace mm {

namespace {

ggml_type parse_type(const std::string& name) {
  static const struct { const char* name; ggml_type type; } kTypes[] = {
      {"f32", GGML_TYPE_F32}, {"f16", GGML_TYPE_F16}, {"bf16", GGML_TYPE_BF16}, {"q8_0", GGML_TYPE_Q8_0},
      {"q4_0", GGML_TYPE_Q4_0}, {"q4_1", GGML_TYPE_Q4_1}, {"q5_0", GGML_TYPE_Q5_0}, {"q5_1", GGML_TYPE_Q5_1},
      // k-quants (256-value super-blocks), for llama.cpp-style mixes such as q4_k_m.
      {"q4_k", GGML_TYPE_Q4_K}, {"q5_k", GGML_TYPE_Q5_K}, {"q6_k", GGML_TYPE_Q6_K},
  };
  for (const auto& t : kTypes) {
    if (name == t.name) return t.type;
  }
  throw Error(ErrorCode::InvalidArgument, "unsupported quantization type '" + name + "'");
}

}  // namespace

std::vector<uint8_t> quantize_rows(const std::string& type_name, const float* data, size_t n_floats, int64_t row_len) {
  const ggml_type type = parse_type(type_name);
  if (row_len <= 0) throw Error(ErrorCode::InvalidArgument, "row length must be positive");
  if (n_floats % static_cast<size_t>(row_len) != 0) throw Error(ErrorCode::InvalidArgument, "data length is not a multiple of the row length");
  const int64_t block = ggml_blck_size(type);
  if (row_len % block != 0) {
    throw Error(ErrorCode::InvalidArgument, "row length " + std::to_string(row_len) + " is not a multiple of " +
                                                std::to_string(block) + " (block size of " + type_name + ")");
  }
  const int64_t nrows = static_cast<int64_t>(n_floats / row_len);
  std::vector<uint8_t> out(ggml_row_size(type, row_len) * nrows);
  if (type == GGML_TYPE_F32) {
    std::memcpy(out.data(), data, n_floats * sizeof(float));
  } else {
    ggml_quantize_chunk(type, data, out.data(), 0, nrows, row_len, nullptr);
  }
  return out;
}

}  // namespace mm
