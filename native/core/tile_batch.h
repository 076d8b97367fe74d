// MSAC batch assembly: from one RGB8 image to the normalized planar f32 tile batch the vision
// tower takes. Each layer's resize (Pillow-exact bicubic) is done once and its tiles are cut
// from it (facts §2.4: resize, then crop exact S×S boxes).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace mm {

struct TileSource {
  int resize_w, resize_h;  // size the whole image is resized to for this tile's layer
  int x, y;                // top-left of the S×S crop in that resized image
};

// rgb: interleaved RGB8 [h, w, 3]. out: [tiles.size(), 3, S, S], (u8/255 − mean)/std in f32,
// the arithmetic torchvision's ToTensor + Normalize do. Throws mm::Error(InvalidArgument) on
// sizes that do not fit.
std::vector<float> assemble_tiles(const uint8_t* rgb, int w, int h, const std::vector<TileSource>& tiles, int S,
                                  const std::array<float, 3>& mean, const std::array<float, 3>& std);

}  // namespace mm
