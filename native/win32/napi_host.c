/* Binds the Node-API slots of native/win32/napi_host.cmake to the module of this process that
 * exports Node-API: the host executable (node.exe, or an Electron app's MyApp.exe under any name),
 * else the first loaded module that has it (a host with Node in libnode.dll). Runs as a constructor,
 * i.e. while Windows attaches the DLL, so the slots are filled before Node calls the initializer;
 * GetModuleHandle, GetProcAddress and EnumProcessModules load nothing, so the loader lock is safe. */
#ifndef PSAPI_VERSION
#define PSAPI_VERSION 2 /* EnumProcessModules is K32EnumProcessModules in KERNEL32: no psapi.dll */
#endif
#include <windows.h>
#include <psapi.h>

#include "napi_host.h"

int mm_napi_missing(void) { return 9; /* napi_generic_failure */ }

static const char kProbe[] = "napi_module_register";

static HMODULE self_module(void) {
  HMODULE self = NULL;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                     (LPCWSTR)(void*)&mm_napi_missing, &self);
  return self;
}

static HMODULE node_api_provider(void) {
  HMODULE exe = GetModuleHandleW(NULL);
  if (exe && GetProcAddress(exe, kProbe)) return exe;
  HMODULE mods[1024];
  DWORD bytes = 0;
  if (!EnumProcessModules(GetCurrentProcess(), mods, sizeof mods, &bytes)) return NULL;
  const HMODULE self = self_module();
  DWORD n = bytes / sizeof(HMODULE);
  if (n > sizeof mods / sizeof mods[0]) n = sizeof mods / sizeof mods[0];
  for (DWORD i = 0; i < n; i++) {
    if (mods[i] != self && GetProcAddress(mods[i], kProbe)) return mods[i];
  }
  return NULL;
}

__attribute__((constructor)) static void mm_bind_node_api(void) {
  HMODULE host = node_api_provider();
  if (!host) return; /* not loaded by Node: every call fails as napi_generic_failure, nothing crashes */
  for (const struct mm_napi_slot* s = mm_napi_slots; s->name; s++) {
    FARPROC f = GetProcAddress(host, s->name);
    if (f) *s->slot = (void*)f;
  }
}
