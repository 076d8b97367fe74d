// cpu-features.node: which x86-64 features this CPU and OS offer, asked through CPUID (and XGETBV
// for the AVX state) by the compiler's __builtin_cpu_supports. It is compiled for the base x86-64
// instruction set, so it loads on any x86-64 CPU; lib/native.ts asks it before loading an addon
// built for a higher level, because running an AVX2 instruction on a CPU without it is a SIGILL
// that no try/catch can stop. Reading /proc/cpuinfo instead would be wrong under an emulator or a
// hypervisor that masks features, and does not exist off Linux.
#include <node_api.h>

static void put(napi_env env, napi_value obj, const char* name, int value) {
  napi_value v;
  napi_get_boolean(env, value != 0, &v);
  napi_set_named_property(env, obj, name, v);
}

NAPI_MODULE_INIT() {
  napi_value features;
  napi_create_object(env, &features);
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // The names are Linux's /proc/cpuinfo flags, as in native/cpu-levels.json.
  put(env, features, "ssse3", __builtin_cpu_supports("ssse3"));
  put(env, features, "sse4_1", __builtin_cpu_supports("sse4.1"));
  put(env, features, "sse4_2", __builtin_cpu_supports("sse4.2"));
  put(env, features, "popcnt", __builtin_cpu_supports("popcnt"));
  put(env, features, "avx", __builtin_cpu_supports("avx"));  // false when the OS does not save AVX state
  put(env, features, "avx2", __builtin_cpu_supports("avx2"));
  put(env, features, "fma", __builtin_cpu_supports("fma"));
  put(env, features, "f16c", __builtin_cpu_supports("f16c"));
  put(env, features, "bmi2", __builtin_cpu_supports("bmi2"));
  put(env, features, "avx512f", __builtin_cpu_supports("avx512f"));
#endif
  napi_set_named_property(env, exports, "x86Features", features);
  return exports;
}
