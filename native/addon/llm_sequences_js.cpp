// JS handle of a mm::SequenceContext, the one conversation context: one libllama context of one
// sequence (a lone chat) or several (`parallel`). Each call that decodes is one job on the libuv
// pool (a prefill of one sequence, whole or a chunk of it, or one step of several);
// lib/llm/sequence-batcher.ts queues them so that one runs at a time. A sequence with a job queued
// is busy: the calls that touch its state refuse (BUSY) rather than wait on anything.
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
#include "llm_sequences.h"
#include "mm_limits.h"
#include "progress_callback.h"
#include "promise_worker.h"
#include "prompt_parts_js.h"
#include "sampling_js.h"
#include "sequence_state.h"
#include "sequence_state_js.h"
#include "text_model_js.h"

namespace mm_addon {

namespace {

// The flag of a CancelToken value, or a never-set one for undefined.
std::shared_ptr<std::atomic<bool>> cancel_flag(Napi::Env env, Napi::Value v) {
  // One flag for every job without a token: never set, so sharing it is safe (and costs no allocation per token).
  static const auto never = std::make_shared<std::atomic<bool>>(false);
  if (v.IsUndefined() || v.IsNull()) return never;
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addon_data(env).cancel_token.Value())) {
    throw Napi::TypeError::New(env, "expected a CancelToken");
  }
  return Napi::ObjectWrap<CancelToken>::Unwrap(v.As<Napi::Object>())->flag();
}

// Clears the busy marks of a job's sequences however the job (or its queueing) ends.
struct Unclaim {
  mm::SequenceContext& ctx;
  const std::vector<int>& seqs;
  ~Unclaim() {
    for (int s : seqs) ctx.unclaim(s);
  }
};

