// A flag the JS side sets (from an AbortSignal) and native work polls.
#pragma once
#include <atomic>
#include <memory>

#include <napi.h>

#include "guard.h"
namespace mm_addon {

class CancelToken : public GuardedWrap<CancelToken> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CancelToken(const Napi::CallbackInfo& info);

  std::shared_ptr<std::atomic<bool>> flag() const { return flag_; }

  // The token passed at `info[index]`, or a fresh never-set one when that argument is undefined.
  static std::shared_ptr<std::atomic<bool>> From(const Napi::CallbackInfo& info, size_t index);

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace mm_addon
