#include "js_errors.h"

#include <new>

#include "errors.h"

namespace mm_addon {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void describe_current_exception(std::string& code, std::string& message) {
  try {
    throw;
  } catch (const mm::Error& e) {
    code = mm::error_code_name(e.code());
    message = e.what();
  } catch (const std::bad_alloc&) {
    code = "OUT_OF_MEMORY";
    message = "out of memory";
  } catch (const std::exception& e) {
    code = "INTERNAL";
    message = e.what();
  } catch (...) {
    code = "INTERNAL";
    message = "unknown native error";
  }
}

}  // namespace mm_addon
