#include "exports.h"
#include "guard.h"

#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "promise_worker.h"
#include "resize_bicubic.h"

namespace mm_addon {

namespace {

constexpr const char* kSignature =
    "resizeRGB(data: Uint8Array, width: number, height: number, newWidth: number, newHeight: number)";

int size_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  if (!info[i].IsNumber()) {
    throw Napi::TypeError::New(env, std::string(kSignature) + ": " + name + " must be a number");
  }
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::floor(v) || v < 1 || v > INT_MAX) {
    throw Napi::RangeError::New(env, std::string("resizeRGB: ") + name + " must be an integer in [1, " +
                                         std::to_string(INT_MAX) + "], got " + info[i].ToString().Utf8Value());
  }
  return static_cast<int>(v);
}

// resizeRGB(...): Promise<Uint8Array>, new_w*new_h*3 bytes.
Napi::Value ResizeRGB(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) throw Napi::TypeError::New(env, std::string(kSignature) + ": expected 5 arguments");
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, std::string(kSignature) + ": data must be a Uint8Array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array && ta.TypedArrayType() != napi_uint8_clamped_array) {
    throw Napi::TypeError::New(env, std::string(kSignature) + ": data must be a Uint8Array");
  }
  const int w = size_arg(info, 1, "width");
  const int h = size_arg(info, 2, "height");
  const int nw = size_arg(info, 3, "newWidth");
  const int nh = size_arg(info, 4, "newHeight");
  try {
    mm::validate_resize_rgb(w, h, nw, nh);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  const size_t expected = static_cast<size_t>(w) * static_cast<size_t>(h) * 3;
  if (ta.ByteLength() != expected) {
    throw Napi::RangeError::New(env, "resizeRGB: data has " + std::to_string(ta.ByteLength()) + " bytes; " +
                                         std::to_string(w) + "x" + std::to_string(h) + " RGB needs " +
                                         std::to_string(expected));
  }
  // Copied: JS may mutate or detach its buffer while the worker runs.
  const uint8_t* bytes = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  auto input = std::make_shared<std::vector<uint8_t>>(bytes, bytes + expected);
  auto output = std::make_shared<std::vector<uint8_t>>();
  return PromiseWorker::Run(
      env, [input, output, w, h, nw, nh] { *output = mm::resize_bicubic_rgb(input->data(), w, h, nw, nh); },
      [output](Napi::Env env) -> Napi::Value {
        // A copy, not an external buffer: Electron's V8 sandbox rejects external ArrayBuffers.
        Napi::Uint8Array out = Napi::Uint8Array::New(env, output->size());
        if (!output->empty()) std::memcpy(out.Data(), output->data(), output->size());
        return out;
      });
}

}  // namespace

void RegisterImageOps(Napi::Env env, Napi::Object exports) {
  exports.Set("resizeRGB", guarded_function<ResizeRGB>(env, "resizeRGB"));
}

}  // namespace mm_addon
