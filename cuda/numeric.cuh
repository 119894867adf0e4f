#pragma once
// Storage types of the CUDA kernels and their conversions: tensors may hold float, double, half or
// bfloat16; the fused kernels compute in float and round once on store.
#include <library_types.h>
#include <type_traits>
#include <vector_types.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <wtconv/dtype.h>
#include <wtconv/error.h>

namespace wtconv::cuda {

__device__ inline float to_float(float v) {
    return v;
}
__device__ inline float to_float(__half v) {
    return __half2float(v);
}
__device__ inline float to_float(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

template <class S>
__device__ inline S from_float(float v);
template <>
__device__ inline float from_float<float>(float v) {
    return v;
}
template <>
__device__ inline __half from_float<__half>(float v) {
    return __float2half_rn(v);
}
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

// The unsigned type of kBytes bytes (2, 4, 8 or 16): one vector load or store.
template <int kBytes>
struct RawVector;
template <>
struct RawVector<2> {
    using Type = unsigned short;
};
template <>
struct RawVector<4> {
    using Type = unsigned;
};
template <>
struct RawVector<8> {
    using Type = uint2;
};
template <>
struct RawVector<16> {
    using Type = uint4;
};

// cuBLAS's name of storage type T (cublasGemmEx's A, B and C types).
template <class T>
constexpr cudaDataType_t blas_type() {
    if constexpr (std::is_same_v<T, double>) {
        return CUDA_R_64F;
    } else if constexpr (std::is_same_v<T, float>) {
        return CUDA_R_32F;
    } else if constexpr (std::is_same_v<T, __half>) {
        return CUDA_R_16F;
    } else {
        static_assert(std::is_same_v<T, __nv_bfloat16>, "a storage type");
        return CUDA_R_16BF;
    }
}

// The dtype of storage type T: with_storage_type's inverse.
template <class T>
DType storage_dtype() {
    if constexpr (std::is_same_v<T, double>) {
        return DType::kFloat64;
    } else if constexpr (std::is_same_v<T, float>) {
        return DType::kFloat32;
    } else if constexpr (std::is_same_v<T, __half>) {
        return DType::kFloat16;
    } else {
        static_assert(std::is_same_v<T, __nv_bfloat16>, "a storage type");
        return DType::kBFloat16;
    }
}

// Runs fn(T{}) with the storage type T of dtype (float, double, __half, __nv_bfloat16): the one
// dtype switch of the floating CUDA ops. Other dtypes throw Error(kNotSupported) naming op.
template <class Fn>
void with_storage_type(const char* op, DType dtype, Fn&& fn) {
    switch (dtype) {
        case DType::kFloat32:
            return fn(float{});
        case DType::kFloat64:
            return fn(double{});
        case DType::kFloat16:
            return fn(__half{});
        case DType::kBFloat16:
            return fn(__nv_bfloat16{});
        default:
            break;
    }
    throw Error(ErrorCode::kNotSupported,
                ::wtconv::detail::concat(op, ": CUDA does not run ", dtype_name(dtype)));
}

}  // namespace wtconv::cuda
