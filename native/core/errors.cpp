#include "errors.h"

namespace mm {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::ModelLoad: return "MODEL_LOAD";
    case ErrorCode::ProjectorMismatch: return "PROJECTOR_MISMATCH";
    case ErrorCode::Image: return "IMAGE";
    case ErrorCode::ContextOverflow: return "CONTEXT_OVERFLOW";
    case ErrorCode::Aborted: return "ABORTED";
    case ErrorCode::Disposed: return "DISPOSED";
    case ErrorCode::OutOfMemory: return "OUT_OF_MEMORY";
    case ErrorCode::Unsupported: return "UNSUPPORTED";
    case ErrorCode::UnsupportedCpu: return "UNSUPPORTED_CPU";
    case ErrorCode::Internal: return "INTERNAL";
  }
  return "INTERNAL";
}

}  // namespace mm
