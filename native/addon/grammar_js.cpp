// jsonSchemaToGrammar(schemaJson: string): string — llama.cpp's JSON Schema converter (compiled
// from the pinned source), synchronous: a schema converts in well under a millisecond. Its C++
// exceptions arrive as JS errors with our codes (INVALID_ARGUMENT, UNSUPPORTED).
#include <string>

#include <napi.h>

#include "errors.h"
#include "exports.h"
#include "guard.h"
#include "js_errors.h"
#include "json_schema_grammar.h"

namespace mm_addon {

namespace {

Napi::Value JsonSchemaToGrammar(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "jsonSchemaToGrammar(schemaJson: string)");
  const std::string schema = info[0].As<Napi::String>().Utf8Value();
  try {
    return Napi::String::New(env, mm::json_schema_to_gbnf(schema));
  } catch (...) {
    std::string code, message;
    describe_current_exception(code, message);
    throw make_error(env, code, message);
  }
}

}  // namespace

void RegisterGrammar(Napi::Env env, Napi::Object exports) {
  exports.Set("jsonSchemaToGrammar", guarded_function<JsonSchemaToGrammar>(env, "jsonSchemaToGrammar"));
}

}  // namespace mm_addon
