// assembleTiles: MSAC batch assembly (resize per layer, crop, normalize) off the JS thread.
#include <array>
#include <memory>
#include <vector>

#include <napi.h>

#include "exports.h"
#include "guard.h"
#include "promise_worker.h"
#include "tile_batch.h"

namespace mm_addon {

namespace {

std::array<float, 3> three_floats(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) throw Napi::TypeError::New(env, std::string(what) + " must be an array of 3 numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::array<float, 3> out{};
  for (uint32_t i = 0; i < 3; ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be an array of 3 numbers");
    out[i] = e.As<Napi::Number>().FloatValue();
  }
  return out;
}

// assembleTiles(rgb: Uint8Array, width, height, tiles: Int32Array [resizeW, resizeH, x, y]*,
//               tileSize, mean: number[3], std: number[3]): Promise<Float32Array>
Napi::Value AssembleTiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[4].IsNumber()) {
    throw Napi::TypeError::New(env, "assembleTiles(rgb: Uint8Array, width, height, tiles: Int32Array, tileSize, mean, std)");
  }
  Napi::Uint8Array rgb = info[0].As<Napi::Uint8Array>();
  const int64_t w = info[1].As<Napi::Number>().Int64Value(), h = info[2].As<Napi::Number>().Int64Value();
  if (w < 1 || h < 1 || w > (1 << 24) || h > (1 << 24) || static_cast<uint64_t>(w) * h * 3 != rgb.ElementLength()) {
    throw Napi::RangeError::New(env, "rgb must hold width*height*3 bytes");
  }
  Napi::Int32Array specs = info[3].As<Napi::Int32Array>();
  if (specs.ElementLength() == 0 || specs.ElementLength() % 4 != 0) throw Napi::RangeError::New(env, "tiles must hold 4 integers per tile");
  std::vector<mm::TileSource> tiles(specs.ElementLength() / 4);
  for (size_t i = 0; i < tiles.size(); ++i) {
    tiles[i] = {specs[i * 4], specs[i * 4 + 1], specs[i * 4 + 2], specs[i * 4 + 3]};
  }
  const int S = info[4].As<Napi::Number>().Int32Value();
  const auto mean = three_floats(env, info[5], "mean");
  const auto stdv = three_floats(env, info[6], "std");
  auto pixels = std::make_shared<std::vector<uint8_t>>(rgb.Data(), rgb.Data() + rgb.ElementLength());
  auto out = std::make_shared<std::vector<float>>();
  return PromiseWorker::Run(
      env,
      [pixels, w, h, tiles, S, mean, stdv, out] {
        *out = mm::assemble_tiles(pixels->data(), static_cast<int>(w), static_cast<int>(h), tiles, S, mean, stdv);
      },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Float32Array arr = Napi::Float32Array::New(env, out->size());
        std::copy(out->begin(), out->end(), arr.Data());
        return arr;
      });
}

}  // namespace

void RegisterTiles(Napi::Env env, Napi::Object exports) {
  exports.Set("assembleTiles", guarded_function<AssembleTiles>(env, "assembleTiles"));
}

}  // namespace mm_addon
