#pragma once
// wtconv::Error, the one exception type of the library, and WTCONV_CHECK, which builds its
// message ("op: arg must be ..., got ...") only when the check fails.
#include <sstream>
#include <stdexcept>
#include <string>

namespace wtconv {

enum class ErrorCode {
    kBadArgument,   // wrong rank, shape, dtype, device or value of an argument
    kNotSupported,  // a valid request this build or backend cannot serve
    kCudaError,     // a CUDA runtime, cuBLAS or cuDNN call failed
    kOutOfMemory,   // host or device allocation failed
    kIo,            // a file could not be read or written, or is not what it claims
};

const char* error_code_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

private:
    ErrorCode code_;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}
}  // namespace detail

}  // namespace wtconv

// Throws Error(code, message) when cond is false; the message parts are streamed together.
#define WTCONV_CHECK_CODE(cond, code, ...)                                        \
    do {                                                                          \
        if (!(cond)) {                                                            \
            throw ::wtconv::Error((code), ::wtconv::detail::concat(__VA_ARGS__)); \
        }                                                                         \
    } while (false)

#define WTCONV_CHECK(cond, ...) \
    WTCONV_CHECK_CODE(cond, ::wtconv::ErrorCode::kBadArgument, __VA_ARGS__)
