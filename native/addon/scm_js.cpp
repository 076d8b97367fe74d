// JS handle of a mm::ScmPrepass: SCM's scoring pass on the libuv pool, with progress and
// cancellation. Made from a loaded text model (it reads layers 0-1 of the same file).
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
#include "progress_callback.h"
#include "promise_worker.h"
#include "prompt_parts_js.h"
#include "scm_prepass.h"
#include "text_model_js.h"

namespace mm_addon {

namespace {

class ScmHandle : public GuardedWrap<ScmHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ScmHandle", {Guarded<&ScmHandle::Run>("run"), Guarded<&ScmHandle::Dispose>("dispose")});
  }

  explicit ScmHandle(const Napi::CallbackInfo& info) : GuardedWrap<ScmHandle>(info) {}
  void Attach(std::shared_ptr<mm::ScmPrepass> p) { scm_ = std::move(p); }

 private:
  // run(parts, blocks: Int32Array [start, length, ...], keep, chunk, wantLayer0, token?, onProgress?)
  //   → Promise<{tokens, kept: Int32Array[], scores: Float32Array[], layer0?: Float32Array, peakBytes}>
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!scm_) throw make_error(env, "DISPOSED", "the SCM pre-pass has been disposed");
    const char* usage = "run(parts, blocks: Int32Array, keep: number, chunk: number, wantLayer0: boolean, token?, onProgress?)";
    if (info.Length() < 5 || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsBoolean()) {
      throw Napi::TypeError::New(env, usage);
    }
    auto req = std::make_shared<mm::ScmRequest>();
    req->parts = std::move(*ReadPromptParts(env, info[0], usage));
    if (info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) throw Napi::TypeError::New(env, usage);
    auto blocks = info[1].As<Napi::Int32Array>();
    if (blocks.ElementLength() % 2 != 0) throw make_error(env, "INVALID_ARGUMENT", "blocks must be (start, length) pairs");
    for (size_t i = 0; i + 1 < blocks.ElementLength(); i += 2) req->blocks.push_back({blocks[i], blocks[i + 1]});
    req->keep = info[2].As<Napi::Number>().DoubleValue();
    const double chunk = info[3].As<Napi::Number>().DoubleValue();
    req->chunk = chunk >= 1 && chunk <= 8192 ? static_cast<int>(chunk) : 0;  // 0: rejected by run()
    req->want_layer0 = info[4].As<Napi::Boolean>();
    auto cancel = CancelToken::From(info, 5);
    auto progress = ProgressCallback::From(info, 6);
    auto scm = scm_;
    auto out = std::make_shared<mm::ScmResult>();
    return PromiseWorker::Run(
        env,
        [scm, req, cancel, progress, out] {
          *out = scm->run(*req, cancel.get(), [progress](size_t d, size_t t) { progress->report(double(d), double(t)); });
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("tokens", out->n_tokens);
          Napi::Array kept = Napi::Array::New(env, out->kept.size());
          Napi::Array scores = Napi::Array::New(env, out->scores.size());
          for (size_t i = 0; i < out->kept.size(); ++i) {
            Napi::Int32Array k = Napi::Int32Array::New(env, out->kept[i].size());
            std::copy(out->kept[i].begin(), out->kept[i].end(), k.Data());
            kept.Set(static_cast<uint32_t>(i), k);
            Napi::Float32Array s = Napi::Float32Array::New(env, out->scores[i].size());
            std::copy(out->scores[i].begin(), out->scores[i].end(), s.Data());
            scores.Set(static_cast<uint32_t>(i), s);
          }
          o.Set("kept", kept);
          o.Set("scores", scores);
          if (!out->layer0.empty()) {
            Napi::Float32Array l0 = Napi::Float32Array::New(env, out->layer0.size());
            std::copy(out->layer0.begin(), out->layer0.end(), l0.Data());
            o.Set("layer0", l0);
          }
          o.Set("peakBytes", static_cast<double>(out->peak_bytes));
          return o;
        });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    scm_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<mm::ScmPrepass> scm_;
};

// createScm(model: TextModelHandle, threads: number): Promise<ScmHandle>
Napi::Value CreateScm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "createScm(model, threads: number)");
  auto model = TextModelHandle::FromValue(env, info[0]);
  const int threads = int_in_range(env, info[1], "threads", 1, mm::limits::kMaxThreads);
  auto holder = std::make_shared<std::shared_ptr<mm::ScmPrepass>>();
  return PromiseWorker::Run(
      // On the text model's device (its resolved name: the same GPU, or the CPU with the same reason).
      env, [model, threads, holder] { *holder = mm::ScmPrepass::create(model->path(), threads, model->info().device); },
      [holder](Napi::Env env) -> Napi::Value {
        Napi::Object obj = addon_data(env).scm.New({});
        ScmHandle::Unwrap(obj)->Attach(std::move(*holder));
        return obj;
      });
}

}  // namespace

void RegisterScm(Napi::Env env, Napi::Object exports) {
  addon_data(env).scm = Napi::Persistent(ScmHandle::Define(env));
  exports.Set("createScm", guarded_function<CreateScm>(env, "createScm"));
}

}  // namespace mm_addon
