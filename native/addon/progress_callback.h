// Reports progress from a worker thread to an optional JS callback `(done, total) => void`
// through a thread-safe function. Calls are fire-and-forget (never block the worker), and
// throttled to whole-percent changes so a fast loop cannot flood the event loop.
#pragma once
#include <atomic>
#include <memory>

#include <napi.h>

namespace mm_addon {

class ProgressCallback {
 public:
  // The callback at info[index], or a silent reporter when that argument is undefined.
  static std::shared_ptr<ProgressCallback> From(const Napi::CallbackInfo& info, size_t index) {
    auto p = std::shared_ptr<ProgressCallback>(new ProgressCallback());
    if (info.Length() > index && info[index].IsFunction()) {
      p->tsfn_ = Napi::ThreadSafeFunction::New(info.Env(), info[index].As<Napi::Function>(), "minimonkey-progress", 0, 1);
      p->active_ = true;
    } else if (info.Length() > index && !info[index].IsUndefined() && !info[index].IsNull()) {
      throw Napi::TypeError::New(info.Env(), "progress callback must be a function");
    }
    return p;
  }

  ~ProgressCallback() {
    if (active_) tsfn_.Release();
  }

  void report(double done, double total) {
    if (!active_ || total <= 0) return;
    const int percent = static_cast<int>(100.0 * done / total);
    if (percent == last_percent_.exchange(percent) && done < total) return;
    auto* values = new std::pair<double, double>(done, total);
    const napi_status st = tsfn_.NonBlockingCall(values, [](Napi::Env env, Napi::Function fn, std::pair<double, double>* v) {
      const double d = v->first, t = v->second;
      delete v;
      if (env != nullptr && fn != nullptr) {
        // A throwing user callback (or JS disabled at teardown) must not take the process down.
        try {
          fn.Call({Napi::Number::New(env, d), Napi::Number::New(env, t)});
        } catch (...) {
        }
      }
    });
    if (st != napi_ok) delete values;
  }

 private:
  ProgressCallback() = default;
  Napi::ThreadSafeFunction tsfn_;
  bool active_ = false;
  std::atomic<int> last_percent_{-1};
};

}  // namespace mm_addon
