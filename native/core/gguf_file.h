// A GGUF file opened for reading, with checked accessors.
//
// ggml's gguf getters GGML_ASSERT on a wrong key type, which would abort the host process; every
// accessor here checks first and throws mm::Error(ModelLoad) instead. Tensor data is read on
// demand with its range checked against the file size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ggml.h"
#include "gguf.h"

namespace mm {

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }

  bool has_key(const char* key) const;
  std::string get_string(const char* key) const;
  uint64_t get_uint(const char* key) const;           // any unsigned/signed integer type, >= 0
  uint64_t get_uint(const char* key, uint64_t fallback) const;
  double get_float(const char* key) const;            // f32 or f64
  double get_float(const char* key, double fallback) const;
  bool get_bool(const char* key, bool fallback) const;
  std::vector<double> get_float_array(const char* key) const;
  std::vector<std::string> get_string_array(const char* key) const;
  // An integer key that may also be stored per layer (an array): its value(s), each >= 0.
  std::vector<uint64_t> get_uint_list(const char* key) const;

  // Tensor metadata (ggml_tensor with no data) from the file's context, or nullptr.
  ggml_tensor* find_tensor(const char* name) const;
  int64_t tensor_count() const;
  const char* tensor_name(int64_t i) const { return gguf_get_tensor_name(gguf_, i); }
  ggml_context* meta() const { return meta_; }

  // Copies a tensor's bytes from the file into dst (dst_size must equal ggml_nbytes).
  void read_tensor(const char* name, void* dst, size_t dst_size) const;

  // Copies whole rows (dim 1 index, each ggml_row_size bytes) of a 2-D tensor into dst, one after
  // another: the few token-embedding rows a prompt needs, without reading the whole matrix.
  void read_rows(const char* name, const std::vector<int64_t>& rows, void* dst) const;

 private:
  void release();
  int64_t key_or_throw(const char* key) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  gguf_context* gguf_ = nullptr;
  ggml_context* meta_ = nullptr;
  uint64_t file_size_ = 0;
};

}  // namespace mm