class SequenceContextHandle : public GuardedWrap<SequenceContextHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SequenceContextHandle",
                       {Guarded<&SequenceContextHandle::Prefill>("prefill"),
                        Guarded<&SequenceContextHandle::Step>("step"),
                        Guarded<&SequenceContextHandle::SetSampling>("setSampling"),
                        Guarded<&SequenceContextHandle::CheckGrammar>("checkGrammar"),
                        Guarded<&SequenceContextHandle::GrammarPasses>("grammarPasses"),
                        Guarded<&SequenceContextHandle::Truncate>("truncate"),
                        Guarded<&SequenceContextHandle::Position>("position"),
                        Guarded<&SequenceContextHandle::Size>("size"),
                        Guarded<&SequenceContextHandle::Sequences>("sequences"),
                        Guarded<&SequenceContextHandle::BatchSize>("batchSize"),
                        Guarded<&SequenceContextHandle::Logits>("logits"),
                        Guarded<&SequenceContextHandle::SaveState>("saveState"),
                        Guarded<&SequenceContextHandle::LoadState>("loadState"),
                        Guarded<&SequenceContextHandle::Dispose>("dispose")});
  }

  explicit SequenceContextHandle(const Napi::CallbackInfo& info) : GuardedWrap<SequenceContextHandle>(info) {}
  void Attach(std::shared_ptr<mm::SequenceContext> c) { ctx_ = std::move(c); }

 private:
  std::shared_ptr<mm::SequenceContext> live(Napi::Env env) const {
    if (!ctx_) throw make_error(env, "DISPOSED", "the shared context has been disposed");
    return ctx_;
  }

  int seq_arg(Napi::Env env, const std::shared_ptr<mm::SequenceContext>& ctx, const Napi::CallbackInfo& info) const {
    if (info.Length() < 1) throw Napi::TypeError::New(env, "the first argument is the sequence number");
    return int_in_range(env, info[0], "sequence", 0, ctx->n_seq() - 1);
  }

  // A sequence the JS thread may touch: none of its jobs is queued or running.
  int idle_seq(Napi::Env env, const std::shared_ptr<mm::SequenceContext>& ctx, const Napi::CallbackInfo& info) const {
    const int seq = seq_arg(env, ctx, info);
    if (ctx->busy(seq)) throw make_error(env, "BUSY", "sequence " + std::to_string(seq) + " has a decode in flight");
    return seq;
  }

  // Queues a job whose sequences are claimed; if it cannot be queued, they are free again.
  static Napi::Value queue(Napi::Env env, mm::SequenceContext& ctx, const std::vector<int>& claimed, PromiseWorker::Work work,
                           PromiseWorker::Settle settle) {
    try {
      return PromiseWorker::Run(env, std::move(work), std::move(settle));
    } catch (...) {
      Unclaim u{ctx, claimed};
      throw;
    }
  }

  template <typename F>
  static auto core(Napi::Env env, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const mm::Error& e) {
      throw make_error(env, mm::error_code_name(e.code()), e.what());
    }
  }

  // prefill(seq, parts: (Int32Array | Float32Array)[], last: boolean, token?, onProgress?): Promise<number> (position after)
  Napi::Value Prefill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const int seq = seq_arg(env, ctx, info);
    const char* usage = "prefill(seq, parts: Array<Int32Array | Float32Array>, last: boolean, token?, onProgress?)";
    if (info.Length() < 3 || !info[2].IsBoolean()) throw Napi::TypeError::New(env, usage);
    auto parts = ReadPromptParts(env, info[1], usage);
    const bool last = info[2].As<Napi::Boolean>().Value();
    auto cancel = cancel_flag(env, info.Length() > 3 ? info[3] : env.Undefined());
    auto progress = ProgressCallback::From(info, 4);
    if (!ctx->claim(seq)) throw make_error(env, "BUSY", "sequence " + std::to_string(seq) + " has a decode in flight");
    const std::vector<int> claimed{seq};
    return queue(env, *ctx, claimed, [ctx, seq, claimed, parts, last, cancel, progress] {
      Unclaim u{*ctx, claimed};
      ctx->prefill(seq, *parts, last, cancel.get(), [progress](size_t d, size_t t) { progress->report(double(d), double(t)); });
    }, [ctx, seq](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, ctx->n_past(seq)); });
  }

  // step(seqs: Int32Array, tokens: (CancelToken | undefined)[]): Promise<({token, eog, bytes} | {code, message})[]>
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const char* usage = "step(seqs: Int32Array, tokens: (CancelToken | undefined)[])";
    if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[1].IsArray()) {
      throw Napi::TypeError::New(env, usage);
    }
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    Napi::Array tokens = info[1].As<Napi::Array>();
    if (ids.ElementLength() == 0 || ids.ElementLength() > static_cast<size_t>(ctx->n_seq()) || tokens.Length() != ids.ElementLength()) {
      throw make_error(env, "INVALID_ARGUMENT", "step: one to " + std::to_string(ctx->n_seq()) + " sequences, each with its token");
    }
    std::vector<int> seqs(ids.Data(), ids.Data() + ids.ElementLength());
    std::vector<std::shared_ptr<std::atomic<bool>>> flags;
    for (uint32_t i = 0; i < tokens.Length(); ++i) flags.push_back(cancel_flag(env, tokens.Get(i)));
    for (int s : seqs) {
      if (s < 0 || s >= ctx->n_seq()) throw make_error(env, "INVALID_ARGUMENT", "sequence " + std::to_string(s) + " is out of range");
    }
    std::vector<int> claimed;
    for (int s : seqs) {
      // A sequence listed twice fails its own second claim.
      if (!ctx->claim(s)) {
        Unclaim u{*ctx, claimed};
        throw make_error(env, "BUSY", "sequence " + std::to_string(s) + " has a decode in flight");
      }
      claimed.push_back(s);
    }
    auto out = std::make_shared<std::vector<mm::StepResult>>();
    return queue(env, *ctx, claimed, [ctx, seqs, flags, out] {
          Unclaim u{*ctx, seqs};
          std::vector<const std::atomic<bool>*> cancels;
          for (const auto& f : flags) cancels.push_back(f.get());
          *out = ctx->step(seqs, cancels);
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Array arr = Napi::Array::New(env, out->size());
          for (size_t i = 0; i < out->size(); ++i) {
            const mm::StepResult& r = (*out)[i];
            Napi::Object o = Napi::Object::New(env);
            if (r.failed) {
              o.Set("code", mm::error_code_name(r.code));
              o.Set("message", r.message);
            } else {
              o.Set("token", r.token);
              o.Set("eog", r.eog);
              o.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(r.bytes.data()), r.bytes.size()));
            }
            arr.Set(static_cast<uint32_t>(i), o);
          }
          return arr;
        });
  }

  // setSampling(seq, options)
  Napi::Value SetSampling(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const int seq = idle_seq(env, ctx, info);
    const mm::SamplingOptions s = ReadSamplingOptions(env, info.Length() > 1 ? info[1] : env.Undefined(), "setSampling(seq, options: object)");
    core(env, [&] { ctx->set_sampling(seq, s); });
    return env.Undefined();
  }

  Napi::Value CheckGrammar(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "checkGrammar(grammar: string)");
    const std::string g = info[0].As<Napi::String>().Utf8Value();
    core(env, [&] { ctx->check_grammar(g); });
    return env.Undefined();
  }

  Napi::Value GrammarPasses(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    return Napi::Number::New(env, ctx->grammar_passes(idle_seq(env, ctx, info)));
  }

  // truncate(seq, position)
  Napi::Value Truncate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const int seq = idle_seq(env, ctx, info);
    if (info.Length() < 2) throw Napi::TypeError::New(env, "truncate(seq, position: number)");
    const int pos = int_in_range(env, info[1], "position", 0, ctx->n_ctx_seq());
    core(env, [&] { ctx->truncate(seq, pos); });
    return env.Undefined();
  }

  Napi::Value Position(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    return Napi::Number::New(env, ctx->n_past(seq_arg(env, ctx, info)));
  }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->n_ctx_seq()); }
  Napi::Value Sequences(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->n_seq()); }
  Napi::Value BatchSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->n_batch()); }

  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const int seq = idle_seq(env, ctx, info);
    const std::vector<float> l = core(env, [&] { return ctx->logits(seq); });
    Napi::Float32Array out = Napi::Float32Array::New(env, l.size());
    std::copy(l.begin(), l.end(), out.Data());
    return out;
  }

  // saveState(seq): Promise<Buffer> — the sequence's KV cells (sequence_state.h); a job like a prefill.
  Napi::Value SaveState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const int seq = seq_arg(env, ctx, info);
    if (!ctx->claim(seq)) throw make_error(env, "BUSY", "sequence " + std::to_string(seq) + " has a decode in flight");
    const std::vector<int> claimed{seq};
    auto out = std::make_shared<std::vector<uint8_t>>();
    return queue(env, *ctx, claimed, [ctx, seq, claimed, out] {
      Unclaim u{*ctx, claimed};
      ctx->with_cells(seq, [&](llama_context* c, int n) { *out = mm::save_sequence_state(c, seq, n); return n; });
    }, [out](Napi::Env env) { return state_buffer(env, out); });
  }

  // loadState(seq, state: Uint8Array, positions: number): Promise<number> — a saveState() (from a
  // context of any sequence count) into the empty sequence; resolves to its position after.
  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ctx = live(env);
    const int seq = seq_arg(env, ctx, info);
    StateArg state = state_arg(env, info.Length() > 1 ? info[1] : env.Undefined(), "loadState(seq, state: Uint8Array, positions: number)");
    const int positions = int_in_range(env, info.Length() > 2 ? info[2] : env.Undefined(), "positions", 1, ctx->n_ctx_seq());
    if (!ctx->claim(seq)) throw make_error(env, "BUSY", "sequence " + std::to_string(seq) + " has a decode in flight");
    const std::vector<int> claimed{seq};
    const uint8_t* data = state.data;
    const size_t size = state.size;
    return queue(env, *ctx, claimed, [ctx, seq, claimed, data, size, positions] {
      Unclaim u{*ctx, claimed};
      ctx->with_cells(seq, [&](llama_context* c, int n) {
        if (n != 0) throw mm::Error(mm::ErrorCode::InvalidArgument, "a state is restored into an empty sequence only");
        mm::load_sequence_state(c, seq, data, size, positions, ctx->n_ctx_seq());
        return positions;
      });
    }, [ctx, seq, keep = state.keep](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, ctx->n_past(seq)); });
  }

  // Jobs in flight keep the context alive until they end.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    ctx_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<mm::SequenceContext> ctx_;
};

