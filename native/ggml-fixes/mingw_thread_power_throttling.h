// Force-included into the C files of ggml's CPU variants in a MinGW build (CMakeLists.txt).
//
// ggml-cpu.c opts its threads out of Windows' power throttling with THREAD_POWER_THROTTLING_STATE
// (SetThreadInformation, Windows 8+). The MinGW-w64 headers of Debian 12 (mingw-w64 10) declare
// SetThreadInformation and ThreadPowerThrottling but not this struct or its constants, so the
// variants do not compile; these are their definitions from the Windows SDK (processthreadsapi.h).
#pragma once
#if defined(__MINGW32__) && !defined(__cplusplus)
#include <windows.h>
#ifndef THREAD_POWER_THROTTLING_CURRENT_VERSION
#define THREAD_POWER_THROTTLING_CURRENT_VERSION 1
#define THREAD_POWER_THROTTLING_EXECUTION_SPEED 0x1
#define THREAD_POWER_THROTTLING_VALID_FLAGS (THREAD_POWER_THROTTLING_EXECUTION_SPEED)
typedef struct _THREAD_POWER_THROTTLING_STATE {
  ULONG Version;
  ULONG ControlMask;
  ULONG StateMask;
} THREAD_POWER_THROTTLING_STATE;
#endif
#endif
