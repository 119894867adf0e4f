// The kernels behind cpu_peak.h. This file is built with -march=native (bench/CMakeLists.txt), so
// the FMA chains use the widest vectors this machine has, whatever the library was built with.
#include "support/cpu_peak.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include <omp.h>

namespace wtconv::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Each accumulator is its own dependency chain. Current x86 cores retire 2 FMAs a cycle with a
// latency of 4, so 8 chains in flight saturate them; 16 (AVX-512, 32 registers) or 12 (AVX2, 16
// registers) leave headroom and still fit in registers beside the two constants.
#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
constexpr int kChains = 16;
constexpr const char* kIsa = "avx512f";
Vec splat(float v) {
    return _mm512_set1_ps(v);
}
Vec vfma(Vec a, Vec b, Vec c) {
    return _mm512_fmadd_ps(a, b, c);
}
void store(float* out, Vec v) {
    _mm512_storeu_ps(out, v);
}
#elif defined(__AVX2__) && defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8;
constexpr int kChains = 12;
constexpr const char* kIsa = "avx2+fma";
Vec splat(float v) {
    return _mm256_set1_ps(v);
}
Vec vfma(Vec a, Vec b, Vec c) {
    return _mm256_fmadd_ps(a, b, c);
}
void store(float* out, Vec v) {
    _mm256_storeu_ps(out, v);
}
#else
using Vec = float;
constexpr int kLanes = 1;
constexpr int kChains = 8;
constexpr const char* kIsa = "scalar";
Vec splat(float v) {
    return v;
}
Vec vfma(Vec a, Vec b, Vec c) {
    return std::fma(a, b, c);
}
void store(float* out, Vec v) {
    *out = v;
}
#endif

// kChains chains of acc = acc * mul + add, `steps` FMAs each. The result depends on every chain,
// so the compiler cannot drop any of them.
float fma_chains(std::int64_t steps) {
    // acc converges to add / (1 - mul) = 1: no overflow and no denormals, whatever steps is.
    const Vec mul = splat(0.999f);
    const Vec add = splat(0.001f);
    Vec acc[kChains];
    for (int j = 0; j < kChains; ++j) {
        acc[j] = splat(static_cast<float>(j));
    }
    for (std::int64_t s = 0; s < steps; ++s) {
        for (int j = 0; j < kChains; ++j) {
            acc[j] = vfma(acc[j], mul, add);
        }
    }
    float lanes[kLanes];
    float sum = 0;
    for (int j = 0; j < kChains; ++j) {
        store(lanes, acc[j]);
        for (int l = 0; l < kLanes; ++l) {
            sum += lanes[l];
        }
    }
    return sum;
}

struct FmaRun {
    double seconds = 0;
    double flops = 0;
};

FmaRun run_fma(int threads, std::int64_t steps) {
    std::vector<float> sums(static_cast<std::size_t>(threads), 0.0f);
    int ran = 1;
    const Clock::time_point start = Clock::now();
#pragma omp parallel num_threads(threads)
    {
        sums[static_cast<std::size_t>(omp_get_thread_num())] = fma_chains(steps);
#pragma omp single nowait
        ran = omp_get_num_threads();  // the runtime may grant fewer threads than asked
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    volatile float sink = 0;  // keeps the sums, hence the chains, observable
    for (const float s : sums) {
        sink = sink + s;
    }
    return {seconds, 2.0 * kLanes * kChains * static_cast<double>(steps) * ran};
}

// Best GFLOP/s of 20 runs of ~25 ms: long against the fork/join cost (microseconds), short
// enough that some run finds a window where no other process holds one of our cores, and the
// first runs give the cores time to reach their clocks.
double best_fma_gflops(int threads) {
    std::int64_t steps = 1 << 20;
    const FmaRun probe = run_fma(threads, steps);
    steps = std::max<std::int64_t>(steps, static_cast<std::int64_t>(steps * 0.025 / probe.seconds));
    double best = 0;
    for (int r = 0; r < 20; ++r) {
        const FmaRun run = run_fma(threads, steps);
        best = std::max(best, run.flops / run.seconds * 1e-9);
    }
    return best;
}

}  // namespace

CpuPeak measure_fma_peak(int threads) {
    CpuPeak peak;
    peak.threads = std::max(1, threads);
    peak.isa = kIsa;
    peak.all_threads_gflops = best_fma_gflops(peak.threads);
    peak.one_thread_gflops = peak.threads == 1 ? peak.all_threads_gflops : best_fma_gflops(1);
    peak.gflops = std::max(peak.all_threads_gflops, peak.threads * peak.one_thread_gflops);
    return peak;
}

double measure_copy_bandwidth_gbs(int threads) {
    threads = std::max(1, threads);
    // 256 MiB each way: far past any last-level cache, so the copy measures DRAM.
    const std::int64_t bytes = std::int64_t{256} << 20;
    const std::unique_ptr<char[]> src(new char[static_cast<std::size_t>(bytes)]);
    const std::unique_ptr<char[]> dst(new char[static_cast<std::size_t>(bytes)]);
    const std::int64_t chunk = (bytes + threads - 1) / threads;
    const auto copy = [&](bool first_touch) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int t = 0; t < threads; ++t) {
            const std::int64_t begin = std::min(bytes, t * chunk);
            const std::int64_t count = std::min(bytes, begin + chunk) - begin;
            if (first_touch) {  // each thread's pages are placed near it, as in the timed runs
                std::memset(src.get() + begin, 1, static_cast<std::size_t>(count));
                std::memset(dst.get() + begin, 0, static_cast<std::size_t>(count));
            } else {
                std::memcpy(dst.get() + begin, src.get() + begin, static_cast<std::size_t>(count));
            }
        }
    };
    copy(true);
    double best = 0;
    for (int r = 0; r < 5; ++r) {
        const Clock::time_point start = Clock::now();
        copy(false);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        best = std::max(best, 2.0 * static_cast<double>(bytes) / seconds * 1e-9);
    }
    return best;
}

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const std::size_t value = line.find_first_not_of(" \t:", line.find(':'));
            if (value != std::string::npos) {
                return line.substr(value);
            }
        }
    }
    return "unknown";
}

}  // namespace wtconv::bench
