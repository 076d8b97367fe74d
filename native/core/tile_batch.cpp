#include "tile_batch.h"

#include <map>
#include <string>
#include <utility>

#include "errors.h"
#include "resize_bicubic.h"

namespace mm {

std::vector<float> assemble_tiles(const uint8_t* rgb, int w, int h, const std::vector<TileSource>& tiles, int S,
                                  const std::array<float, 3>& mean, const std::array<float, 3>& std) {
  if (w < 1 || h < 1) throw Error(ErrorCode::InvalidArgument, "image size must be positive");
  if (S < 1 || S > 4096) throw Error(ErrorCode::InvalidArgument, "tile size out of range");
  if (tiles.empty()) throw Error(ErrorCode::InvalidArgument, "no tiles requested");
  for (const TileSource& t : tiles) {
    if (t.resize_w < S || t.resize_h < S || t.resize_w > 64 * S || t.resize_h > 64 * S || t.x < 0 || t.y < 0 ||
        t.x > t.resize_w - S || t.y > t.resize_h - S) {
      throw Error(ErrorCode::InvalidArgument, "tile crop (" + std::to_string(t.x) + "," + std::to_string(t.y) +
                                                  ") does not fit the resized layer " + std::to_string(t.resize_w) + "x" +
                                                  std::to_string(t.resize_h));
    }
  }
  for (int c = 0; c < 3; ++c) {
    if (!(std[c] > 0)) throw Error(ErrorCode::InvalidArgument, "std must be positive");
  }

  // Per-channel lookup: 256 possible inputs, computed once with the reference's f32 arithmetic.
  std::array<std::array<float, 256>, 3> lut{};
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) lut[c][v] = (static_cast<float>(v) / 255.0f - mean[c]) / std[c];
  }

  const size_t plane = size_t(S) * S;
  std::vector<float> out(tiles.size() * 3 * plane);
  std::map<std::pair<int, int>, std::vector<uint8_t>> layers;  // one resize per layer size
  for (size_t i = 0; i < tiles.size(); ++i) {
    const TileSource& t = tiles[i];
    auto key = std::make_pair(t.resize_w, t.resize_h);
    auto it = layers.find(key);
    if (it == layers.end()) it = layers.emplace(key, resize_bicubic_rgb(rgb, w, h, t.resize_w, t.resize_h)).first;
    const uint8_t* img = it->second.data();
    float* dst = out.data() + i * 3 * plane;
    for (int y = 0; y < S; ++y) {
      const uint8_t* row = img + (size_t(t.y + y) * t.resize_w + t.x) * 3;
      for (int x = 0; x < S; ++x) {
        for (int c = 0; c < 3; ++c) dst[c * plane + size_t(y) * S + x] = lut[c][row[x * 3 + c]];
      }
    }
  }
  return out;
}

}  // namespace mm
