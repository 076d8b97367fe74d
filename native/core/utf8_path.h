// File paths cross the N-API boundary as UTF-8. POSIX takes those bytes as they are; Windows needs
// UTF-16 (std::filesystem::path(std::string) there converts from the ANSI code page, and fopen takes
// ANSI), so every path the core opens goes through these.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>

namespace mm {

std::filesystem::path path_from_utf8(const std::string& utf8);
std::string path_to_utf8(const std::filesystem::path& p);

/** fopen for a UTF-8 path (ggml_fopen: _wfopen on Windows). */
FILE* fopen_utf8(const std::string& utf8, const char* mode);

}  // namespace mm
