#pragma once
// The GPU's measured limits, the floor every CUDA benchmark row is held against: device memory copy
// bandwidth and float32 FMA throughput, both measured in the benchmark's own process.
#include <string>

#include <cuda_runtime.h>

namespace wtconv::bench {

struct GpuPeaks {
    std::string name;       // cudaDeviceProp::name
    int sm_count = 0;       // streaming multiprocessors
    double copy_gbs = 0;    // 256 MB device-to-device cudaMemcpy, (bytes read + written) / s, 1e9 B
    double fma_tflops = 0;  // float32, 2 FLOPs per fused multiply-add, every SM busy
};

// Median of 10 copies and of 5 FMA-chain kernel runs (about 0.1 s in all), after warm-ups, on
// stream. Measure once per process and pass the result around.
GpuPeaks measure_gpu_peaks(int device, cudaStream_t stream);

}  // namespace wtconv::bench
