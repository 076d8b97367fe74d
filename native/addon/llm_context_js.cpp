// JS handle of a mm::LlmContext: one conversation's KV cache. Prefill and each generation step
// run on the libuv pool; the JS side drives generation one token per step (natural backpressure,
// and cancellation between any two tokens).
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
#include "llm_context.h"
#include "progress_callback.h"
#include "promise_worker.h"
#include "prompt_parts_js.h"
#include "sampling_js.h"
#include "sequence_state.h"
#include "sequence_state_js.h"
#include "text_model_js.h"

namespace mm_addon {

namespace {

class LlmContextHandle : public GuardedWrap<LlmContextHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LlmContextHandle",
                       {Guarded<&LlmContextHandle::Prefill>("prefill"),
                        Guarded<&LlmContextHandle::Step>("step"),
                        Guarded<&LlmContextHandle::SetSampling>("setSampling"),
                        Guarded<&LlmContextHandle::CheckGrammar>("checkGrammar"),
                        Guarded<&LlmContextHandle::GrammarPasses>("grammarPasses"),
                        Guarded<&LlmContextHandle::Truncate>("truncate"),
                        Guarded<&LlmContextHandle::Position>("position"),
                        Guarded<&LlmContextHandle::Size>("size"),
                        Guarded<&LlmContextHandle::Logits>("logits"),
                        Guarded<&LlmContextHandle::SaveState>("saveState"),
                        Guarded<&LlmContextHandle::LoadState>("loadState"),
                        Guarded<&LlmContextHandle::Dispose>("dispose")});
  }

  explicit LlmContextHandle(const Napi::CallbackInfo& info) : GuardedWrap<LlmContextHandle>(info) {}
  void Attach(std::shared_ptr<mm::LlmContext> c) { ctx_ = std::move(c); }

 private:
  std::shared_ptr<mm::LlmContext> live(Napi::Env env) const {
    if (!ctx_) throw make_error(env, "DISPOSED", "the chat context has been disposed");
    return ctx_;
  }

  // prefill(parts: (Int32Array | Float32Array)[], token?, onProgress?): Promise<number> (position after)
  Napi::Value Prefill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    auto parts = ReadPromptParts(env, info.Length() > 0 ? info[0] : env.Undefined(), "prefill(parts: Array<Int32Array | Float32Array>)");
    auto cancel = CancelToken::From(info, 1);
    auto progress = ProgressCallback::From(info, 2);
    return PromiseWorker::Run(
        env,
        [ctx, parts, cancel, progress] {
          ctx->prefill(*parts, cancel.get(), [progress](size_t d, size_t t) { progress->report(double(d), double(t)); });
        },
        [ctx, progress](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, ctx->n_past()); });
  }

  // step(token?): Promise<{token, eog, bytes}> — samples the next token; unless it ends the
  // reply, also appends it to the context so the following step can sample after it.
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    auto cancel = CancelToken::From(info, 0);
    struct Out {
      int32_t token = -1;
      bool eog = false;
      std::string bytes;
    };
    auto out = std::make_shared<Out>();
    return PromiseWorker::Run(
        env,
        [ctx, cancel, out] {
          out->token = ctx->sample();
          out->eog = ctx->model().is_end_of_generation(out->token);
          out->bytes = ctx->model().piece(out->token, false);
          if (!out->eog) ctx->decode(out->token, cancel.get());
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("token", out->token);
          o.Set("eog", out->eog);
          o.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(out->bytes.data()), out->bytes.size()));
          return o;
        });
  }

  // setSampling({temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed, grammar})
  Napi::Value SetSampling(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const mm::SamplingOptions s = ReadSamplingOptions(env, info.Length() > 0 ? info[0] : env.Undefined(), "setSampling(options: object)");
    try {
      ctx->set_sampling(s);
    } catch (const mm::Error& e) {
      throw make_error(env, mm::error_code_name(e.code()), e.what());
    }
    return env.Undefined();
  }

  // checkGrammar(gbnf: string): throws INVALID_ARGUMENT unless libllama's parser takes it.
  Napi::Value CheckGrammar(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "checkGrammar(grammar: string)");
    try {
      ctx->check_grammar(info[0].As<Napi::String>().Utf8Value());
    } catch (const mm::Error& e) {
      throw make_error(env, mm::error_code_name(e.code()), e.what());
    }
    return env.Undefined();
  }

  Napi::Value GrammarPasses(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->grammar_passes()); }

  Napi::Value Truncate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "truncate(position: number)");
    try {
      ctx->truncate(int_in_range(env, info[0], "position", 0, ctx->n_ctx()));
    } catch (const mm::Error& e) {
      throw make_error(env, mm::error_code_name(e.code()), e.what());
    }
    return env.Undefined();
  }

  Napi::Value Position(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->n_past()); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->n_ctx()); }

  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      const std::vector<float> l = live(env)->logits();
      Napi::Float32Array out = Napi::Float32Array::New(env, l.size());
      std::copy(l.begin(), l.end(), out.Data());
      return out;
    } catch (const mm::Error& e) {
      throw make_error(env, mm::error_code_name(e.code()), e.what());
    }
  }

  // saveState(): Promise<Buffer> — the KV cells of positions [0, position()) (sequence_state.h).
  Napi::Value SaveState(const Napi::CallbackInfo& info) {
    auto ctx = live(info.Env());
    auto out = std::make_shared<std::vector<uint8_t>>();
    return PromiseWorker::Run(
        info.Env(), [ctx, out] { ctx->with_cells([&](llama_context* c, int n) { *out = mm::save_sequence_state(c, 0, n); return n; }); },
        [out](Napi::Env env) { return state_buffer(env, out); });
  }

  // loadState(state: Uint8Array, positions: number): Promise<number> — a saveState() into this
  // empty context; resolves to the position after.
  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    StateArg state = state_arg(env, info.Length() > 0 ? info[0] : env.Undefined(), "loadState(state: Uint8Array, positions: number)");
    const int positions = int_in_range(env, info.Length() > 1 ? info[1] : env.Undefined(), "positions", 1, ctx->n_ctx());
    const uint8_t* data = state.data;
    const size_t size = state.size;
    return PromiseWorker::Run(
        env,
        [ctx, data, size, positions] {
          ctx->with_cells([&](llama_context* c, int n) {
            if (n != 0) throw mm::Error(mm::ErrorCode::InvalidArgument, "a state is restored into an empty context only");
            mm::load_sequence_state(c, 0, data, size, positions, ctx->n_ctx());
            return positions;
          });
        },
        [ctx, keep = state.keep](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, ctx->n_past()); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    ctx_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<mm::LlmContext> ctx_;
};

