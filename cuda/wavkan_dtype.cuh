#pragma once
// The storage types the Wav-KAN CUDA kernels serve: f(T{}) for float32 and float64, the half
// types not yet (Error kNotSupported).
#include <wtconv/dtype.h>
#include <wtconv/error.h>

namespace wtconv::cuda {

template <class F>
void with_wavkan_dtype(DType dtype, F&& f) {
    if (dtype == DType::kFloat32) {
        f(float{});
    } else if (dtype == DType::kFloat64) {
        f(double{});
    } else {
        throw Error(ErrorCode::kNotSupported,
                    ::wtconv::detail::concat("wavkan: CUDA runs float32 and float64 so far, got ",
                                             dtype_name(dtype)));
    }
}

}  // namespace wtconv::cuda
