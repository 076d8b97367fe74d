/* Node-API bound to the host process at load (native/win32/napi_host.cmake says why). */
#ifndef MINIMONKEY_NAPI_HOST_H
#define MINIMONKEY_NAPI_HOST_H

struct mm_napi_slot {
  const char* name;
  void** slot;
};

/* Every Node-API function from node-api-headers' .def files, ending with {0, 0} (generated). */
extern const struct mm_napi_slot mm_napi_slots[];

/* What a slot holds until bound, and stays when the host lacks the function: napi_generic_failure. */
int mm_napi_missing(void);

#endif
