# Cross build for linux-arm64 (glibc) on an x86-64 Linux host: `npm run prebuild -- --platform linux-arm64`
# (scripts/prebuild.mjs) passes it to cmake-js; the N-API headers cmake-js adds are the same on every arch.
#
# Compiler: clang --target=aarch64-linux-gnu, with the libstdc++, glibc and binutils of Debian's cross
# toolchain (g++-aarch64-linux-gnu, libc6-dev-arm64-cross). Not aarch64-linux-gnu-g++ itself: GCC 12
# knows neither -march=armv9.2-a nor the +sme modifier (both GCC 14), so it cannot build ggml's two SME
# variants (armv9.2_1, armv9.2_2), and ggml's `ggml` target depends on every variant it defines.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(_mm_triple aarch64-linux-gnu)
find_program(_mm_clang NAMES clang clang-19 clang-16 clang-14 REQUIRED)
find_program(_mm_clangxx NAMES clang++ clang++-19 clang++-16 clang++-14 REQUIRED)
set(CMAKE_C_COMPILER ${_mm_clang})
set(CMAKE_CXX_COMPILER ${_mm_clangxx})
set(CMAKE_C_COMPILER_TARGET ${_mm_triple})
set(CMAKE_CXX_COMPILER_TARGET ${_mm_triple})
set(CMAKE_ASM_COMPILER_TARGET ${_mm_triple})
find_program(CMAKE_AR ${_mm_triple}-ar REQUIRED)
find_program(CMAKE_RANLIB ${_mm_triple}-ranlib REQUIRED)
find_program(CMAKE_STRIP ${_mm_triple}-strip REQUIRED)

# Libraries and headers from the cross sysroot only; programs (ccache, python) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${_mm_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
