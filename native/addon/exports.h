// Each file of the addon registers its own exports. Constructors live in per-environment
// instance data, so the addon works in worker threads (each has its own environment).
#pragma once
#include <napi.h>

namespace mm_addon {

struct AddonData {
  Napi::FunctionReference cancel_token;
  Napi::FunctionReference vision_encoder;
  Napi::FunctionReference text_model;
  Napi::FunctionReference sequence_context;
  Napi::FunctionReference scm;
};

AddonData& addon_data(Napi::Env env);

void RegisterRuntimeInfo(Napi::Env env, Napi::Object exports);
void RegisterQuantize(Napi::Env env, Napi::Object exports);
void RegisterCancelToken(Napi::Env env, Napi::Object exports);
void RegisterVisionEncoder(Napi::Env env, Napi::Object exports);
void RegisterTiles(Napi::Env env, Napi::Object exports);
void RegisterImageOps(Napi::Env env, Napi::Object exports);
void RegisterTextModel(Napi::Env env, Napi::Object exports);
void RegisterSequenceContext(Napi::Env env, Napi::Object exports);
void RegisterScm(Napi::Env env, Napi::Object exports);
void RegisterGrammar(Napi::Env env, Napi::Object exports);

}  // namespace mm_addon
