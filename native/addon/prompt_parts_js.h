// Reads a JS prompt — an array of Int32Array (token ids) and Float32Array (embedding rows) — into
// native prompt parts, copying the data (the JS arrays may change once the call returns).
#pragma once
#include <memory>
#include <vector>

#include <napi.h>

#include "prompt_part.h"

namespace mm_addon {

inline std::shared_ptr<std::vector<mm::PromptPart>> ReadPromptParts(Napi::Env env, Napi::Value value, const char* usage) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, usage);
  Napi::Array arr = value.As<Napi::Array>();
  auto parts = std::make_shared<std::vector<mm::PromptPart>>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    const bool typed = v.IsTypedArray();
    const napi_typedarray_type type = typed ? v.As<Napi::TypedArray>().TypedArrayType() : napi_int8_array;
    mm::PromptPart part;
    if (typed && type == napi_int32_array) {
      auto a = v.As<Napi::Int32Array>();
      part.tokens.assign(a.Data(), a.Data() + a.ElementLength());
    } else if (typed && type == napi_float32_array) {
      auto a = v.As<Napi::Float32Array>();
      part.embeddings = std::make_shared<const std::vector<float>>(a.Data(), a.Data() + a.ElementLength());
    } else {
      throw Napi::TypeError::New(env, "each prompt part must be an Int32Array (tokens) or Float32Array (embeddings)");
    }
    parts->push_back(std::move(part));
  }
  return parts;
}

}  // namespace mm_addon
