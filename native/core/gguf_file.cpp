#include "gguf_file.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sys/stat.h>

#include "errors.h"
#include "ggml_log.h"
#include "gguf_prescan.h"
#include "utf8_path.h"

namespace mm {

GgufFile::GgufFile(const std::string& path) : path_(path) {
  install_log_sink();
#ifdef _WIN32
  struct _stat64 st {};
  if (_wstat64(path_from_utf8(path).c_str(), &st) != 0) fail("file not found");
  if ((st.st_mode & _S_IFMT) != _S_IFREG) fail("not a regular file");
#else
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) fail("file not found");
  if (!S_ISREG(st.st_mode)) fail("not a regular file");
#endif
  file_size_ = static_cast<uint64_t>(st.st_size);
  if (file_size_ < 24) fail("file too small to be GGUF");

  prescan_gguf_header(path, file_size_);  // values ggml's own parser would trip over (UB)
  take_last_log_error();
  gguf_init_params params{/*no_alloc=*/true, &meta_};
  gguf_ = gguf_init_from_file(path.c_str(), params);
  if (!gguf_) {
    std::string why = take_last_log_error();
    fail(why.empty() ? "not a valid GGUF file" : "not a valid GGUF file (" + why + ")");
  }
  // Every tensor's bytes must lie inside the file: a truncated file is caught here, not on read.
  // A constructor that throws runs no destructor, so the contexts are freed here first (LSan).
  try {
    const uint64_t data_offset = gguf_get_data_offset(gguf_);
    const int64_t n = gguf_get_n_tensors(gguf_);
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t begin = data_offset + gguf_get_tensor_offset(gguf_, i);
      const uint64_t size = gguf_get_tensor_size(gguf_, i);
      if (begin > file_size_ || size > file_size_ - begin) {
        fail(std::string("tensor '") + gguf_get_tensor_name(gguf_, i) + "' extends past the end of the file (truncated?)");
      }
    }
  } catch (...) {
    release();
    throw;
  }
}

void GgufFile::release() {
  if (gguf_) gguf_free(gguf_);
  if (meta_) ggml_free(meta_);
  gguf_ = nullptr;
  meta_ = nullptr;
}

GgufFile::~GgufFile() { release(); }

void GgufFile::fail(const std::string& what) const {
  throw Error(ErrorCode::ModelLoad, path_ + ": " + what);
}

bool GgufFile::has_key(const char* key) const { return gguf_find_key(gguf_, key) >= 0; }

int64_t GgufFile::key_or_throw(const char* key) const {
  const int64_t id = gguf_find_key(gguf_, key);
  if (id < 0) fail(std::string("missing key '") + key + "'");
  return id;
}

std::string GgufFile::get_string(const char* key) const {
  const int64_t id = key_or_throw(key);
  if (gguf_get_kv_type(gguf_, id) != GGUF_TYPE_STRING) fail(std::string("key '") + key + "' is not a string");
  return gguf_get_val_str(gguf_, id);
}

uint64_t GgufFile::get_uint(const char* key) const {
  const int64_t id = key_or_throw(key);
  const gguf_type t = gguf_get_kv_type(gguf_, id);
  int64_t v = 0;
  switch (t) {
    case GGUF_TYPE_UINT8: v = gguf_get_val_u8(gguf_, id); break;
    case GGUF_TYPE_INT8: v = gguf_get_val_i8(gguf_, id); break;
    case GGUF_TYPE_UINT16: v = gguf_get_val_u16(gguf_, id); break;
    case GGUF_TYPE_INT16: v = gguf_get_val_i16(gguf_, id); break;
    case GGUF_TYPE_UINT32: v = gguf_get_val_u32(gguf_, id); break;
    case GGUF_TYPE_INT32: v = gguf_get_val_i32(gguf_, id); break;
    case GGUF_TYPE_UINT64: {
      const uint64_t u = gguf_get_val_u64(gguf_, id);
      if (u > static_cast<uint64_t>(INT64_MAX)) fail(std::string("key '") + key + "' is out of range");
      v = static_cast<int64_t>(u);
      break;
    }
    case GGUF_TYPE_INT64: v = gguf_get_val_i64(gguf_, id); break;
    default: fail(std::string("key '") + key + "' is not an integer");
  }
  if (v < 0) fail(std::string("key '") + key + "' is negative");
  return static_cast<uint64_t>(v);
}

uint64_t GgufFile::get_uint(const char* key, uint64_t fallback) const {
  return has_key(key) ? get_uint(key) : fallback;
}

double GgufFile::get_float(const char* key) const {
  const int64_t id = key_or_throw(key);
  const gguf_type t = gguf_get_kv_type(gguf_, id);
  if (t == GGUF_TYPE_FLOAT32) return gguf_get_val_f32(gguf_, id);
  if (t == GGUF_TYPE_FLOAT64) return gguf_get_val_f64(gguf_, id);
  fail(std::string("key '") + key + "' is not a float");
}

double GgufFile::get_float(const char* key, double fallback) const {
  return has_key(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool(const char* key, bool fallback) const {
  const int64_t id = gguf_find_key(gguf_, key);
  if (id < 0) return fallback;
  if (gguf_get_kv_type(gguf_, id) != GGUF_TYPE_BOOL) fail(std::string("key '") + key + "' is not a bool");
  return gguf_get_val_bool(gguf_, id);
}

std::vector<double> GgufFile::get_float_array(const char* key) const {
  const int64_t id = key_or_throw(key);
  if (gguf_get_kv_type(gguf_, id) != GGUF_TYPE_ARRAY) fail(std::string("key '") + key + "' is not an array");
  const gguf_type at = gguf_get_arr_type(gguf_, id);
  // Checked before gguf_get_arr_data, which asserts on a string array.
  if (at != GGUF_TYPE_FLOAT32 && at != GGUF_TYPE_FLOAT64) fail(std::string("key '") + key + "' is not a float array");
  const size_t n = gguf_get_arr_n(gguf_, id);
  std::vector<double> out(n);
  const void* data = gguf_get_arr_data(gguf_, id);
  if (at == GGUF_TYPE_FLOAT32) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<const float*>(data)[i];
  } else if (at == GGUF_TYPE_FLOAT64) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<const double*>(data)[i];
  } else {
    fail(std::string("key '") + key + "' is not a float array");
  }
  return out;
}

