// Img2colPanels: the block's taps one after another, each written across all the panels in the
// pieces of cpu/img2col.h's for_tap_pieces. The copies are a few dozen floats (a piece ends at an
// output row or a panel edge): inline vector code, not library calls.

#include "cpu/img2col_panels.h"

#include <algorithm>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cpu/conv2d_columns.h"
#include "cpu/img2col.h"

namespace wtconv::cpu {

namespace {

constexpr std::int64_t kCols = SgemmShape::kCols;

// The runs below may write whole vectors past their end, up to `room` floats from dst: the rest
// of the panel row, whose later columns the same tap writes afterwards (columns go in increasing
// order). AVX2's masked stores would avoid that, but nearly every run has a tail (rows of 56 or 112
// columns cut at panel edges of 32) and masked tails made the forward slower on an AMD EPYC (stem
// 67.7 -> 69.9 ms, layer1 59.9 -> 62.5).
void zero_run(float* dst, std::int64_t room, std::int64_t count) {
    std::int64_t i = 0;
#if defined(__AVX2__)
    for (; i < count && i + 8 <= room; i += 8) {
        _mm256_storeu_ps(dst + i, _mm256_setzero_ps());
    }
#else
    (void)room;
#endif
    for (; i < count; ++i) {
        dst[i] = 0.0f;
    }
}

// dst[i] = src[i stride] for i < count; src has `readable` floats up to the end of x.
void copy_run(float* dst,
              std::int64_t room,
              const float* src,
              std::int64_t readable,
              std::int64_t count,
              std::int64_t stride) {
    std::int64_t i = 0;
#if defined(__AVX2__)
    if (stride == 1) {
        for (; i < count && i + 8 <= room && i + 8 <= readable; i += 8) {
            _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
        }
    } else if (stride == 2) {
        // 16 consecutive floats give 8 of the run.
        for (; i < count && i + 8 <= room && 2 * i + 16 <= readable; i += 8) {
            const __m256 lo = _mm256_loadu_ps(src + 2 * i);
            const __m256 hi = _mm256_loadu_ps(src + 2 * i + 8);
            const __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            const __m256d ordered =
                _mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0));
            _mm256_storeu_ps(dst + i, _mm256_castpd_ps(ordered));
        }
    }
#else
    (void)room, (void)readable;
#endif
    for (; i < count; ++i) {
        dst[i] = src[i * stride];
    }
}

// Row k of a block's panels, addressed by column: column col at panel col / kCols, entry col %
// kCols; runs are cut where they cross into the next panel.
class PanelRow {
public:
    PanelRow(float* out, std::int64_t kc, std::int64_t k, const float* x_end)
        : row_(out + k * kCols), panel_(kCols * kc), x_end_(x_end) {}

    void zero(std::int64_t col, std::int64_t count) const {
        while (count > 0) {
            const std::int64_t room = kCols - col % kCols;
            const std::int64_t piece = std::min(count, room);
            zero_run(at(col), room, piece);
            col += piece;
            count -= piece;
        }
    }
    // Columns [col, col + count) = src[i stride].
    void copy(std::int64_t col, const float* src, std::int64_t count, std::int64_t stride) const {
        while (count > 0) {
            const std::int64_t room = kCols - col % kCols;
            const std::int64_t piece = std::min(count, room);
            copy_run(at(col), room, src, x_end_ - src, piece, stride);
            col += piece;
            count -= piece;
            if (count > 0) {
                src += piece * stride;
            }
        }
    }

private:
    float* at(std::int64_t col) const { return row_ + col / kCols * panel_ + col % kCols; }

    float* row_;
    std::int64_t panel_;
    const float* x_end_;
};

}  // namespace

// Tap by tap, each sweeping the chunk's output rows in order: x is read a row at a time, as the
// hardware prefetcher likes (panel by panel, every tap opened another input plane).
void Img2colPanels::pack(std::int64_t k0, std::int64_t kc, float* out) const {
    const auto& g = g_;
    const std::int64_t width = c1_ - c0_;
    const std::int64_t padded = (width + kCols - 1) / kCols * kCols;
    const std::int64_t window = static_cast<std::int64_t>(g.kh) * g.kw;
    const float* const x_end = x_ + g.n * g.c * g.hw();
    for (std::int64_t k = 0; k < kc; ++k) {
        const std::int64_t tap = k0 + k;
        const std::int64_t c = tap / window;
        const int i = static_cast<int>(tap - c * window) / g.kw;
        const int j = static_cast<int>(tap - c * window) % g.kw;
        const std::int64_t offset = static_cast<std::int64_t>(j) * g.dw - g.pw;
        const PanelRow row(out, kc, k, x_end);
        for_each_image(
            g, c0_, c1_, [&](std::int64_t n, std::int64_t p0, std::int64_t p1, std::int64_t at) {
                const float* plane = x_ + (n * g.c + group_ * g.cg() + c) * g.hw();
                detail_img2col::for_tap_pieces(
                    g, i, j, p0, p1,
                    [&](std::int64_t col, std::int64_t count) { row.zero(at + col, count); },
                    [&](std::int64_t col, std::int64_t ih, std::int64_t q0, std::int64_t count) {
                        // plane[ih W + q sw + offset], never before the row
                        row.copy(at + col, plane + ih * g.w + (q0 * g.sw + offset), count, g.sw);
                    });
            });
        row.zero(width, padded - width);
    }
}

}  // namespace wtconv::cpu
