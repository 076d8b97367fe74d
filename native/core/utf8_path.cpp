#include "utf8_path.h"

#include "ggml.h"

namespace mm {

std::filesystem::path path_from_utf8(const std::string& utf8) {
#ifdef _WIN32
  return std::filesystem::u8path(utf8);
#else
  return std::filesystem::path(utf8);
#endif
}

std::string path_to_utf8(const std::filesystem::path& p) {
#ifdef _WIN32
  return p.u8string();  // C++17: UTF-8 in a std::string
#else
  return p.string();
#endif
}

FILE* fopen_utf8(const std::string& utf8, const char* mode) { return ggml_fopen(utf8.c_str(), mode); }

}  // namespace mm