std::vector<uint64_t> GgufFile::get_uint_list(const char* key) const {
  const int64_t id = key_or_throw(key);
  if (gguf_get_kv_type(gguf_, id) != GGUF_TYPE_ARRAY) return {get_uint(key)};
  const gguf_type at = gguf_get_arr_type(gguf_, id);
  const size_t n = gguf_get_arr_n(gguf_, id);
  std::vector<uint64_t> out;
  out.reserve(n);
  auto push = [&](int64_t v) {
    if (v < 0) fail(std::string("key '") + key + "' has a negative element");
    out.push_back(static_cast<uint64_t>(v));
  };
  if (at == GGUF_TYPE_STRING || at == GGUF_TYPE_ARRAY) fail(std::string("key '") + key + "' is not an integer array");
  const void* data = gguf_get_arr_data(gguf_, id);
  for (size_t i = 0; i < n; ++i) {
    switch (at) {
      case GGUF_TYPE_UINT8: push(static_cast<const uint8_t*>(data)[i]); break;
      case GGUF_TYPE_INT8: push(static_cast<const int8_t*>(data)[i]); break;
      case GGUF_TYPE_UINT16: push(static_cast<const uint16_t*>(data)[i]); break;
      case GGUF_TYPE_INT16: push(static_cast<const int16_t*>(data)[i]); break;
      case GGUF_TYPE_UINT32: push(static_cast<const uint32_t*>(data)[i]); break;
      case GGUF_TYPE_INT32: push(static_cast<const int32_t*>(data)[i]); break;
      case GGUF_TYPE_UINT64: {
        const uint64_t u = static_cast<const uint64_t*>(data)[i];
        if (u > static_cast<uint64_t>(INT64_MAX)) fail(std::string("key '") + key + "' is out of range");
        push(static_cast<int64_t>(u));
        break;
      }
      case GGUF_TYPE_INT64: push(static_cast<const int64_t*>(data)[i]); break;
      default: fail(std::string("key '") + key + "' is not an integer array");
    }
  }
  return out;
}

std::vector<std::string> GgufFile::get_string_array(const char* key) const {
  const int64_t id = key_or_throw(key);
  if (gguf_get_kv_type(gguf_, id) != GGUF_TYPE_ARRAY || gguf_get_arr_type(gguf_, id) != GGUF_TYPE_STRING) {
    fail(std::string("key '") + key + "' is not a string array");
  }
  const size_t n = gguf_get_arr_n(gguf_, id);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.emplace_back(gguf_get_arr_str(gguf_, id, i));
  return out;
}

ggml_tensor* GgufFile::find_tensor(const char* name) const { return ggml_get_tensor(meta_, name); }

int64_t GgufFile::tensor_count() const { return gguf_get_n_tensors(gguf_); }

namespace {

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

bool read_at(FILE* f, uint64_t offset, void* dst, size_t size) {
#if defined(_WIN32)
  const int seek = _fseeki64(f, static_cast<long long>(offset), SEEK_SET);
#else
  const int seek = fseeko(f, static_cast<off_t>(offset), SEEK_SET);
#endif
  return seek == 0 && std::fread(dst, 1, size, f) == size;
}

}  // namespace

void GgufFile::read_tensor(const char* name, void* dst, size_t dst_size) const {
  const int64_t id = gguf_find_tensor(gguf_, name);
  if (id < 0) fail(std::string("missing tensor '") + name + "'");
  const size_t size = gguf_get_tensor_size(gguf_, id);
  if (size != dst_size) fail(std::string("tensor '") + name + "' has an unexpected size");
  const uint64_t offset = gguf_get_data_offset(gguf_) + gguf_get_tensor_offset(gguf_, id);
  File f(fopen_utf8(path_, "rb"), &std::fclose);
  if (!f) fail("cannot open for reading");
  if (!read_at(f.get(), offset, dst, size)) fail(std::string("cannot read tensor '") + name + "' (file changed or truncated?)");
}

void GgufFile::read_rows(const char* name, const std::vector<int64_t>& rows, void* dst) const {
  const int64_t id = gguf_find_tensor(gguf_, name);
  ggml_tensor* t = find_tensor(name);
  if (id < 0 || !t) fail(std::string("missing tensor '") + name + "'");
  const size_t row_bytes = ggml_row_size(t->type, t->ne[0]);
  const uint64_t base = gguf_get_data_offset(gguf_) + gguf_get_tensor_offset(gguf_, id);
  File f(fopen_utf8(path_, "rb"), &std::fclose);
  if (!f) fail("cannot open for reading");
  auto* out = static_cast<uint8_t*>(dst);
  for (const int64_t r : rows) {
    if (r < 0 || r >= t->ne[1]) fail(std::string("row ") + std::to_string(r) + " of tensor '" + name + "' is out of range");
    if (!read_at(f.get(), base + static_cast<uint64_t>(r) * row_bytes, out, row_bytes)) {
      fail(std::string("cannot read tensor '") + name + "' (file changed or truncated?)");
    }
    out += row_bytes;
  }
}

}  // namespace mm
