// Seeded normal inputs and the float32 -> bfloat16 conversion (see gpu_data.h).
#include <algorithm>

#include <cuda_bf16.h>

#include "cuda/bench_check.h"
#include "cuda/gpu_data.h"

namespace wtconv::bench {

namespace {

constexpr int kThreads = 256;

// splitmix64's finaliser: consecutive counters give independent-looking 64-bit words.
__device__ std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Box-Muller on two 24-bit uniforms; u1 is in (0, 1], so the log is finite.
__global__ void fill_normal_kernel(float* __restrict__ dst,
                                   std::int64_t n,
                                   std::uint64_t seed,
                                   float stddev) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += stride) {
        const std::uint64_t bits =
            mix64(seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(i));
        const float u1 = (static_cast<float>(bits >> 40) + 1.0f) * (1.0f / 16777216.0f);
        const float u2 = static_cast<float>((bits >> 16) & 0xffffffULL) * (1.0f / 16777216.0f);
        dst[i] = stddev * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
    }
}

__global__ void to_bf16_kernel(const float* __restrict__ src,
                               __nv_bfloat16* __restrict__ dst,
                               std::int64_t n) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += stride) {
        dst[i] = __float2bfloat16_rn(src[i]);
    }
}

// Grid-stride loops: a grid of at most 64k blocks covers any n.
unsigned blocks_for(std::int64_t n) {
    return static_cast<unsigned>(std::clamp<std::int64_t>((n + kThreads - 1) / kThreads, 1, 65536));
}

}  // namespace

void fill_normal_f32(float* dst, std::int64_t n, std::uint64_t seed, float stddev, cudaStream_t s) {
    fill_normal_kernel<<<blocks_for(n), kThreads, 0, s>>>(dst, n, seed, stddev);
    WTCONV_BENCH_CUDA_CHECK(cudaGetLastError());
}

void convert_f32_to_bf16(const float* src, void* dst, std::int64_t n, cudaStream_t s) {
    to_bf16_kernel<<<blocks_for(n), kThreads, 0, s>>>(src, static_cast<__nv_bfloat16*>(dst), n);
    WTCONV_BENCH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace wtconv::bench
