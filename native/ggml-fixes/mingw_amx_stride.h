// Force-included into ggml's sapphirerapids CPU variant in a MinGW build (CMakeLists.txt).
//
// GCC's AMX load/store intrinsics (amxtileintrin.h, GCC 12) pass the row stride as `(long)`, which is
// 32 bits on Windows (LLP64), so the assembler gets a 32-bit index register next to a 64-bit base,
// `tileloadd (%rax,%edi,1)`, and refuses it. Redefined with a pointer-sized stride, as on Linux.
#pragma once
#if defined(__MINGW32__) && defined(__GNUC__) && !defined(__clang__) && defined(__AMX_TILE__)
#include <immintrin.h>
#undef _tile_loadd_internal
#define _tile_loadd_internal(dst, base, stride)                                             \
  __asm__ volatile("{tileloadd\t(%0,%1,1), %%tmm" #dst "|tileloadd\t%%tmm" #dst ", [%0+%1*1]}" \
                   ::"r"((const void*)(base)), "r"((__PTRDIFF_TYPE__)(stride)))
#undef _tile_stream_loadd_internal
#define _tile_stream_loadd_internal(dst, base, stride)                                          \
  __asm__ volatile("{tileloaddt1\t(%0,%1,1), %%tmm" #dst "|tileloaddt1\t%%tmm" #dst ", [%0+%1*1]}" \
                   ::"r"((const void*)(base)), "r"((__PTRDIFF_TYPE__)(stride)))
#undef _tile_stored_internal
#define _tile_stored_internal(src, base, stride)                                                 \
  __asm__ volatile("{tilestored\t%%tmm" #src ", (%0,%1,1)|tilestored\t[%0+%1*1], %%tmm" #src "}" \
                   ::"r"((void*)(base)), "r"((__PTRDIFF_TYPE__)(stride))                          \
                   : "memory")
#endif
