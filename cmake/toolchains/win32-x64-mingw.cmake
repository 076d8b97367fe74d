# Cross toolchain: win32-x64 from Linux with Debian's MinGW-w64 (posix thread model, so std::thread and
# std::mutex work; the win32 model lacks them in GCC 12). Used by scripts/cross/win32-x64.mjs.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

set(_mm_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_mm_triple}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_mm_triple}-g++-posix)
set(CMAKE_RC_COMPILER ${_mm_triple}-windres)
set(CMAKE_AR ${_mm_triple}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${_mm_triple}-ranlib CACHE FILEPATH "")

set(CMAKE_FIND_ROOT_PATH /usr/${_mm_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# No DLL the user lacks: MinGW's libgcc, libstdc++ and winpthread go into each binary. -static before
# -lpthread (added by CMake's Threads) makes ld take libwinpthread.a, not the import library of
# libwinpthread-1.dll; the system DLLs (KERNEL32, msvcrt, ...) stay dynamic because only their import
# libraries exist. --exclude-libs,ALL: a DLL that exports every symbol (ld's default for one without
# dllexport) would export the runtime's too (_Unwind_Resume, ...), and the next DLL linking against
# its import library would then find them twice.
set(_mm_static_rt "-static-libgcc -static-libstdc++ -Wl,-Bstatic,--whole-archive -lwinpthread -Wl,--no-whole-archive,-Bdynamic -Wl,--exclude-libs,ALL")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_mm_static_rt}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_mm_static_rt}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_mm_static_rt}")
