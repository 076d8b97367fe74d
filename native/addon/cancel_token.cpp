#include "cancel_token.h"

#include "exports.h"
#include "guard.h"

namespace mm_addon {

Napi::Function CancelToken::Define(Napi::Env env) {
  return DefineClass(env, "CancelToken", {Guarded<&CancelToken::Cancel>("cancel")});
}

CancelToken::CancelToken(const Napi::CallbackInfo& info) : GuardedWrap<CancelToken>(info) {}

Napi::Value CancelToken::Cancel(const Napi::CallbackInfo& info) {
  flag_->store(true);
  return info.Env().Undefined();
}

std::shared_ptr<std::atomic<bool>> CancelToken::From(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) {
    return std::make_shared<std::atomic<bool>>(false);
  }
  if (!info[index].IsObject() || !info[index].As<Napi::Object>().InstanceOf(addon_data(info.Env()).cancel_token.Value())) {
    throw Napi::TypeError::New(info.Env(), "expected a CancelToken");
  }
  return Napi::ObjectWrap<CancelToken>::Unwrap(info[index].As<Napi::Object>())->flag();
}

void RegisterCancelToken(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = CancelToken::Define(env);
  addon_data(env).cancel_token = Napi::Persistent(ctor);
  exports.Set("CancelToken", ctor);
}

}  // namespace mm_addon
