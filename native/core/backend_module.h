// Opening ggml backend modules (the CPU variants, GPU backends) by path, on every platform.
//
// POSIX: dlopen. Windows: LoadLibraryExW on the UTF-16 path with LOAD_WITH_ALTERED_SEARCH_PATH, so
// the module's own imports (mm-ggml-base.dll) resolve from its folder, not the host executable's,
// with Windows' "missing DLL" dialog box turned off. ggml_backend_load takes a char* that it turns
// into a path through the ANSI code page on Windows, so a module in a folder with non-ASCII letters
// (C:\Users\Élodie\...) is loaded here and handed to ggml_backend_register instead.
#pragma once
#include <string>

#include "ggml-backend.h"

namespace mm {

/** An open module (HMODULE or dlopen handle), or nullptr. */
using ModuleHandle = void*;

ModuleHandle open_module(const std::string& utf8_path);
void* module_symbol(ModuleHandle h, const char* name);
void close_module(ModuleHandle h);
/** Why the last open_module failed, as the system says it. */
std::string module_error();

/**
 * Loads a ggml backend module and registers it with ggml (it stays loaded for the process).
 * nullptr when it cannot be opened, its ggml_backend_score says this machine cannot run it, or it
 * registers nothing; `why` then says which.
 */
ggml_backend_reg_t load_backend_module(const std::string& utf8_path, std::string& why);

}  // namespace mm
