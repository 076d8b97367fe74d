// The JS side of sequence_state.h (llm_sequences_js.cpp's saveState/loadState): a saved state handed to JS without a second copy, and a state from JS
// read in place. A page's state is hundreds of MB, so neither side copies it.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include <napi.h>

#include "js_args.h"
#include "js_errors.h"

namespace mm_addon {

// The bytes as a Buffer that owns them (copied only where the runtime forbids external buffers).
inline Napi::Value state_buffer(Napi::Env env, std::shared_ptr<std::vector<uint8_t>> bytes) {
  auto* owned = new std::vector<uint8_t>(std::move(*bytes));
  return Napi::Buffer<uint8_t>::NewOrCopy(env, owned->data(), owned->size(), [owned](Napi::Env, uint8_t*) { delete owned; });
}

// A state argument read in place: `keep` holds the JS array alive until the job's promise settles
// (the settle step owns it, so it is released on the JS thread); the job reads data/size only.
struct StateArg {
  std::shared_ptr<Napi::Reference<Napi::Uint8Array>> keep;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

inline StateArg state_arg(Napi::Env env, Napi::Value v, const char* usage) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) throw Napi::TypeError::New(env, usage);
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  if (a.ByteLength() == 0) throw make_error(env, "INVALID_ARGUMENT", "the state is empty");
  StateArg s;
  s.keep = std::make_shared<Napi::Reference<Napi::Uint8Array>>(Napi::Persistent(a));
  s.data = a.Data();
  s.size = a.ByteLength();
  return s;
}

}  // namespace mm_addon
