// Reads a JS sampling options object ({temperature, topK, topP, minP, repeatPenalty, repeatLastN,
// seed, grammar}) into mm::SamplingOptions: the one reader for a plain context and a sequence.
// lib/llm/sampling.ts has checked the values; here only what could wrap or crash is re-checked.
#pragma once
#include <cmath>
#include <string>

#include <napi.h>

#include "js_args.h"
#include "js_errors.h"
#include "llm_sequence_sampler.h"
#include "mm_limits.h"

namespace mm_addon {

inline mm::SamplingOptions ReadSamplingOptions(Napi::Env env, Napi::Value value, const char* usage) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, usage);
  Napi::Object o = value.As<Napi::Object>();
  auto num = [&](const char* key, double fallback) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(key) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  };
  mm::SamplingOptions s;
  s.temperature = static_cast<float>(num("temperature", s.temperature));
  auto count = [&](const char* key, int fallback, int max) {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? fallback : int_in_range(env, v, key, 0, max);
  };
  s.top_k = count("topK", s.top_k, mm::limits::kMaxTopK);
  s.top_p = static_cast<float>(num("topP", s.top_p));
  s.min_p = static_cast<float>(num("minP", s.min_p));
  s.repeat_penalty = static_cast<float>(num("repeatPenalty", s.repeat_penalty));
  s.repeat_last_n = count("repeatLastN", s.repeat_last_n, mm::limits::kMaxRepeatLastN);
  const double seed = num("seed", s.seed);
  if (!(seed >= 0 && seed <= 4294967295.0) || std::floor(seed) != seed) throw make_error(env, "INVALID_ARGUMENT", "seed must be an integer from 0 to 2^32-1");
  s.seed = static_cast<uint32_t>(seed);
  Napi::Value grammar = o.Get("grammar");
  if (!grammar.IsUndefined()) {
    if (!grammar.IsString()) throw Napi::TypeError::New(env, "grammar must be a string");
    s.grammar = grammar.As<Napi::String>().Utf8Value();
  }
  return s;
}

}  // namespace mm_addon
