/* Wine 8 (Debian 12) has no bcryptprimitives.dll, which every Windows since 8 has and sharp's
 * libvips-42.dll imports (ProcessPrng, the system's random generator, from its Rust parts). The
 * Wine tests put this stand-in into their Wine prefix's system32; it is never shipped. ProcessPrng
 * is documented to always succeed; it draws from BCryptGenRandom, which Wine has. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
