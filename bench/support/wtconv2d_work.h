#pragma once
// The work of one wtconv2d call (stride 1, float32): the FLOPs behind GFLOP/s and the FLOP floor,
// and the bytes that must cross DRAM at least once, behind the memory floor.
#include <cstdint>
#include <string>

#include "support/timed_loop.h"

namespace wtconv::bench {

struct WTConv2dProblem {
    std::int64_t n, c, h, w;
    int kernel_size;  // K
    int levels;       // L
    int filter_len;   // F: taps of the wavelet's 1D filters (2 for db1)
};

// "N16_C64_64x64_K5_L1"
inline std::string problem_name(const WTConv2dProblem& p) {
    return "N" + std::to_string(p.n) + "_C" + std::to_string(p.c) + "_" + std::to_string(p.h) +
           "x" + std::to_string(p.w) + "_K" + std::to_string(p.kernel_size) + "_L" +
           std::to_string(p.levels);
}

// FLOPs count 2 per multiply-add, and only the multiply-adds of the convolutions and transforms:
// the O(1)-per-element scales, bias and sums (a few percent) are left out, so the floor stays a
// lower bound. Per (n, c) plane, with P_i = h_{i+1} w_{i+1} the positions of one level-i band
// (h_0 = H, h_{i+1} = ceil(h_i / 2), likewise w):
//   base conv            2 K^2 H W
//   level i conv         4 bands * 2 K^2 P_i
//   level i DWT, IDWT    4 bands * 2 F^2 P_i each: a band pixel is an F x F dot product (the
//                        separable form's 16 F per position is the same count for db1, F = 2)
// forward  = base conv + sum_i (conv_i + DWT_i + IDWT_i)
// backward = 3 base conv + sum_i (3 conv_i + 3 transforms_i). Every conv runs three times: it is
//            recomputed (the CPU backward keeps no intermediates), then gives the input gradient
//            and the weight gradient; the transforms are the IDWT's adjoint on dy, the DWT
//            recomputed on x, and the DWT's adjoint back to dx.
struct WTConv2dFlops {
    double conv = 0;       // base conv plus every level's conv, once
    double transform = 0;  // one DWT (or one IDWT) over every level
};

inline WTConv2dFlops wtconv2d_flops(const WTConv2dProblem& p) {
    const double planes = static_cast<double>(p.n * p.c);
    const double k2 = static_cast<double>(p.kernel_size) * p.kernel_size;
    const double f2 = static_cast<double>(p.filter_len) * p.filter_len;
    WTConv2dFlops out;
    out.conv = 2 * k2 * static_cast<double>(p.h * p.w);
    std::int64_t h = p.h;
    std::int64_t w = p.w;
    for (int i = 0; i < p.levels; ++i) {
        h = (h + 1) / 2;
        w = (w + 1) / 2;
        out.conv += 4 * 2 * k2 * static_cast<double>(h * w);
        out.transform += 4 * 2 * f2 * static_cast<double>(h * w);
    }
    out.conv *= planes;
    out.transform *= planes;
    return out;
}

// Parameters: base weight, bias, scale, then per level 4C kernels and 4C scales.
inline double wtconv2d_weight_count(const WTConv2dProblem& p) {
    const double k2 = static_cast<double>(p.kernel_size) * p.kernel_size;
    return static_cast<double>(p.c) * ((k2 + 2) + 4 * p.levels * (k2 + 1));
}

// Bytes: the forward reads x and writes y; the backward reads dy and x and writes dx; each reads
// the weights and the backward writes their gradients. The pyramid of one plane fits in cache,
// so no intermediate has to reach DRAM.
inline Work wtconv2d_forward_work(const WTConv2dProblem& p) {
    const double plane_bytes = 4.0 * static_cast<double>(p.n * p.c * p.h * p.w);
    const WTConv2dFlops f = wtconv2d_flops(p);
    return {f.conv + 2 * f.transform, 2 * plane_bytes + 4 * wtconv2d_weight_count(p)};
}

inline Work wtconv2d_forward_backward_work(const WTConv2dProblem& p) {
    const double plane_bytes = 4.0 * static_cast<double>(p.n * p.c * p.h * p.w);
    const WTConv2dFlops f = wtconv2d_flops(p);
    const Work fwd = wtconv2d_forward_work(p);
    return {fwd.flops + 3 * f.conv + 3 * f.transform,
            fwd.bytes + 3 * plane_bytes + 2 * 4 * wtconv2d_weight_count(p)};
}

}  // namespace wtconv::bench
