#pragma once
// The CUDA benchmark's configurations, their fixed targets from the issue, and the minimum bytes
// and FLOPs of one call (PERF.md sections 0 and 2), behind GB/s, TFLOP/s and the floor.
#include <cmath>
#include <cstdint>
#include <string>

namespace wtconv::bench {

struct GpuProblem {
    std::int64_t n, c, h, w;
    int kernel_size;  // K
    int levels;       // L
    // The figures (ms) on the same GPU kind: the fast public implementation
    // (BGU-CS-VIL/WTConv fast_wtconv) and eager PyTorch running the reference module, forward
    // and forward+backward.
    double fast_fwd_ms, fast_fb_ms;
    double eager_fwd_ms, eager_fb_ms;
};

// float32 (and bfloat16 for our fused rows), db1, stride 1, bias.
constexpr GpuProblem kGpuProblems[] = {
    {16, 64, 64, 64, 5, 1, 0.243, 1.064, 0.460, 1.464},
    {16, 64, 64, 64, 5, 3, 0.434, 1.664, 0.728, 2.715},
    {64, 96, 56, 56, 5, 3, 0.755, 3.169, 2.445, 7.047},
    {64, 192, 28, 28, 5, 2, 0.487, 2.335, 1.257, 3.883},
    {8, 64, 256, 256, 5, 3, 1.090, 4.065, 3.878, 11.344},
    {16, 64, 64, 64, 7, 2, 0.367, 1.866, 0.991, 2.780},
    {16, 64, 63, 65, 5, 2, 0.387, 2.195, 0.753, 2.836},  // odd sides: every level pads
};

// The targets for our fused rows: speed-up over the fast implementation.
constexpr double kTargetSpeedupForward = 5.0;
constexpr double kTargetSpeedupForwardBackward = 4.0;

// "N16_C64_64x64_K5_L1"
inline std::string gpu_problem_name(const GpuProblem& p) {
    return "N" + std::to_string(p.n) + "_C" + std::to_string(p.c) + "_" + std::to_string(p.h) +
           "x" + std::to_string(p.w) + "_K" + std::to_string(p.kernel_size) + "_L" +
           std::to_string(p.levels);
}

// S = N*C*H*W, the element count of one activation tensor.
inline double elements(const GpuProblem& p) {
    return static_cast<double>(p.n * p.c * p.h * p.w);
}

// Minimum bytes: the forward reads x and writes y (4 + 4/s^2 B/element in float32); the backward
// also reads x and dy and writes dx, so forward+backward moves 12 + 8/s^2 (20 at s = 1). Weights
// and their gradients are a few KB. elem_bytes 2 (bfloat16) halves everything.
inline double min_bytes(const GpuProblem& p, bool backward, double elem_bytes, int stride = 1) {
    const double inv_s2 = 1.0 / (static_cast<double>(stride) * stride);
    const double per_element = backward ? 3 + 2 * inv_s2 : 1 + inv_s2;
    return elements(p) * elem_bytes * per_element;
}

// FLOPs per full-resolution element (2 per FMA): the base conv 2K^2, level l's four band convs
// 2K^2 / 4^(l-1), and Haar + inverse + LL merge ~4.3 / 4^(l-1); summed over l = 1..L the
// geometric factor is 4/3 (1 - 4^-L). The backward (dx through the same cascade plus the weight
// correlations) is counted as twice the forward, so forward+backward is three forwards.
inline double min_flops(const GpuProblem& p, bool backward) {
    const double k2 = static_cast<double>(p.kernel_size) * p.kernel_size;
    const double geo = 4.0 / 3.0 * (1.0 - std::pow(4.0, -p.levels));
    const double forward = 2 * k2 * (1 + geo) + 4.3 * geo;
    return elements(p) * forward * (backward ? 3.0 : 1.0);
}

}  // namespace wtconv::bench
