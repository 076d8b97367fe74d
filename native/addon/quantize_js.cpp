#include <memory>
#include <vector>

#include <napi.h>

#include "exports.h"
#include "guard.h"
#include "promise_worker.h"
#include "quantize.h"

namespace mm_addon {

namespace {

// quantize(type: string, data: Float32Array, rowLength: number): Promise<Uint8Array>
Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "quantize(type: string, data: Float32Array, rowLength: number)");
  }
  const std::string type = info[0].As<Napi::String>().Utf8Value();
  Napi::Float32Array arr = info[1].As<Napi::Float32Array>();
  const int64_t row_len = info[2].As<Napi::Number>().Int64Value();
  auto input = std::make_shared<std::vector<float>>(arr.Data(), arr.Data() + arr.ElementLength());
  auto output = std::make_shared<std::vector<uint8_t>>();
  return PromiseWorker::Run(
      env, [type, input, output, row_len] { *output = mm::quantize_rows(type, input->data(), input->size(), row_len); },
      [output](Napi::Env env) -> Napi::Value {
        Napi::Uint8Array out = Napi::Uint8Array::New(env, output->size());
        std::copy(output->begin(), output->end(), out.Data());
        return out;
      });
}

}  // namespace

void RegisterQuantize(Napi::Env env, Napi::Object exports) {
  exports.Set("quantize", guarded_function<Quantize>(env, "quantize"));
}

}  // namespace mm_addon
