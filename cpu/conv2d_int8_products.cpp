// The int8 conv2d's portable, AVX-512 VNNI and AVX2 products (cpu/conv2d_int8_products.h): VNNI's
// vpdpbusd sums four u8 x s8 products into each int32 lane exactly (no int16 saturation); AVX2's
// vpmaddwd takes taps widened to int16 pairs, two products a lane, exact (vpmaddubsw would
// saturate at 2 x 255 x 128).
#include "cpu/conv2d_int8_products.h"

#include <algorithm>

#if defined(WTCONV_HAVE_VNNI) || defined(WTCONV_HAVE_AVX2_INT8)
#include <immintrin.h>
#endif

namespace wtconv::cpu::int8 {

PackedWeights::PackedWeights(const Conv2dGeometry& g,
                             const std::int8_t* w,
                             bool int16_pairs,
                             int threads)
    : k4((g.k() + 3) / 4) {
    // A group's last row block may reach kAmxRows - 1 rows past O (small Og): zero rows; and
    // AMX's 64-tap tiles read up to 60 bytes past a row's taps (they meet zero taps of the
    // columns there), past the last row too when rows are short (K <= 20): 16 more words.
    const std::int64_t rows = g.o + kAmxRows;
    w4.assign(static_cast<std::size_t>(rows * k4 + 16), 0);
    sum.assign(static_cast<std::size_t>(g.o), 0);
    if (int16_pairs) {
        w2.assign(static_cast<std::size_t>(rows * k4 * 2), 0);
    }
    // Rows in parallel, straight into w4: built serially through a byte copy it took 54 % of the
    // AMX forward at layer4's 3x3 (512 x 4608 taps, every call).
    auto* bytes = reinterpret_cast<std::int8_t*>(w4.data());
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t o = 0; o < g.o; ++o) {
        const std::int8_t* src = w + o * g.k();
        std::int8_t* dst = bytes + o * k4 * 4;
        std::int32_t total = 0;
        for (std::int64_t k = 0; k < g.k(); ++k) {
            dst[k] = src[k];
            total += src[k];
        }
        sum[static_cast<std::size_t>(o)] = total;
        if (int16_pairs) {
            std::int32_t* pairs = w2.data() + o * k4 * 2;
            for (std::int64_t i = 0; i < k4 * 2; ++i) {
                const auto lo = static_cast<std::uint16_t>(static_cast<std::int16_t>(dst[2 * i]));
                const auto hi =
                    static_cast<std::uint16_t>(static_cast<std::int16_t>(dst[2 * i + 1]));
                pairs[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(lo) |
                                                     (static_cast<std::uint32_t>(hi) << 16));
            }
        }
    }
}

// acc (Og, width) = W_group (Og, K) col (K, width), col rows ld apart: plain loops.
void product_portable(const Conv2dGeometry& g,
                      const PackedWeights& pw,
                      std::int64_t gi,
                      const std::uint8_t* col,
                      std::int64_t width,
                      std::uint8_t* /*packed*/,
                      std::int32_t* acc) {
    std::fill(acc, acc + g.og() * width, 0);
    for (std::int64_t r = 0; r < g.og(); ++r) {
        const std::int8_t* w = pw.row(gi * g.og() + r);
        std::int32_t* out = acc + r * width;
        for (std::int64_t k = 0; k < g.k(); ++k) {
            const std::int32_t tap = w[k];
            const std::uint8_t* in = col + k * width;
            for (std::int64_t p = 0; p < width; ++p) {
                out[p] += tap * static_cast<std::int32_t>(in[p]);
            }
        }
    }
}

