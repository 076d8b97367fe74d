// Typed failures of the core. Every error that can reach a user carries one of these codes;
// the addon turns them into JS errors with the same `code`.
#pragma once
#include <stdexcept>
#include <string>

namespace mm {

enum class ErrorCode {
  InvalidArgument,    // a caller passed something unusable (shape, length, option)
  ModelLoad,          // a model file is missing, unreadable, malformed or not what we expect
  ProjectorMismatch,  // text model and vision projector do not belong together
  Image,              // an image cannot be decoded or processed
  ContextOverflow,    // the prompt does not fit the context
  Aborted,            // the caller cancelled
  Disposed,           // the object was disposed
  OutOfMemory,        // an allocation failed
  Unsupported,        // valid input we do not support (architecture, tensor type)
  UnsupportedCpu,     // no CPU variant of this build runs here, or the forced one cannot
  Internal,           // a bug: something that should not happen
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace mm
