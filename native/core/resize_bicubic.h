// Pillow-exact bicubic resize of interleaved RGB8 images: the same bytes as PIL's
// `img.resize((new_w, new_h))` (default BICUBIC filter, no box, no reducing_gap), which is the
// reference's only resampling step (facts §2.6).
#pragma once
#include <cstdint>
#include <vector>

namespace mm {

// Throws std::invalid_argument unless every size is positive and the source, output and
// coefficient tables fit in memory arithmetic (Pillow's own limit on the tables included).
void validate_resize_rgb(int w, int h, int new_w, int new_h);

// src holds w*h*3 bytes, row-major RGB. Returns new_w*new_h*3 bytes. Validates first (throws
// std::invalid_argument, also for a null src); never aborts.
std::vector<uint8_t> resize_bicubic_rgb(const uint8_t* src, int w, int h, int new_w, int new_h);

}  // namespace mm
