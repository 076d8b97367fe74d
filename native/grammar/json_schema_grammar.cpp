#include "json_schema_grammar.h"

#include <cstdarg>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "errors.h"
#include "json-schema-to-grammar.h"
#include "json.h"

namespace {
// The converter's warnings during the current conversion on this thread (see fprintf_hook.h).
thread_local std::string* g_warnings = nullptr;
}  // namespace

int mm_grammar_fprintf(FILE* stream, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  va_list ap2;
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, format, ap);
  va_end(ap);
  if (n < 0) {
    va_end(ap2);
    return n;
  }
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  std::vsnprintf(buf.data(), buf.size(), format, ap2);
  va_end(ap2);
  if (g_warnings) {
    g_warnings->append(buf.data(), static_cast<size_t>(n));
  } else {
    std::fputs(buf.data(), stream);
  }
  return n;
}

namespace mm {

std::string json_schema_to_gbnf(const std::string& schema_json) {
  common_json schema;
  try {
    schema = common_json::parse(schema_json);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidArgument, std::string("the JSON schema is not valid JSON: ") + e.what());
  }
  std::string warnings;
  g_warnings = &warnings;
  std::string grammar;
  try {
    grammar = json_schema_to_grammar(schema, /* force_gbnf */ true);
  } catch (const std::exception& e) {
    g_warnings = nullptr;
    throw Error(ErrorCode::InvalidArgument, e.what());
  } catch (...) {
    g_warnings = nullptr;
    throw Error(ErrorCode::Internal, "the JSON schema converter failed");
  }
  g_warnings = nullptr;
  if (!warnings.empty()) {
    while (!warnings.empty() && (warnings.back() == '\n' || warnings.back() == ' ')) warnings.pop_back();
    const std::string prefix = "WARNING: ";
    if (warnings.compare(0, prefix.size(), prefix) == 0) warnings.erase(0, prefix.size());
    throw Error(ErrorCode::Unsupported, "the JSON schema cannot be enforced: " + warnings);
  }
  return grammar;
}

}  // namespace mm
