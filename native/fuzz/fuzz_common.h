// Shared by the libFuzzer harnesses: the input as a file our loaders can open, the one rule for
// which exceptions are fine, and a mutator that spends most mutations on a GGUF's header.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

#include "errors.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace mm_fuzz {

// One memfd per process, rewritten for every input and opened by path (/proc/self/fd/N), the
// way the loaders open a user's file: no disk traffic, nothing left behind.
inline const std::string& input_path(const uint8_t* data, size_t size) {
  static int fd = -1;
  static std::string path;
  if (fd < 0) {
    fd = memfd_create("minimonkey-fuzz.gguf", 0);
    if (fd < 0) { perror("memfd_create"); abort(); }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  if (ftruncate(fd, 0) != 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) { perror("ftruncate"); abort(); }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) { perror("pwrite"); abort(); }
    done += static_cast<size_t>(n);
  }
  return path;
}

// A finding: the harness aborts so that libFuzzer saves the input as crash-<sha1>.
[[noreturn]] inline void finding(const char* what) {
  fprintf(stderr, "\n==minimonkey-fuzz== FINDING: %s\n", what);
  abort();
}

// Runs `body`; an mm::Error (a typed MiniMonkeyError in JS) and bad_alloc (OUT_OF_MEMORY) are the
// expected ways to reject a file. Any other exception would reach JS as INTERNAL, a bug: a finding
// unless MINIMONKEY_FUZZ_ALLOW_INTERNAL=1. Aborts (GGML_ASSERT), ASan and UBSan reports, hangs
// and huge allocations are caught by libFuzzer itself.
template <typename F>
void expect_typed_errors(F&& body) {
  try {
    body();
  } catch (const mm::Error&) {
  } catch (const std::bad_alloc&) {
  } catch (const std::exception& e) {
    if (getenv("MINIMONKEY_FUZZ_ALLOW_INTERNAL")) return;
    std::string msg = std::string("untyped exception (would be INTERNAL): ") + e.what();
    finding(msg.c_str());
  } catch (...) {
    finding("non-std exception");
  }
}

// Length of a GGUF's header (magic .. tensor infos), from a lenient walk; 0 if it does not parse.
inline size_t gguf_header_length(const uint8_t* d, size_t n) {
  size_t p = 0;
  auto take = [&](size_t k) -> bool { if (k > n - p) return false; p += k; return true; };
  auto u32 = [&](uint32_t& v) { if (!take(4)) return false; memcpy(&v, d + p - 4, 4); return true; };
  auto u64 = [&](uint64_t& v) { if (!take(8)) return false; memcpy(&v, d + p - 8, 8); return true; };
  auto str = [&]() { uint64_t len; return u64(len) && len <= n && take(static_cast<size_t>(len)); };
  static const size_t kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};  // by gguf_type
  std::function<bool(uint32_t)> value = [&](uint32_t t) -> bool {
    if (t == 8) return str();
    if (t == 9) {
      uint32_t et; uint64_t count;
      if (!u32(et) || !u64(count) || et > 12 || et == 9 || count > n) return false;
      if (et == 8) { for (uint64_t i = 0; i < count; ++i) if (!str()) return false; return true; }
      return count <= (n - p) / kSize[et] && take(static_cast<size_t>(count) * kSize[et]);
    }
    return t <= 12 && take(kSize[t]);
  };
  uint32_t magic, version; uint64_t n_tensors, n_kv;
  if (!u32(magic) || !u32(version) || !u64(n_tensors) || !u64(n_kv)) return 0;
  if (n_kv > n || n_tensors > n) return 0;
  for (uint64_t i = 0; i < n_kv; ++i) {
    uint32_t t;
    if (!str() || !u32(t) || !value(t)) return 0;
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    uint32_t dims, type; uint64_t ne, off;
    if (!str() || !u32(dims) || dims > 8) return 0;
    for (uint32_t k = 0; k < dims; ++k) if (!u64(ne)) return 0;
    if (!u32(type) || !u64(off)) return 0;
  }
  return p;
}

// Most of a tiny model's bytes are weights, which no loader looks at: 7 mutations in 8 go to the
// header (keys, types, shapes, offsets) and the weights ride along unchanged; the 8th mutates the
// whole file (size, truncation, data).
inline size_t mutate_header_first(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  const size_t header = gguf_header_length(data, size);
  if (header == 0 || header >= size || seed % 8 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const size_t tail = size - header;
  if (max_size <= tail) return LLVMFuzzerMutate(data, size, max_size);
  std::string rest(reinterpret_cast<const char*>(data + header), tail);
  const size_t new_header = LLVMFuzzerMutate(data, header, max_size - tail);
  memcpy(data + new_header, rest.data(), tail);
  return new_header + tail;
}

}  // namespace mm_fuzz
