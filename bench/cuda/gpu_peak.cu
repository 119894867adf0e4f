// Measured device copy bandwidth and float32 FMA peak (see gpu_peak.h).
#include <cstdint>

#include <wtconv/tensor.h>

#include "cuda/bench_check.h"
#include "cuda/gpu_peak.h"
#include "cuda/gpu_timer.h"

namespace wtconv::bench {

namespace {

// Independent FMA chains per thread: a dependent FMA waits ~4 cycles for its predecessor, so each
// warp needs several chains in flight for the scheduler to issue one FMA every cycle even when
// few warps are resident.
constexpr int kChains = 8;
constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 8;  // 8 x 256 = 2048 threads, the most one SM holds (sm_80, sm_90)
constexpr int kIterations = 1 << 16;

// a and b come in as arguments so that the compiler cannot fold the chains; a < 1 keeps every
// value near b / (1 - a), far from overflow and denormals. The sum is stored so the chains are
// live; the store costs one write per thread against 2^19 FMAs.
__global__ void fma_chain_kernel(float* __restrict__ out, float a, float b, int iterations) {
    float v[kChains];
#pragma unroll
    for (int c = 0; c < kChains; ++c) {
        v[c] = static_cast<float>(threadIdx.x) * 1e-3f + static_cast<float>(c);
    }
#pragma unroll 16
    for (int i = 0; i < iterations; ++i) {
#pragma unroll
        for (int c = 0; c < kChains; ++c) {
            v[c] = fmaf(v[c], a, b);
        }
    }
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kChains; ++c) {
        sum += v[c];
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = sum;
}

double measure_copy_gbs(int device, cudaStream_t stream) {
    constexpr std::int64_t kBytes = 256LL << 20;
    const Tensor src = Tensor::full({kBytes / 4}, 1.0, DType::kFloat32, Device::cuda(device));
    Tensor dst = Tensor::empty({kBytes / 4}, DType::kFloat32, Device::cuda(device));
    const GpuTimes t = time_gpu_calls(
        stream,
        [&](int) {
            WTCONV_BENCH_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), kBytes,
                                                    cudaMemcpyDeviceToDevice, stream));
        },
        GpuTimerOptions{3, 10});
    return 2.0 * static_cast<double>(kBytes) / (t.median_ms * 1e-3) * 1e-9;
}

double measure_fma_tflops(int device, int sm_count, cudaStream_t stream) {
    const int blocks = sm_count * kBlocksPerSm;
    Tensor out = Tensor::empty({static_cast<std::int64_t>(blocks) * kThreads}, DType::kFloat32,
                               Device::cuda(device));
    float* out_ptr = out.data<float>();
    const GpuTimes t = time_gpu_calls(
        stream,
        [&](int) {
            fma_chain_kernel<<<blocks, kThreads, 0, stream>>>(out_ptr, 0.999f, 1e-3f, kIterations);
            WTCONV_BENCH_CUDA_CHECK(cudaGetLastError());
        },
        GpuTimerOptions{2, 5});
    const double flops = 2.0 * kChains * static_cast<double>(kIterations) * blocks * kThreads;
    return flops / (t.median_ms * 1e-3) * 1e-12;
}

}  // namespace

GpuPeaks measure_gpu_peaks(int device, cudaStream_t stream) {
    cudaDeviceProp prop{};
    WTCONV_BENCH_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    GpuPeaks peaks;
    peaks.name = prop.name;
    peaks.sm_count = prop.multiProcessorCount;
    peaks.copy_gbs = measure_copy_gbs(device, stream);
    peaks.fma_tflops = measure_fma_tflops(device, peaks.sm_count, stream);
    return peaks;
}

}  // namespace wtconv::bench
