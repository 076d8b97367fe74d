#include "gguf_prescan.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "errors.h"
#include "ggml.h"
#include "gguf.h"
#include "utf8_path.h"

namespace mm {

namespace {

// Sequential reads with every length checked against what is left of the file.
class HeaderReader {
 public:
  HeaderReader(const std::string& path, uint64_t size) : path_(path), size_(size), f_(fopen_utf8(path, "rb"), &std::fclose) {
    if (!f_) fail("cannot open");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::ModelLoad, path_ + ": not a valid GGUF file (" + what + " at byte " + std::to_string(pos_) + ")");
  }

  uint64_t left() const { return size_ - pos_; }

  template <typename T>
  T read() {
    T v{};
    bytes(&v, sizeof v);
    return v;
  }

  void skip(uint64_t n) {
    if (n > left()) fail("a length runs past the end of the file");
    if (std::fseek(f_.get(), static_cast<long>(n), SEEK_CUR) != 0) fail("seek failed");
    pos_ += n;
  }

  void skip_string() { skip(read<uint64_t>()); }

 private:
  void bytes(void* dst, size_t n) {
    if (n > left() || std::fread(dst, 1, n, f_.get()) != n) fail("the header is truncated");
    pos_ += n;
  }

  std::string path_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::unique_ptr<FILE, int (*)(FILE*)> f_;
};

size_t scalar_size(uint32_t type) {
  switch (type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;  // string, array, or not a type
  }
}

}  // namespace

void prescan_gguf_header(const std::string& path, uint64_t file_size) {
  HeaderReader r(path, file_size);
  if (r.read<uint32_t>() != 0x46554747u) r.fail("missing 'GGUF' magic");
  const uint32_t version = r.read<uint32_t>();
  if (version < 2 || version > 3) r.fail("unsupported version " + std::to_string(version));
  const uint64_t n_tensors = r.read<uint64_t>();
  const uint64_t n_kv = r.read<uint64_t>();
  // Each key takes at least 12 bytes and each tensor info at least 24.
  if (n_kv > r.left() / 12 || n_tensors > r.left() / 24) r.fail("key or tensor count larger than the file could hold");

  for (uint64_t i = 0; i < n_kv; ++i) {
    r.skip_string();
    uint32_t type = r.read<uint32_t>();
    if (type >= GGUF_TYPE_COUNT) r.fail("key " + std::to_string(i) + " has unknown type " + std::to_string(type));
    if (type == GGUF_TYPE_ARRAY) {
      const uint32_t elem = r.read<uint32_t>();
      if (elem >= GGUF_TYPE_COUNT || elem == GGUF_TYPE_ARRAY) r.fail("key " + std::to_string(i) + " is an array of unknown type " + std::to_string(elem));
      const uint64_t n = r.read<uint64_t>();
      if (elem == GGUF_TYPE_STRING) {
        if (n > r.left() / 8) r.fail("a string array longer than the file");
        for (uint64_t j = 0; j < n; ++j) r.skip_string();
      } else {
        if (n > r.left() / scalar_size(elem)) r.fail("an array longer than the file");
        r.skip(n * scalar_size(elem));
      }
    } else if (type == GGUF_TYPE_STRING) {
      r.skip_string();
    } else {
      r.skip(scalar_size(type));
    }
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    r.skip_string();
    const uint32_t n_dims = r.read<uint32_t>();
    if (n_dims < 1 || n_dims > GGML_MAX_DIMS) r.fail("tensor " + std::to_string(i) + " has " + std::to_string(n_dims) + " dimensions");
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const int64_t ne = r.read<int64_t>();
      if (ne < 0) r.fail("tensor " + std::to_string(i) + " has a negative dimension");
      if (__builtin_mul_overflow(elements, ne, &elements)) r.fail("tensor " + std::to_string(i) + " has more elements than int64 holds");
    }
    const uint32_t type = r.read<uint32_t>();
    if (type >= GGML_TYPE_COUNT) r.fail("tensor " + std::to_string(i) + " has unknown type " + std::to_string(type));
    r.read<uint64_t>();  // offset: ggml checks it against the data section
  }
}

}  // namespace mm