#if defined(WTCONV_HAVE_VNNI)
void pack_tap_quads(const Conv2dGeometry& g,
                    const std::uint8_t* col,
                    std::int64_t width,
                    std::int64_t k4_rows,
                    std::uint8_t* packed) {
    static const std::uint8_t kZeroRow[kPixels] = {};
    const std::int64_t padded = round_up(width, kPixelBlock);
    for (std::int64_t k4 = 0; k4 < k4_rows; ++k4) {
        std::uint8_t* dst = packed + k4 * padded * 4;
        const std::uint8_t* src[4];
        for (int j = 0; j < 4; ++j) {
            const std::int64_t k = k4 * 4 + j;
            // taps past K are zero: they meet a zero tap, or AMX's read past a weight row
            src[j] = k < g.k() ? col + k * width : kZeroRow;
        }
        // 16 pixels of 4 rows interleaved into 16 quads by two rounds of unpacking. Pixels past
        // the chunk (up to padded) read what follows a row in col (inside its buffer: K rows of
        // at most kPixels bytes, padded <= kPixels) or kZeroRow: computed, never stored.
        for (std::int64_t p = 0; p < padded; p += 16) {
            const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[0] + p));
            const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[1] + p));
            const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[2] + p));
            const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[3] + p));
            const __m128i lo01 = _mm_unpacklo_epi8(r0, r1), hi01 = _mm_unpackhi_epi8(r0, r1);
            const __m128i lo23 = _mm_unpacklo_epi8(r2, r3), hi23 = _mm_unpackhi_epi8(r2, r3);
            auto* out = reinterpret_cast<__m128i*>(dst + p * 4);
            _mm_storeu_si128(out, _mm_unpacklo_epi16(lo01, lo23));
            _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(lo01, lo23));
            _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(hi01, hi23));
            _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(hi01, hi23));
        }
    }
}

// The same product by vpdpbusd on pack_tap_quads' layout, 8 channels x 32 pixels per block in 16
// zmm accumulators.
void product_vnni(const Conv2dGeometry& g,
                  const PackedWeights& pw,
                  std::int64_t gi,
                  const std::uint8_t* col,
                  std::int64_t width,
                  std::uint8_t* packed,
                  std::int32_t* acc) {
    const std::int64_t padded = round_up(width, kPixelBlock);
    pack_tap_quads(g, col, width, pw.k4, packed);
    // Blocks of kTapBlock x 4 taps: the block's columns (kTapBlock x 32 pixels, 8 kB) stay in L1
    // while every row block passes over them, and the block's weights (Og x kTapBlock int32) in
    // L2 across the pixel blocks; partial sums wait in acc between tap blocks.
    constexpr std::int64_t kTapBlock = 64;
    for (std::int64_t kb = 0; kb < pw.k4; kb += kTapBlock) {
        const std::int64_t ke = std::min(pw.k4, kb + kTapBlock);
        for (std::int64_t p0 = 0; p0 < padded; p0 += kPixelBlock) {
            const std::int64_t n = std::min(kPixelBlock, width - p0);
            for (std::int64_t r0 = 0; r0 < g.og(); r0 += kRowBlock) {
                const std::int32_t* w = pw.w4.data() + (gi * g.og() + r0) * pw.k4;
                __m512i a[kRowBlock][2];
                for (auto& row : a) {
                    row[0] = _mm512_setzero_si512();
                    row[1] = _mm512_setzero_si512();
                }
                for (std::int64_t k4 = kb; k4 < ke; ++k4) {
                    const std::uint8_t* b = packed + (k4 * padded + p0) * 4;
                    const __m512i b0 = _mm512_loadu_si512(b);
                    const __m512i b1 = _mm512_loadu_si512(b + 64);
                    for (int r = 0; r < kRowBlock; ++r) {
                        const __m512i tap = _mm512_set1_epi32(w[r * pw.k4 + k4]);
                        a[r][0] = _mm512_dpbusd_epi32(a[r][0], b0, tap);
                        a[r][1] = _mm512_dpbusd_epi32(a[r][1], b1, tap);
                    }
                }
                // Rows past Og (zero padding of the weights) and pixels past width are dropped.
                const std::int64_t rows = std::min<std::int64_t>(kRowBlock, g.og() - r0);
                alignas(64) std::int32_t lanes[kPixelBlock];
                for (std::int64_t r = 0; r < rows; ++r) {
                    _mm512_store_si512(lanes, a[r][0]);
                    _mm512_store_si512(lanes + 16, a[r][1]);
                    std::int32_t* out = acc + (r0 + r) * width + p0;
                    for (std::int64_t q = 0; q < n; ++q) {
                        out[q] = kb == 0 ? lanes[q] : out[q] + lanes[q];
                    }
                }
            }
        }
    }
}
#endif

