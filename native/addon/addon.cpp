// Module initializer: the only symbol the addon exports.
#include <napi.h>

#include "exports.h"
#include "ggml_log.h"

namespace mm_addon {

AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mm::install_log_sink();
  env.SetInstanceData(new AddonData());
  RegisterRuntimeInfo(env, exports);
  RegisterQuantize(env, exports);
  RegisterCancelToken(env, exports);
  RegisterVisionEncoder(env, exports);
  RegisterImageOps(env, exports);
  RegisterTiles(env, exports);
  RegisterTextModel(env, exports);
  RegisterSequenceContext(env, exports);
  RegisterScm(env, exports);
  RegisterGrammar(env, exports);
  return exports;
}

}  // namespace mm_addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return mm_addon::Init(env, exports); }

NODE_API_MODULE(minimonkey, InitModule)