// A context of `opts`, made off the JS thread, as a SequenceContextHandle.
Napi::Value Open(Napi::Env env, std::shared_ptr<mm::TextModel> model, const mm::SequenceOptions& opts) {
  auto holder = std::make_shared<std::shared_ptr<mm::SequenceContext>>();
  return PromiseWorker::Run(
      env, [model, opts, holder] { *holder = mm::SequenceContext::create(model, opts); },
      [holder](Napi::Env env) -> Napi::Value {
        Napi::Object obj = addon_data(env).sequence_context.New({});
        SequenceContextHandle::Unwrap(obj)->Attach(std::move(*holder));
        return obj;
      });
}

// createSequenceContext(model, contextSize, parallel, batchSize, threads, kvCacheType?: 'f16' | 'q8_0'): Promise<SequenceContextHandle>
Napi::Value CreateSequenceContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) throw Napi::TypeError::New(env, "createSequenceContext(model, contextSize, parallel, batchSize, threads, kvCacheType?)");
  auto model = TextModelHandle::FromValue(env, info[0]);
  mm::SequenceOptions opts;
  opts.n_ctx_seq = int_in_range(env, info[1], "contextSize", mm::limits::kMinContext, mm::limits::kMaxContext);
  opts.n_seq = int_in_range(env, info[2], "parallel", 1, mm::limits::kMaxParallel);
  opts.n_batch = int_in_range(env, info[3], "batchSize", 1, mm::limits::kMaxBatch);
  opts.threads = int_in_range(env, info[4], "threads", 1, mm::limits::kMaxThreads);
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    const std::string kv = info[5].IsString() ? info[5].As<Napi::String>().Utf8Value() : "";
    if (kv != "f16" && kv != "q8_0") throw Napi::RangeError::New(env, "kvCacheType must be 'f16' or 'q8_0'");
    opts.kv_q8_0 = kv == "q8_0";
  }
  return Open(env, model, opts);
}

// createContext(model, contextSize, batchSize, threads): deprecated, the same as
// createSequenceContext with one sequence (the lone chat's context of before, kept for one minor version).
Napi::Value CreateContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) throw Napi::TypeError::New(env, "createContext(model, contextSize: number, batchSize: number, threads: number)");
  auto model = TextModelHandle::FromValue(env, info[0]);
  mm::SequenceOptions opts;
  opts.n_seq = 1;
  opts.n_ctx_seq = int_in_range(env, info[1], "contextSize", mm::limits::kMinContext, mm::limits::kMaxContext);
  opts.n_batch = int_in_range(env, info[2], "batchSize", 1, mm::limits::kMaxBatch);
  opts.threads = int_in_range(env, info[3], "threads", 1, mm::limits::kMaxThreads);
  return Open(env, model, opts);
}

}  // namespace

void RegisterSequenceContext(Napi::Env env, Napi::Object exports) {
  addon_data(env).sequence_context = Napi::Persistent(SequenceContextHandle::Define(env));
  exports.Set("createSequenceContext", guarded_function<CreateSequenceContext>(env, "createSequenceContext"));
  exports.Set("createContext", guarded_function<CreateContext>(env, "createContext"));
}

}  // namespace mm_addon
