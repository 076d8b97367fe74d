// JS handle of a mm::TextModel (libllama model + vocabulary): load off the JS thread with
// progress and cancellation; tokenize and render pieces synchronously (microseconds).
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
#include "text_model_js.h"
#include "devices.h"

namespace mm_addon {

Napi::Function TextModelHandle::Define(Napi::Env env) {
  return DefineClass(env, "TextModelHandle",
                     {Guarded<&TextModelHandle::Info>("info"),
                      Guarded<&TextModelHandle::Tokenize>("tokenize"),
                      Guarded<&TextModelHandle::TokenizeAsync>("tokenizeAsync"),
                      Guarded<&TextModelHandle::Piece>("piece"),
                      Guarded<&TextModelHandle::Dispose>("dispose")});
}

TextModelHandle::TextModelHandle(const Napi::CallbackInfo& info) : GuardedWrap<TextModelHandle>(info) {}

std::shared_ptr<mm::TextModel> TextModelHandle::live(Napi::Env env) const {
  if (!model_) throw make_error(env, "DISPOSED", "the text model has been disposed");
  return model_;
}

std::shared_ptr<mm::TextModel> TextModelHandle::FromValue(Napi::Env env, Napi::Value v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(addon_data(env).text_model.Value())) {
    throw Napi::TypeError::New(env, "expected a text model handle");
  }
  return Unwrap(v.As<Napi::Object>())->live(env);
}

Napi::Value TextModelHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mm::TextModelInfo& in = live(env)->info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arch", in.arch);
  o.Set("name", in.name);
  o.Set("embeddingWidth", in.n_embd);
  o.Set("vocabSize", in.n_vocab);
  o.Set("layers", in.n_layer);
  o.Set("heads", in.n_head);
  o.Set("kvHeads", in.n_head_kv);
  o.Set("trainContext", in.n_ctx_train);
  o.Set("parameters", static_cast<double>(in.n_params));
  o.Set("sizeBytes", static_cast<double>(in.size_bytes));
  o.Set("ropeType", in.rope_type);
  o.Set("chatTemplate", in.chat_template);
  Napi::Object sp = Napi::Object::New(env);
  sp.Set("bos", in.special.bos);
  sp.Set("eos", in.special.eos);
  sp.Set("imStart", in.special.im_start);
  sp.Set("imEnd", in.special.im_end);
  sp.Set("imgStart", in.special.img_start);
  sp.Set("imgEnd", in.special.img_end);
  sp.Set("imgContext", in.special.img_context);
  sp.Set("addBos", in.special.add_bos);
  o.Set("special", sp);
  o.Set("device", in.device);
  o.Set("deviceNote", in.device_note);
  o.Set("gpuLayers", in.gpu_layers);
  return o;
}

// tokenize(text: string, addBos: boolean, parseSpecial: boolean): Int32Array
Napi::Value TextModelHandle::Tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = live(env);
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBoolean() || !info[2].IsBoolean()) {
    throw Napi::TypeError::New(env, "tokenize(text: string, addBos: boolean, parseSpecial: boolean)");
  }
  try {
    const auto ids = model->tokenize(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Boolean>(), info[2].As<Napi::Boolean>());
    Napi::Int32Array out = Napi::Int32Array::New(env, ids.size());
    std::copy(ids.begin(), ids.end(), out.Data());
    return out;
  } catch (const mm::Error& e) {
    throw make_error(env, mm::error_code_name(e.code()), e.what());
  }
}

// tokenizeAsync(text, addBos, parseSpecial): Promise<Int32Array>: the same, on the thread pool, for
// long texts (tokenizing megabytes takes seconds). The vocabulary is read-only once loaded, and the
// worker holds the model alive.
Napi::Value TextModelHandle::TokenizeAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = live(env);
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBoolean() || !info[2].IsBoolean()) {
    throw Napi::TypeError::New(env, "tokenizeAsync(text: string, addBos: boolean, parseSpecial: boolean)");
  }
  auto text = std::make_shared<std::string>(info[0].As<Napi::String>().Utf8Value());
  const bool add_bos = info[1].As<Napi::Boolean>();
  const bool special = info[2].As<Napi::Boolean>();
  auto ids = std::make_shared<std::vector<int32_t>>();
  return PromiseWorker::Run(
      env, [model, text, add_bos, special, ids] { *ids = model->tokenize(*text, add_bos, special); },
      [ids](Napi::Env e) -> Napi::Value {
        Napi::Int32Array out = Napi::Int32Array::New(e, ids->size());
        std::copy(ids->begin(), ids->end(), out.Data());
        return out;
      });
}

// piece(token: number, special: boolean): Uint8Array (raw bytes; may be part of a character)
Napi::Value TextModelHandle::Piece(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = live(env);
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean()) {
    throw Napi::TypeError::New(env, "piece(token: number, special: boolean)");
  }
  const double t = info[0].As<Napi::Number>().DoubleValue();
  if (t != static_cast<int32_t>(t) || !model->valid_token(static_cast<int32_t>(t))) {
    throw make_error(env, "INVALID_ARGUMENT", "token id out of range");
  }
  const std::string bytes = model->piece(static_cast<int32_t>(t), info[1].As<Napi::Boolean>());
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Napi::Value TextModelHandle::Dispose(const Napi::CallbackInfo& info) {
  model_.reset();
  return info.Env().Undefined();
}

namespace {

// loadTextModel(path: string, gpuLayers: number, useMmap: boolean, token?, onProgress?, device?: string): Promise<TextModelHandle>
Napi::Value LoadTextModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsBoolean() ||
      (info.Length() > 5 && !info[5].IsUndefined() && !info[5].IsString())) {
    throw Napi::TypeError::New(env, "loadTextModel(path: string, gpuLayers: number, useMmap: boolean, token?, onProgress?, device?: string)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  mm::TextModelOptions opts;
  opts.gpu_layers = int_in_range(env, info[1], "gpuLayers", -1, mm::limits::kMaxGpuLayers);
  opts.use_mmap = info[2].As<Napi::Boolean>();
  if (info.Length() > 5 && info[5].IsString()) opts.device = info[5].As<Napi::String>().Utf8Value();
  mm::check_device_spec(opts.device);
  auto cancel = CancelToken::From(info, 3);
  auto progress = ProgressCallback::From(info, 4);
  auto holder = std::make_shared<std::shared_ptr<mm::TextModel>>();
  return PromiseWorker::Run(
      env,
      [path, opts, cancel, progress, holder] {
        *holder = mm::TextModel::load(path, opts, cancel.get(), [progress](float p) { progress->report(p, 1.0); });
      },
      [holder, progress](Napi::Env env) -> Napi::Value {
        Napi::Object obj = addon_data(env).text_model.New({});
        TextModelHandle::Unwrap(obj)->Attach(std::move(*holder));
        return obj;
      });
}

}  // namespace

void RegisterTextModel(Napi::Env env, Napi::Object exports) {
  addon_data(env).text_model = Napi::Persistent(TextModelHandle::Define(env));
  exports.Set("loadTextModel", guarded_function<LoadTextModel>(env, "loadTextModel"));
}

}  // namespace mm_addon
