// The one catch-all at the N-API boundary. Every JS-callable function and method of the addon is
// registered through `guard_fn` / `GuardedWrap::Guard`, so no C++ exception of any type (a libllama
// std::out_of_range, a bad_alloc, a ggml runtime_error) can reach node-addon-api's trampoline and
// std::terminate the host: each becomes a JS Error with our stable `code`. Napi::Errors (TypeErrors
// from argument checks, errors made by make_error) pass through unchanged.
#pragma once
#include <string>

#include <napi.h>

#include "js_errors.h"

namespace mm_addon {

// Call inside a catch block: rethrows the current exception as a Napi::Error with a code.
[[noreturn]] inline void rethrow_as_js(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    std::string code, message;
    describe_current_exception(code, message);
    throw make_error(env, code, message);
  }
}

using JsFunction = Napi::Value (*)(const Napi::CallbackInfo&);

template <JsFunction F>
Napi::Value guard_fn(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (...) {
    rethrow_as_js(info.Env());
  }
}

// Napi::Function::New(env, ...) of a free function, behind the guard.
template <JsFunction F>
Napi::Function guarded_function(Napi::Env env, const char* name) {
  return Napi::Function::New(env, guard_fn<F>, name);
}

// Base of every ObjectWrap in the addon: `Guard<&T::Method>` is the method behind the catch-all.
template <typename T>
class GuardedWrap : public Napi::ObjectWrap<T> {
 public:
  using Napi::ObjectWrap<T>::ObjectWrap;
  using Method = Napi::Value (T::*)(const Napi::CallbackInfo&);

  template <Method M>
  Napi::Value Guard(const Napi::CallbackInfo& info) {
    try {
      return (static_cast<T*>(this)->*M)(info);
    } catch (...) {
      rethrow_as_js(info.Env());
    }
  }

  template <Method M>
  static typename Napi::ObjectWrap<T>::PropertyDescriptor Guarded(const char* name) {
    return Napi::ObjectWrap<T>::InstanceMethod(name, static_cast<Method>(&GuardedWrap<T>::template Guard<M>));
  }
};

}  // namespace mm_addon