#if defined(WTCONV_HAVE_AVX2_INT8)
// The same product by vpmaddwd: col repacked as int16 pairs, ((k4 * 2, pixel, 2) values: each
// int32 lane one pixel's two consecutive taps), the weights as matching int16 pairs; 6 channels x
// 16 pixels per block in 12 ymm accumulators.
constexpr std::int64_t kAvx2Rows = 6;     // <= kRowBlock: PackedWeights' zero rows cover a block
constexpr std::int64_t kAvx2Pixels = 16;  // two ymm of 8 int32 lanes
void product_avx2(const Conv2dGeometry& g,
                  const PackedWeights& pw,
                  std::int64_t gi,
                  const std::uint8_t* col,
                  std::int64_t width,
                  std::uint8_t* packed_bytes,
                  std::int32_t* acc) {
    const std::int64_t pairs = pw.k4 * 2;
    const std::int64_t padded = round_up(width, kAvx2Pixels);
    auto* packed = reinterpret_cast<std::int16_t*>(packed_bytes);
    for (std::int64_t k2 = 0; k2 < pairs; ++k2) {
        std::int16_t* dst = packed + k2 * padded * 2;
        for (int j = 0; j < 2; ++j) {
            const std::int64_t k = k2 * 2 + j;
            const std::uint8_t* src = k < g.k() ? col + k * width : nullptr;
            for (std::int64_t p = 0; p < padded; ++p) {
                // taps past K meet zero weights; pixels past the chunk are computed, never stored
                dst[p * 2 + j] = src != nullptr && p < width ? src[p] : 0;
            }
        }
    }
    // Blocks of kTapBlock pairs: their columns (kTapBlock x 16 pixels x 4 bytes, 8 kB) stay in L1
    // while every row block passes over them; partial sums wait in acc between tap blocks.
    constexpr std::int64_t kTapBlock = 128;
    for (std::int64_t kb = 0; kb < pairs; kb += kTapBlock) {
        const std::int64_t ke = std::min(pairs, kb + kTapBlock);
        for (std::int64_t p0 = 0; p0 < padded; p0 += kAvx2Pixels) {
            const std::int64_t n = std::min(kAvx2Pixels, width - p0);
            for (std::int64_t r0 = 0; r0 < g.og(); r0 += kAvx2Rows) {
                const std::int32_t* w = pw.w2.data() + (gi * g.og() + r0) * pairs;
                __m256i a[kAvx2Rows][2];
                for (auto& row : a) {
                    row[0] = _mm256_setzero_si256();
                    row[1] = _mm256_setzero_si256();
                }
                for (std::int64_t k2 = kb; k2 < ke; ++k2) {
                    const std::int16_t* b = packed + (k2 * padded + p0) * 2;
                    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
                    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
                    for (int r = 0; r < kAvx2Rows; ++r) {
                        const __m256i tap = _mm256_set1_epi32(w[r * pairs + k2]);
                        a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(b0, tap));
                        a[r][1] = _mm256_add_epi32(a[r][1], _mm256_madd_epi16(b1, tap));
                    }
                }
                // Rows past Og (zero padding of the weights) and pixels past width are dropped.
                const std::int64_t rows = std::min<std::int64_t>(kAvx2Rows, g.og() - r0);
                alignas(32) std::int32_t lanes[kAvx2Pixels];
                for (std::int64_t r = 0; r < rows; ++r) {
                    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a[r][0]);
                    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 8), a[r][1]);
                    std::int32_t* out = acc + (r0 + r) * width + p0;
                    for (std::int64_t q = 0; q < n; ++q) {
                        out[q] = kb == 0 ? lanes[q] : out[q] + lanes[q];
                    }
                }
            }
        }
    }
}
#endif

}  // namespace wtconv::cpu::int8
