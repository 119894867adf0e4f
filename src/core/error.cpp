// Names of the error categories, for messages and tests.
#include <wtconv/error.h>

namespace wtconv {

const char* error_code_name(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::kBadArgument:
            return "bad argument";
        case ErrorCode::kNotSupported:
            return "not supported";
        case ErrorCode::kCudaError:
            return "CUDA error";
        case ErrorCode::kOutOfMemory:
            return "out of memory";
        case ErrorCode::kIo:
            return "I/O error";
    }
    return "unknown error";
}

}  // namespace wtconv
