// A walk over a GGUF header before ggml's own parser reads it. gguf_init_from_file is careful,
// but a few checks in it are themselves undefined behaviour on hostile values (found by UBSan and
// libFuzzer): the product of a tensor's dimensions overflows int64 inside the overflow check, and
// out-of-range key and tensor type codes are loaded into enums. This walk refuses those values, so
// ggml only ever parses headers whose counts, lengths, types and shapes are in range.
#pragma once
#include <cstdint>
#include <string>

namespace mm {

// Throws mm::Error(ModelLoad) naming `path` and what is wrong; reads only the header.
void prescan_gguf_header(const std::string& path, uint64_t file_size);

}  // namespace mm
