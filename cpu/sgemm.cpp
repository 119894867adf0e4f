// The float32 GEMM of cpu/sgemm.h: packing, the AVX-512 12 x 32 micro-kernel and, on CPUs with
// AVX2 and FMA only, the same 12 x 32 block as four 6 x 16 AVX2 kernels.
#include "cpu/sgemm.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#define WTCONV_SGEMM_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define WTCONV_SGEMM_AVX2 1
#endif

namespace wtconv::cpu {

namespace {

constexpr std::int64_t kRows = SgemmShape::kRows;
constexpr std::int64_t kCols = SgemmShape::kCols;
constexpr std::int64_t kDepth = SgemmShape::kDepth;

std::int64_t round_up(std::int64_t v, std::int64_t m) {
    return (v + m - 1) / m * m;
}

#if defined(WTCONV_SGEMM_AVX512)
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
#elif defined(WTCONV_SGEMM_AVX2)
// Lanes [0, n) of 8 set, for masked loads and stores of a row's tail.
__m256i lane_mask(std::int64_t n) {
    const int lanes = static_cast<int>(std::clamp<std::int64_t>(n, 0, 8));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// 16 ymm registers: 6 rows x 16 columns of accumulators (12), two B loads and a broadcast a tap.
constexpr std::int64_t kSubRows = 6, kSubCols = 16;

// c[rows x cols] (+)= rows r0.. of a_panel (kc x 12) times columns c0.. of b_panel (kc x 32).
// Named accumulators, not an array: GCC kept an array in memory and stored it at every tap.
void sub_kernel(std::int64_t kc,
                const float* a,
                const float* b,
                float* c,
                std::int64_t ldc,
                std::int64_t rows,
                std::int64_t cols,
                bool accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (std::int64_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_load_ps(b);
        const __m256 b1 = _mm256_load_ps(b + 8);
        __m256 ar = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(ar, b0, c00);
        c01 = _mm256_fmadd_ps(ar, b1, c01);
        ar = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(ar, b0, c10);
        c11 = _mm256_fmadd_ps(ar, b1, c11);
        ar = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(ar, b0, c20);
        c21 = _mm256_fmadd_ps(ar, b1, c21);
        ar = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(ar, b0, c30);
        c31 = _mm256_fmadd_ps(ar, b1, c31);
        ar = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(ar, b0, c40);
        c41 = _mm256_fmadd_ps(ar, b1, c41);
        ar = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(ar, b0, c50);
        c51 = _mm256_fmadd_ps(ar, b1, c51);
        a += kRows;
        b += kCols;
    }
    const __m256i m0 = lane_mask(cols);
    const __m256i m1 = lane_mask(cols - 8);
    const bool full = cols >= kSubCols;
    const auto store = [&](std::int64_t r, __m256 v0, __m256 v1) {
        if (r >= rows) {
            return;
        }
        float* out = c + r * ldc;
        // Masked accesses only at the last columns: masked stores are slow on AMD cores (12 a
        // block; unmasked full tiles made the stem's forward 67-68 -> 60-62 ms on an EPYC).
        if (full) {
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(out));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(out + 8));
            }
            _mm256_storeu_ps(out, v0);
            _mm256_storeu_ps(out + 8, v1);
            return;
        }
        if (accumulate) {
            v0 = _mm256_add_ps(v0, _mm256_maskload_ps(out, m0));
            v1 = _mm256_add_ps(v1, _mm256_maskload_ps(out + 8, m1));
        }
        _mm256_maskstore_ps(out, m0, v0);
        _mm256_maskstore_ps(out + 8, m1, v1);
    };
    store(0, c00, c01);
    store(1, c10, c11);
    store(2, c20, c21);
    store(3, c30, c31);
    store(4, c40, c41);
    store(5, c50, c51);
}

// The AVX-512 kernel's block, as 2 x 2 sub-blocks (the panels' layouts are shared).
void micro_kernel(std::int64_t kc,
                  const float* a,
                  const float* b,
                  float* c,
                  std::int64_t ldc,
                  std::int64_t rows,
                  std::int64_t cols,
                  bool accumulate) {
    for (std::int64_t r0 = 0; r0 < rows; r0 += kSubRows) {
        for (std::int64_t c0 = 0; c0 < cols; c0 += kSubCols) {
            sub_kernel(kc, a + r0, b + c0, c + r0 * ldc + c0, ldc, rows - r0, cols - c0,
                       accumulate);
        }
    }
}
#endif

// B (k x n) with element (i, j) at b[i rs + j cs], packed by copying.
class StridedPanels final : public PanelPacker {
public:
    StridedPanels(const float* b, std::int64_t n, std::int64_t rs, std::int64_t cs)
        : b_(b), n_(n), rs_(rs), cs_(cs) {}

    void pack(std::int64_t k0, std::int64_t kc, float* out) const override {
        for (std::int64_t j0 = 0; j0 < n_; j0 += kCols) {
            const std::int64_t cols = std::min(kCols, n_ - j0);
            float* panel = out + j0 * kc;
            for (std::int64_t k = 0; k < kc; ++k) {
                const float* src = b_ + (k0 + k) * rs_ + j0 * cs_;
                float* dst = panel + k * kCols;
                if (cs_ == 1) {
                    std::memcpy(dst, src, static_cast<std::size_t>(cols) * sizeof(float));
                } else {
                    for (std::int64_t j = 0; j < cols; ++j) {
                        dst[j] = src[j * cs_];
                    }
                }
                std::fill(dst + cols, dst + kCols, 0.0f);
            }
        }
    }

private:
    const float* b_;
    std::int64_t n_, rs_, cs_;
};

}  // namespace

bool sgemm_available() {
#if defined(WTCONV_SGEMM_AVX512)
    return __builtin_cpu_supports("avx512f") != 0;
#elif defined(WTCONV_SGEMM_AVX2)
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
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
    sgemm(a, StridedPanels(b, n, rs_b, cs_b), n, c, ldc, accumulate, scratch);
}

void sgemm(const PackedA& a,
           const PanelPacker& b,
           std::int64_t n,
           float* c,
           std::int64_t ldc,
           bool accumulate,
           float* scratch) {
#if defined(WTCONV_SGEMM_AVX512) || defined(WTCONV_SGEMM_AVX2)
    for (std::int64_t k0 = 0; k0 < a.k; k0 += kDepth) {
        const std::int64_t kc = std::min(kDepth, a.k - k0);
        b.pack(k0, kc, scratch);
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
    (void)a, (void)b, (void)n, (void)c, (void)ldc, (void)accumulate, (void)scratch;
#endif
}

}  // namespace wtconv::cpu
