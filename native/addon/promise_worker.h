// Runs a piece of native work on the libuv thread pool and settles a Promise with its result.
// Work never touches N-API; conversion to JS happens in `settle` on the JS thread.
//
// Teardown: when a worker thread is terminated (or the process exits) while work is in flight,
// Node waits for the work and then runs its completion with JS disabled, so every N-API call in
// it fails. The build defines NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (node-addon-api then drops
// errors it cannot throw instead of aborting), and OnWorkComplete below lets nothing escape into
// libuv: a completion that cannot reach JS is dropped, and the work's result is freed with it.
#pragma once
#include <functional>
#include <string>

#include <napi.h>

#include "js_errors.h"

namespace mm_addon {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Settle = std::function<Napi::Value(Napi::Env)>;

  // Queues the work and returns the promise.
  static Napi::Promise Run(Napi::Env env, Work work, Settle settle) {
    auto* w = new PromiseWorker(env, std::move(work), std::move(settle));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    try {
      Napi::AsyncWorker::OnWorkComplete(env, status);
    } catch (...) {
      // Only reachable while the environment is going away: nobody is left to settle for.
    }
  }

  void Execute() override {
    try {
      work_();
    } catch (...) {
      describe_current_exception(code_, message_);
      SetError(message_);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(settle_(env));
    } catch (...) {
      // settle failed (a conversion, or JS disabled at teardown): reject instead, if JS can run.
      try {
        try {
          throw;
        } catch (const Napi::Error& e) {
          deferred_.Reject(e.Value());
        } catch (...) {
          std::string code, message;
          describe_current_exception(code, message);
          deferred_.Reject(make_error(env, code, message).Value());
        }
      } catch (const Napi::Error&) {
      }
    }
  }

  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    try {
      deferred_.Reject(make_error(Env(), code_, message_).Value());
    } catch (const Napi::Error&) {
      // JS is disabled (teardown): the rejection cannot be delivered.
    }
  }

 private:
  PromiseWorker(Napi::Env env, Work work, Settle settle)
      : Napi::AsyncWorker(env, "minimonkey"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), settle_(std::move(settle)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Settle settle_;
  std::string code_ = "INTERNAL", message_;
};

}  // namespace mm_addon
