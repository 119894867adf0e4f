// The AVX-512 float32 GEMM of cpu/sgemm.h: packing and the 12 x 32 micro-kernel.
#include "cpu/sgemm.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace wtconv::cpu {

namespace {

constexpr std::int64_t kRows = SgemmShape::kRows;
constexpr std::int64_t kCols = SgemmShape::kCols;
constexpr std::int64_t kDepth = SgemmShape::kDepth;

std::int64_t round_up(std::int64_t v, std::int64_t m) {
    return (v + m - 1) / m * m;
}

#if defined(__AVX512F__)
__mmask16 lane_mask(std::int64_t lanes) {
    return lanes >= 16 ? __mmask16(0xFFFF)
                       : static_cast<__mmask16>((1u << std::max<std::int64_t>(lanes, 0)) - 1);
}

// c[rows x cols] (+)= a_panel (kc x 12) b_panel (kc x 32): 24 zmm accumulators, one broadcast
// and two loads a tap; 12 x 2 independent FMA chains cover the FMA latency twice over.
void micro_kernel(std::int64_t kc,
                  const float* a,
                  const float* b,
                  float* c,
                  std::int64_t ldc,
                  std::int64_t rows,
                  std::int64_t cols,
                  bool accumulate) {
    __m512 acc[kRows][2];
    for (auto& row : acc) {
        row[0] = _mm512_setzero_ps();
        row[1] = _mm512_setzero_ps();
    }
    for (std::int64_t k = 0; k < kc; ++k) {
        const __m512 b0 = _mm512_load_ps(b);
        const __m512 b1 = _mm512_load_ps(b + 16);
        for (int r = 0; r < kRows; ++r) {
            const __m512 ar = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
        a += kRows;
        b += kCols;
    }
    const __mmask16 m0 = lane_mask(cols);
    const __mmask16 m1 = lane_mask(cols - 16);
    for (std::int64_t r = 0; r < rows; ++r) {
        float* out = c + r * ldc;
        __m512 v0 = acc[r][0];
        __m512 v1 = acc[r][1];
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, out));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, out + 16));
        }
        _mm512_mask_storeu_ps(out, m0, v0);
        _mm512_mask_storeu_ps(out + 16, m1, v1);
    }
}

// Rows [k0, k0 + kc) of B into panels of (kc, kCols), columns past n zero.
void pack_b(const float* b,
            std::int64_t k0,
            std::int64_t kc,
            std::int64_t n,
            std::int64_t rs,
            std::int64_t cs,
            float* out) {
    for (std::int64_t j0 = 0; j0 < n; j0 += kCols) {
        const std::int64_t cols = std::min(kCols, n - j0);
        float* panel = out + j0 * kc;
        for (std::int64_t k = 0; k < kc; ++k) {
            const float* src = b + (k0 + k) * rs + j0 * cs;
            float* dst = panel + k * kCols;
            if (cs == 1) {
                std::memcpy(dst, src, static_cast<std::size_t>(cols) * sizeof(float));
            } else {
                for (std::int64_t j = 0; j < cols; ++j) {
                    dst[j] = src[j * cs];
                }
            }
            std::fill(dst + cols, dst + kCols, 0.0f);
        }
    }
}
#endif  // __AVX512F__

}  // namespace

bool sgemm_available() {
#if defined(__AVX512F__)
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return false;
#endif
}

std::int64_t packed_a_floats(std::int64_t m, std::int64_t k) {
    return round_up(m, kRows) * k;
}

PackedA pack_a(
    const float* a, std::int64_t m, std::int64_t k, std::int64_t rs, std::int64_t cs, float* out) {
    for (std::int64_t i0 = 0; i0 < m; i0 += kRows) {
        float* panel = out + i0 * k;
        const std::int64_t rows = std::min(kRows, m - i0);
        for (std::int64_t j = 0; j < k; ++j) {
            for (std::int64_t r = 0; r < kRows; ++r) {
                panel[j * kRows + r] = r < rows ? a[(i0 + r) * rs + j * cs] : 0.0f;
            }
        }
    }
    return PackedA{m, k, out};
}

std::int64_t sgemm_scratch_floats(std::int64_t n) {
    return kDepth * round_up(n, kCols);
}

void sgemm(const PackedA& a,
           const float* b,
           std::int64_t n,
           std::int64_t rs_b,
           std::int64_t cs_b,
           float* c,
           std::int64_t ldc,
           bool accumulate,
           float* scratch) {
#if defined(__AVX512F__)
    for (std::int64_t k0 = 0; k0 < a.k; k0 += kDepth) {
        const std::int64_t kc = std::min(kDepth, a.k - k0);
        pack_b(b, k0, kc, n, rs_b, cs_b, scratch);
        const bool add = accumulate || k0 > 0;
        for (std::int64_t i0 = 0; i0 < a.m; i0 += kRows) {
            // A's panels hold all k taps of kRows rows: this block starts k0 taps in.
            const float* a_panel = a.data + i0 * a.k + k0 * kRows;
            const std::int64_t rows = std::min(kRows, a.m - i0);
            for (std::int64_t j0 = 0; j0 < n; j0 += kCols) {
                micro_kernel(kc, a_panel, scratch + j0 * kc, c + i0 * ldc + j0, ldc, rows,
                             std::min(kCols, n - j0), add);
            }
        }
    }
#else
    (void)a, (void)b, (void)n, (void)rs_b, (void)cs_b, (void)c, (void)ldc, (void)accumulate,
        (void)scratch;
#endif
}

}  // namespace wtconv::cpu
