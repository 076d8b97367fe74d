// Reading numbers from JS without wrapping: Int32Value() turns 2^32+64 into 64 and a cast of an
// out-of-range double is undefined behaviour. Every count the addon takes is read through here.
#pragma once
#include <cmath>
#include <string>

#include <napi.h>

#include "js_errors.h"

namespace mm_addon {

// `v` as an integer in [min, max], else an INVALID_ARGUMENT error naming `name` and the range.
inline int int_in_range(Napi::Env env, Napi::Value v, const char* name, int min, int max) {
  if (!v.IsNumber()) throw make_error(env, "INVALID_ARGUMENT", std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    throw make_error(env, "INVALID_ARGUMENT", std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                                                  std::to_string(max));
  }
  return static_cast<int>(d);
}

}  // namespace mm_addon
