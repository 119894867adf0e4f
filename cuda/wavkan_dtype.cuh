#pragma once
// The storage types the Wav-KAN CUDA kernels serve and the type each computes in: float32 and
// float64 compute in themselves; float16 and bfloat16 are storage only, every value widened to
// float on load and every sum kept in float, rounded to the storage type once on store.
#include <type_traits>
#include <utility>

#include <wtconv/tensor.h>

#include "cuda/numeric.cuh"

namespace wtconv::cuda {

template <class S>
using WavKanCompute = std::conditional_t<std::is_same_v<S, double>, double, float>;

template <class S>
__device__ inline WavKanCompute<S> widen(S v) {
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double>) {
        return v;
    } else {
        return to_float(v);
    }
}

template <class S>
__device__ inline S narrow(WavKanCompute<S> v) {
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double>) {
        return v;
    } else {
        return from_float<S>(v);
    }
}

// Batch norm's double arithmetic: in, and out rounded once.
template <class S>
__device__ inline double widen_to_double(S v) {
    return static_cast<double>(widen(v));
}

template <class S>
__device__ inline S narrow_from_double(double v) {
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double>) {
        return static_cast<S>(v);
    } else if constexpr (std::is_same_v<S, __half>) {
        return __double2half(v);
    } else {
        return __double2bfloat16(v);
    }
}

// t's elements as storage type S (Tensor::data knows the library's Half and BFloat16, not CUDA's
// types of the same layout); t must hold S's dtype.
template <class S>
S* storage(Tensor& t) {
    WTCONV_CHECK(t.dtype() == storage_dtype<S>(), "wavkan: a tensor of dtype ",
                 dtype_name(storage_dtype<S>()), " expected, got ", dtype_name(t.dtype()));
    return static_cast<S*>(t.raw_data());
}
template <class S>
const S* storage(const Tensor& t) {
    WTCONV_CHECK(t.dtype() == storage_dtype<S>(), "wavkan: a tensor of dtype ",
                 dtype_name(storage_dtype<S>()), " expected, got ", dtype_name(t.dtype()));
    return static_cast<const S*>(t.raw_data());
}

// The dtype the kernels compute S in (the dtype of their float sums and tables).
template <class S>
DType wavkan_compute_dtype() {
    return std::is_same_v<S, double> ? DType::kFloat64 : DType::kFloat32;
}

// f(S{}) with the storage type S of dtype: float, double, __half or __nv_bfloat16.
template <class F>
void with_wavkan_dtype(DType dtype, F&& f) {
    with_storage_type("wavkan", dtype, std::forward<F>(f));
}

}  // namespace wtconv::cuda
