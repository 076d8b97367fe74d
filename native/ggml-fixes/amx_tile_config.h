// Force-included into ggml's sapphirerapids CPU variant when the compiler is GCC (CMakeLists.txt).
//
// GCC before 13 defines _tile_loadconfig as inline asm whose memory operand is
// `*(const void **)config`: 8 bytes. The compiler may then treat the stores that fill the rest of
// the 64-byte tile configuration (rows, column widths) as dead and drop them, so ldtilecfg loads a
// zeroed palette and the next tileloadd raises #UD: SIGILL in ggml_backend_amx_mul_mat. Including
// immintrin.h first (its guards make later includes no-ops) and redefining the macro with the whole
// 64 bytes as the operand keeps the stores. GCC 13+ and clang use a builtin and are left alone.
#pragma once
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13 && defined(__AMX_TILE__)
#include <immintrin.h>
struct mm_amx_tile_config_bytes {
  unsigned char bytes[64];
};
#undef _tile_loadconfig
#define _tile_loadconfig(config) \
  __asm__ volatile("ldtilecfg\t%X0" ::"m"(*(const struct mm_amx_tile_config_bytes*)(config)))
#undef _tile_storeconfig
#define _tile_storeconfig(config) \
  __asm__ volatile("sttilecfg\t%X0" : "=m"(*(struct mm_amx_tile_config_bytes*)(config)))
#endif
