// JS handle of a mm::VisionEncoder: load, encode and dispose, all heavy work off the JS thread.
// The encoder is shared with in-flight workers, so dispose() during an encode is safe: the
// memory is freed when the last worker finishes.
#include <memory>
#include <string>
#include <vector>

#include <napi.h>

#include "cancel_token.h"
#include "errors.h"
#include "exports.h"
#include "guard.h"
#include "js_args.h"
#include "js_errors.h"
#include "mm_limits.h"
#include "promise_worker.h"
#include "vision_encoder.h"
#include "devices.h"

namespace mm_addon {

namespace {

class VisionEncoderHandle : public GuardedWrap<VisionEncoderHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VisionEncoderHandle",
                       {Guarded<&VisionEncoderHandle::Encode>("encode"),
                        Guarded<&VisionEncoderHandle::Info>("info"),
                        Guarded<&VisionEncoderHandle::ComputeBytes>("computeBytes"),
                        Guarded<&VisionEncoderHandle::Dispose>("dispose")});
  }

  explicit VisionEncoderHandle(const Napi::CallbackInfo& info) : GuardedWrap<VisionEncoderHandle>(info) {}

  void Attach(std::shared_ptr<mm::VisionEncoder> enc) { enc_ = std::move(enc); }

 private:
  std::shared_ptr<mm::VisionEncoder> live(Napi::Env env) {
    if (!enc_) throw make_error(env, "DISPOSED", "the vision encoder has been disposed");
    return enc_;
  }

  // encode(tiles: Float32Array, count: number, token?: CancelToken): Promise<Float32Array>
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto enc = live(env);
    if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(env, "encode(tiles, count): tiles must be a Float32Array");
    }
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "encode(tiles, count): count must be a number");
    const double count_d = info[1].As<Napi::Number>().DoubleValue();
    if (!(count_d >= 1 && count_d <= 1e6) || count_d != static_cast<int>(count_d)) {
      throw make_error(env, "INVALID_ARGUMENT", "count must be a positive integer");
    }
    const int count = static_cast<int>(count_d);
    auto cancel = CancelToken::From(info, 2);
    Napi::Float32Array arr = info[0].As<Napi::Float32Array>();
    // Copied so the caller may reuse its buffer while we work.
    auto input = std::make_shared<std::vector<float>>(arr.Data(), arr.Data() + arr.ElementLength());
    auto output = std::make_shared<std::vector<float>>();
    return PromiseWorker::Run(
        env, [enc, input, output, count, cancel] { enc->encode(input->data(), input->size(), count, *output, cancel.get()); },
        [output](Napi::Env env) -> Napi::Value {
          Napi::Float32Array out = Napi::Float32Array::New(env, output->size());
          std::copy(output->begin(), output->end(), out.Data());
          return out;
        });
  }

  Napi::Value ComputeBytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto enc = live(env);
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "computeBytes(count): count must be a number");
    const int count = int_in_range(env, info[0], "count", 1, 1 << 16);
    auto bytes = std::make_shared<size_t>(0);
    return PromiseWorker::Run(
        env, [enc, count, bytes] { *bytes = enc->compute_bytes(count); },
        [bytes](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*bytes)); });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const mm::VisionEncoderInfo vi = live(env)->info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("imageSize", vi.image_size);
    o.Set("patchSize", vi.patch_size);
    o.Set("tokensPerTile", vi.tokens_per_tile);
    o.Set("embeddingWidth", vi.embedding_width);
    o.Set("visionWidth", vi.vision_width);
    o.Set("layers", vi.layers);
    o.Set("weightType", vi.weight_type);
    o.Set("weightBuffer", vi.weight_buffer);
    o.Set("device", vi.device);
    o.Set("deviceNote", vi.device_note);
    Napi::Array mean = Napi::Array::New(env, 3), stdv = Napi::Array::New(env, 3);
    for (uint32_t c = 0; c < 3; ++c) {
      mean.Set(c, Napi::Number::New(env, vi.image_mean[c]));
      stdv.Set(c, Napi::Number::New(env, vi.image_std[c]));
    }
    o.Set("imageMean", mean);
    o.Set("imageStd", stdv);
    return o;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    enc_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<mm::VisionEncoder> enc_;
};

// loadVisionEncoder(path: string, threads: number, device?: string): Promise<VisionEncoderHandle>
Napi::Value LoadVisionEncoder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber() ||
      (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsString())) {
    throw Napi::TypeError::New(env, "loadVisionEncoder(path: string, threads: number, device?: string)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  mm::VisionEncoderOptions opts;
  opts.threads = int_in_range(env, info[1], "threads", 1, mm::limits::kMaxThreads);
  if (info.Length() > 2 && info[2].IsString()) opts.device = info[2].As<Napi::String>().Utf8Value();
  mm::check_device_spec(opts.device);
  auto holder = std::make_shared<std::shared_ptr<mm::VisionEncoder>>();
  return PromiseWorker::Run(
      env, [path, opts, holder] { *holder = mm::VisionEncoder::load(path, opts); },
      [holder](Napi::Env env) -> Napi::Value {
        Napi::Object obj = addon_data(env).vision_encoder.New({});
        VisionEncoderHandle::Unwrap(obj)->Attach(std::move(*holder));
        return obj;
      });
}

}  // namespace

void RegisterVisionEncoder(Napi::Env env, Napi::Object exports) {
  addon_data(env).vision_encoder = Napi::Persistent(VisionEncoderHandle::Define(env));
  exports.Set("loadVisionEncoder", guarded_function<LoadVisionEncoder>(env, "loadVisionEncoder"));
}

}  // namespace mm_addon
