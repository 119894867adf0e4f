#pragma once
// This machine's measured limits, the floor every CPU benchmark is held against: float32 FMA
// throughput and memory copy bandwidth over a number of OpenMP threads, and the CPU's name.
#include <string>

namespace wtconv::bench {

struct CpuPeak {
    double gflops = 0;     // float32, 2 FLOPs per fused multiply-add, all threads together
    const char* isa = "";  // the vector width the FMA kernel ran with: "avx512f", "avx2+fma", ...
    int threads = 0;
};

// Best of a few ~0.1 s runs of independent FMA chains on every thread (about 0.5 s in all).
CpuPeak measure_fma_peak(int threads);

// STREAM-copy convention: (bytes read + bytes written) / s over buffers far larger than the
// caches, best of a few runs, in GB/s (1e9 bytes).
double measure_copy_bandwidth_gbs(int threads);

// The "model name" line of /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace wtconv::bench