// createContext(model: TextModelHandle, contextSize: number, batchSize: number, threads: number): Promise<LlmContextHandle>
Napi::Value CreateContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    throw Napi::TypeError::New(env, "createContext(model, contextSize: number, batchSize: number, threads: number)");
  }
  auto model = TextModelHandle::FromValue(env, info[0]);
  mm::ContextOptions opts;
  opts.n_ctx = int_in_range(env, info[1], "contextSize", mm::limits::kMinContext, mm::limits::kMaxContext);
  opts.n_batch = int_in_range(env, info[2], "batchSize", 1, mm::limits::kMaxBatch);
  opts.threads = int_in_range(env, info[3], "threads", 1, mm::limits::kMaxThreads);
  auto holder = std::make_shared<std::shared_ptr<mm::LlmContext>>();
  return PromiseWorker::Run(
      env, [model, opts, holder] { *holder = mm::LlmContext::create(model, opts); },
      [holder](Napi::Env env) -> Napi::Value {
        Napi::Object obj = addon_data(env).llm_context.New({});
        LlmContextHandle::Unwrap(obj)->Attach(std::move(*holder));
        return obj;
      });
}

}  // namespace

void RegisterLlmContext(Napi::Env env, Napi::Object exports) {
  addon_data(env).llm_context = Napi::Persistent(LlmContextHandle::Define(env));
  exports.Set("createContext", guarded_function<CreateContext>(env, "createContext"));
}

}  // namespace mm_addon
