#pragma once
// Storage types of the CUDA kernels and their conversions: tensors may hold float, double, half or
// bfloat16; the fused kernels compute in float and round once on store.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

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

}  // namespace wtconv::cuda
