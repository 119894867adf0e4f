#pragma once
// What the safetensors reader and writer share: the dtype codes, the reserved metadata key and the
// way both word their errors.
#include <string>
#include <system_error>

#include <wtconv/dtype.h>
#include <wtconv/error.h>

// Tensor bytes are copied as they lie in the file, which stores them little-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "wtconv's safetensors reader and writer need a little-endian host"
#endif

namespace wtconv::io::detail {

inline constexpr const char* kMetadataKey = "__metadata__";

// The safetensors codes wtconv reads and writes; a new DType needs one line here.
struct DTypeCode {
    const char* code;
    DType dtype;
};
inline constexpr DTypeCode kDTypeCodes[] = {
    {"F32", DType::kFloat32},   {"F64", DType::kFloat64}, {"F16", DType::kFloat16},
    {"BF16", DType::kBFloat16}, {"I8", DType::kInt8},     {"U8", DType::kUInt8},
    {"I32", DType::kInt32},
};
// Codes the format defines that wtconv cannot hold yet: a file using them is valid, so reading it
// gives "not supported" rather than "malformed". A code in both lists counts as supported.
inline constexpr const char* kOtherCodes[] = {"BOOL",    "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4",
                                              "F6_E2M3", "F6_E3M2", "I16",     "U16",     "I32",
                                              "U32",     "I64",     "U64",     "C64"};

inline std::string supported_codes() {
    std::string out;
    for (const DTypeCode& c : kDTypeCodes) {
        out += out.empty() ? "" : ", ";
        out += c.code;
    }
    return out;
}

// nullptr for a DType missing from kDTypeCodes.
inline const char* code_of(DType dtype) {
    for (const DTypeCode& c : kDTypeCodes) {
        if (c.dtype == dtype) {
            return c.code;
        }
    }
    return nullptr;
}

// Throws Error(code, "safetensors: <file>: <parts>").
template <class... Parts>
[[noreturn]] void fail(ErrorCode code, const std::string& file, const Parts&... parts) {
    throw Error(code, wtconv::detail::concat("safetensors: ", file, ": ", parts...));
}

inline std::string errno_text(int err) {
    return std::generic_category().message(err);
}

}  // namespace wtconv::io::detail
