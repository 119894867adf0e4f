#pragma once
// with_float_type: calls a generic lambda with a value of the C++ type of a floating DType, so
// every CPU entry point instantiates its template for float and double from one switch.
#include <wtconv/dtype.h>
#include <wtconv/error.h>

namespace wtconv::cpu {

// f(T{}) with T = float for kFloat32, double for kFloat64; no default, so -Wswitch names this
// place when DType grows. The CPU kernels compute in float or double only, so the 16-bit types
// throw Error(kNotSupported) here instead of instantiating every kernel for storage types.
template <class F>
void with_float_type(DType dtype, F&& f) {
    switch (dtype) {
        case DType::kFloat32:
            f(float{});
            return;
        case DType::kFloat64:
            f(double{});
            return;
        case DType::kFloat16:
        case DType::kBFloat16:
        case DType::kInt8:
        case DType::kUInt8:
        case DType::kInt32:
            throw Error(
                ErrorCode::kNotSupported,
                detail::concat("cpu: dtype must be float32 or float64 for CPU kernels, got ",
                               dtype_name(dtype)));
    }
}

}  // namespace wtconv::cpu
