#pragma once
// This machine's measured limits, the floor every CPU benchmark is held against: float32 FMA
// throughput and memory copy bandwidth over a number of OpenMP threads, and the CPU's name.
#include <string>

namespace wtconv::bench {

struct CpuPeak {
    // The peak the floors use: max(all_threads, threads * one_thread). FMA throughput scales
    // linearly with cores, and on a shared machine another process may hold one of our cores for
    // the whole all-thread measurement, which would lower the peak and flatter every fraction.
    double gflops = 0;              // float32, 2 FLOPs per fused multiply-add
    double all_threads_gflops = 0;  // every thread at once
    double one_thread_gflops = 0;   // one thread alone (its core may turbo higher)
    const char* isa = "";           // the FMA kernel's vectors: "avx512f", "avx2+fma", "scalar"
    int threads = 0;
};

// Best of 20 runs of ~25 ms of independent FMA chains, on every thread and then on one (about
// 1 s in all).
CpuPeak measure_fma_peak(int threads);

// STREAM-copy convention: (bytes read + bytes written) / s over buffers far larger than the
// caches, best of a few runs, in GB/s (1e9 bytes).
double measure_copy_bandwidth_gbs(int threads);

// The "model name" line of /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace wtconv::bench
