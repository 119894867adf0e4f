#pragma once
// The benchmark's direct convolution: the definition as loops a C++ engineer would write first,
// OpenMP over (image, output channel), the innermost loop over contiguous output columns so the
// compiler vectorises it. Square kernel, stride and padding; no groups or dilation.
#include <algorithm>
#include <cstdint>

#include "support/conv2d_work.h"

namespace wtconv::bench {

inline void direct_conv2d_forward(
    const Conv2dProblem& p, const float* x, const float* w, const float* b, float* y) {
    const std::int64_t ho = p.ho();
    const std::int64_t wo = p.wo();
#pragma omp parallel for collapse(2) schedule(static)
    for (std::int64_t n = 0; n < p.n; ++n) {
        for (std::int64_t o = 0; o < p.o; ++o) {
            float* out = y + (n * p.o + o) * ho * wo;
            std::fill(out, out + ho * wo, b[o]);
            for (std::int64_t c = 0; c < p.c; ++c) {
                const float* plane = x + (n * p.c + c) * p.h * p.w;
                for (int i = 0; i < p.k; ++i) {
                    for (int j = 0; j < p.k; ++j) {
                        const float tap = w[((o * p.c + c) * p.k + i) * p.k + j];
                        for (std::int64_t r = 0; r < ho; ++r) {
                            const std::int64_t row = r * p.stride + i - p.pad;
                            if (row < 0 || row >= p.h) {
                                continue;
                            }
                            // Columns q whose input column q s + j - pad lies inside the image.
                            const std::int64_t shift = j - p.pad;
                            const std::int64_t q0 =
                                shift >= 0 ? 0 : (-shift + p.stride - 1) / p.stride;
                            const std::int64_t q1 = std::min(wo, (p.w - 1 - shift) / p.stride + 1);
                            const float* in = plane + row * p.w;
                            float* dst = out + r * wo;
                            for (std::int64_t q = q0; q < q1; ++q) {
                                dst[q] += tap * in[q * p.stride + shift];
                            }
                        }
                    }
                }
            }
        }
    }
}

}  // namespace wtconv::bench
