// The JS handle class of a text model, shared with the context glue (which takes a model handle).
#pragma once
#include <memory>

#include <napi.h>

#include "guard.h"
#include "text_model.h"

namespace mm_addon {

class TextModelHandle : public GuardedWrap<TextModelHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TextModelHandle(const Napi::CallbackInfo& info);
  void Attach(std::shared_ptr<mm::TextModel> m) { model_ = std::move(m); }
  // The model behind a JS handle; throws a TypeError or DISPOSED error.
  static std::shared_ptr<mm::TextModel> FromValue(Napi::Env env, Napi::Value v);

 private:
  std::shared_ptr<mm::TextModel> live(Napi::Env env) const;
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Tokenize(const Napi::CallbackInfo& info);
  Napi::Value TokenizeAsync(const Napi::CallbackInfo& info);
  Napi::Value Piece(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<mm::TextModel> model_;
};

}  // namespace mm_addon
