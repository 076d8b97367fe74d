// C++ failures become JS Error objects with a stable `code` (mm::ErrorCode names), so the
// TypeScript layer can map them onto its typed error classes.
#pragma once
#include <exception>
#include <string>

#include <napi.h>

namespace mm_addon {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

// Classifies the exception currently being handled (call inside a catch block).
void describe_current_exception(std::string& code, std::string& message);

}  // namespace mm_addon
