// The four string helpers of llama.cpp's common.cpp that its JSON-schema converter calls, with the
// declarations of common/common.h (same behaviour as the pinned source's definitions).
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "common.h"

std::string string_format(const char* fmt, ...) {
  va_list ap;
  va_list ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  const int size = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  if (size < 0) {
    va_end(ap2);
    return std::string();
  }
  std::vector<char> buf(static_cast<size_t>(size) + 1);
  std::vsnprintf(buf.data(), buf.size(), fmt, ap2);
  va_end(ap2);
  return std::string(buf.data(), static_cast<size_t>(size));
}

std::string string_join(const std::vector<std::string>& values, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += separator;
    out += values[i];
  }
  return out;
}

std::vector<std::string> string_split(const std::string& str, const std::string& delimiter) {
  std::vector<std::string> parts;
  size_t start = 0;
  size_t end = str.find(delimiter);
  while (end != std::string::npos) {
    parts.push_back(str.substr(start, end - start));
    start = end + delimiter.length();
    end = str.find(delimiter, start);
  }
  parts.push_back(str.substr(start));
  return parts;
}

std::string string_repeat(const std::string& str, size_t n) {
  std::string out;
  out.reserve(str.length() * n);
  for (size_t i = 0; i < n; ++i) out += str;
  return out;
}
