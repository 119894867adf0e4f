// int8 conv2d on the CPU (COMPRESSION.md 3.5): uint8 img2col padded with the input's zero point,
// an int32 product with int8 weights, the zero-point term subtracted as z_x times each weight
// row's sum, and float32 requantisation. Three products: AVX-512 VNNI (vpdpbusd sums four
// u8 x s8 products into each int32 lane exactly, no int16 saturation), AVX2 (vpmaddwd on taps
// widened to int16 pairs: two products a lane, exact; vpmaddubsw would saturate at 2 x 255 x 128)
// and plain int32 loops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <omp.h>
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#define WTCONV_HAVE_VNNI 1
#endif
#if defined(__AVX2__)
#define WTCONV_HAVE_AVX2_INT8 1
#endif
#if defined(WTCONV_HAVE_VNNI) || defined(WTCONV_HAVE_AVX2_INT8)
#include <immintrin.h>
#endif

#include "cpu/img2col.h"
#include "cpu/parallel.h"
#include "ops/conv2d_backends.h"

namespace wtconv::cpu {

namespace {

using detail::Conv2dGeometry;

// Pixels per work item, a multiple of the VNNI kernel's 32-pixel block.
constexpr std::int64_t kPixels = 256;
constexpr std::int64_t kPixelBlock = 32;  // two zmm of 16 int32 lanes
constexpr std::int64_t kRowBlock = 8;     // output channels per VNNI block: 16 accumulators

#if defined(WTCONV_HAVE_VNNI) || defined(WTCONV_HAVE_AVX2_INT8)
std::int64_t round_up(std::int64_t v, std::int64_t m) {
    return (v + m - 1) / m * m;
}
#endif

// x rounded to nearest even, the zero point added, clamped; NaN maps to the zero point.
inline std::uint8_t quantize_one(float x, float inv, std::int32_t zero, float lo, float hi) {
    const float t = x * inv;  // multiply by the reciprocal, as PyTorch does
    float q = std::nearbyint(t) + static_cast<float>(zero);
    if (std::isnan(q)) {
        q = static_cast<float>(zero);
    }
    return static_cast<std::uint8_t>(std::clamp(q, lo, hi));
}

// The weights of one layer, ready for both products: rows padded to a multiple of 4 taps (and,
// for VNNI, of kRowBlock channels) with zeros, and each row's sum.
struct PackedWeights {
    std::int64_t k4;                // taps / 4, rounded up
    std::vector<std::int32_t> w4;   // (O rounded to kRowBlock, k4): 4 int8 taps per int32
    std::vector<std::int32_t> sum;  // (O): sum of a row's taps
    std::vector<std::int32_t> w2;   // (O rounded to kRowBlock, 2 k4): 2 int16 taps per int32
    PackedWeights(const Conv2dGeometry& g, const std::int8_t* w) : k4((g.k() + 3) / 4) {
        // A group's last row block may reach kRowBlock - 1 rows past O (small Og): zero rows.
        const std::int64_t rows = g.o + kRowBlock;
        std::vector<std::int8_t> bytes(static_cast<std::size_t>(rows * k4 * 4), 0);
        sum.assign(static_cast<std::size_t>(g.o), 0);
        for (std::int64_t o = 0; o < g.o; ++o) {
            for (std::int64_t k = 0; k < g.k(); ++k) {
                bytes[o * k4 * 4 + k] = w[o * g.k() + k];
                sum[o] += w[o * g.k() + k];
            }
        }
        w4.resize(static_cast<std::size_t>(rows * k4));
        std::memcpy(w4.data(), bytes.data(), bytes.size());
        w2.resize(static_cast<std::size_t>(rows * k4 * 2));
        for (std::size_t i = 0; i < w2.size(); ++i) {
            const auto lo = static_cast<std::uint16_t>(static_cast<std::int16_t>(bytes[2 * i]));
            const auto hi = static_cast<std::uint16_t>(static_cast<std::int16_t>(bytes[2 * i + 1]));
            w2[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(lo) |
                                              (static_cast<std::uint32_t>(hi) << 16));
        }
    }
    const std::int8_t* row(std::int64_t o) const {
        return reinterpret_cast<const std::int8_t*>(w4.data() + o * k4);
    }
};

// acc (Og, width) = W_group (Og, K) col (K, width), col rows ld apart: plain loops.
void product_portable(const Conv2dGeometry& g,
                      const PackedWeights& pw,
                      std::int64_t gi,
                      const std::uint8_t* col,
                      std::int64_t width,
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
// The same product by vpdpbusd: col repacked so each int32 lane holds one pixel's 4 consecutive
// taps, ((k4, pixel, 4) bytes), 8 channels x 32 pixels per block in 16 zmm accumulators.
void product_vnni(const Conv2dGeometry& g,
                  const PackedWeights& pw,
                  std::int64_t gi,
                  const std::uint8_t* col,
                  std::int64_t width,
                  std::uint8_t* packed,
                  std::int32_t* acc) {
    const std::int64_t padded = round_up(width, kPixelBlock);
    for (std::int64_t k4 = 0; k4 < pw.k4; ++k4) {
        std::uint8_t* dst = packed + k4 * padded * 4;
        for (int j = 0; j < 4; ++j) {
            const std::int64_t k = k4 * 4 + j;
            if (k < g.k()) {
                const std::uint8_t* src = col + k * width;
                for (std::int64_t p = 0; p < width; ++p) {
                    dst[p * 4 + j] = src[p];
                }
            } else {
                for (std::int64_t p = 0; p < width; ++p) {
                    dst[p * 4 + j] = 0;  // meets a zero weight tap
                }
            }
            for (std::int64_t p = width; p < padded; ++p) {
                dst[p * 4 + j] = 0;  // pixels past the chunk: computed, never stored
            }
        }
    }
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

template <class Product>
void forward(Context& ctx,
             const Conv2dGeometry& g,
             const Tensor& x_q,
             const Conv2dInt8Weights& w,
             const Conv2dInt8Params& p,
             Tensor& y_q,
             Product&& product) {
    const PackedWeights pw(g, w.weight.data<std::int8_t>());
    const std::int64_t chunks = (g.p() + kPixels - 1) / kPixels;
    const std::int64_t items = g.n * g.groups * chunks;
    const int threads = static_cast<int>(
        std::max<std::int64_t>(1, std::min<std::int64_t>(ctx.num_threads(), items)));
    const std::size_t col_bytes = scratch_round<std::uint8_t>(pw.k4 * 4 * kPixels);
    const std::size_t acc_bytes = scratch_round<std::int32_t>(g.og() * kPixels) * 4;
    // col (bytes), then the product's repacked copy (int16 pairs for AVX2: twice the bytes)
    const std::size_t per_thread = 3 * col_bytes + acc_bytes;
    auto* scratch = static_cast<std::uint8_t*>(ctx.host_workspace(per_thread * threads));
    const std::uint8_t* x = x_q.data<std::uint8_t>();
    const float* scale_w = w.weight_scale.data<float>();
    const float* bias = w.bias.defined() ? w.bias.data<float>() : nullptr;
    std::uint8_t* y = y_q.data<std::uint8_t>();
    const float s_x = p.input.scale;
    const std::int32_t z_x = p.input.zero_point;
    const float inv_y = 1.0f / p.output.scale;
    const float lo = static_cast<float>(p.relu ? p.output.zero_point : p.output.quant_min);
    const float hi = static_cast<float>(p.output.quant_max);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t item = 0; item < items; ++item) {
        const std::int64_t chunk = item % chunks;
        const std::int64_t gi = item / chunks % g.groups;
        const std::int64_t n = item / chunks / g.groups;
        const std::int64_t p0 = chunk * kPixels;
        const std::int64_t width = std::min(g.p(), p0 + kPixels) - p0;
        std::uint8_t* col = scratch + per_thread * omp_get_thread_num();
        std::uint8_t* packed = col + col_bytes;
        auto* acc = reinterpret_cast<std::int32_t*>(packed + 2 * col_bytes);
        img2col(g, x + (n * g.c + gi * g.cg()) * g.hw(), p0, p0 + width, col, width,
                static_cast<std::uint8_t>(z_x));
        product(g, pw, gi, static_cast<const std::uint8_t*>(col), width, packed, acc);
        for (std::int64_t r = 0; r < g.og(); ++r) {
            const std::int64_t o = gi * g.og() + r;
            const std::int32_t offset = z_x * pw.sum[o];
            const float m = s_x * scale_w[o];
            const float b = bias != nullptr ? bias[o] : 0.0f;
            std::uint8_t* out = y + (n * g.o + o) * g.p() + p0;
            for (std::int64_t q = 0; q < width; ++q) {
                const float v = static_cast<float>(acc[r * width + q] - offset) * m + b;
                out[q] = quantize_one(v, inv_y, p.output.zero_point, lo, hi);
            }
        }
    }
}

}  // namespace

bool conv2d_int8_avx2_available() {
#if defined(WTCONV_HAVE_AVX2_INT8)
    return __builtin_cpu_supports("avx2") != 0;
#else
    return false;
#endif
}

bool conv2d_int8_vnni_available() {
#if defined(WTCONV_HAVE_VNNI)
    return __builtin_cpu_supports("avx512vnni") != 0;
#else
    return false;
#endif
}

void conv2d_int8_forward(Context& ctx,
                         const Conv2dGeometry& g,
                         const Tensor& x_q,
                         const Conv2dInt8Weights& w,
                         const Conv2dInt8Params& p,
                         Conv2dInt8Algo algo,
                         Tensor& y_q) {
    switch (algo) {
        case Conv2dInt8Algo::kVnni:
#if defined(WTCONV_HAVE_VNNI)
            forward(ctx, g, x_q, w, p, y_q, product_vnni);
            return;
#else
            break;  // src/ops/conv2d_int8.cpp never asks for it then
#endif
        case Conv2dInt8Algo::kAvx2:
#if defined(WTCONV_HAVE_AVX2_INT8)
            forward(ctx, g, x_q, w, p, y_q, product_avx2);
            return;
#else
            break;  // src/ops/conv2d_int8.cpp never asks for it then
#endif
        case Conv2dInt8Algo::kDp4a:
            break;  // a CUDA algorithm: src/ops/conv2d_int8.cpp never sends it here
        case Conv2dInt8Algo::kAuto:
        case Conv2dInt8Algo::kPortable:
            forward(ctx, g, x_q, w, p, y_q,
                    [](const Conv2dGeometry& gg, const PackedWeights& pw, std::int64_t gi,
                       const std::uint8_t* col, std::int64_t width, std::uint8_t* /*packed*/,
                       std::int32_t* acc) { product_portable(gg, pw, gi, col, width, acc); });
            return;
    }
}

void quantize_activation(const Tensor& x, const ActivationQuant& q, Tensor& out) {
    const float inv = 1.0f / q.scale;
    const float* in = x.data<float>();
    std::uint8_t* dst = out.data<std::uint8_t>();
    const auto lo = static_cast<float>(q.quant_min);
    const auto hi = static_cast<float>(q.quant_max);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        dst[i] = quantize_one(in[i], inv, q.zero_point, lo, hi);
    }
}

void dequantize_activation(const Tensor& q, const ActivationQuant& quant, Tensor& out) {
    const std::uint8_t* in = q.data<std::uint8_t>();
    float* dst = out.data<float>();
    for (std::int64_t i = 0; i < q.numel(); ++i) {
        dst[i] =
            static_cast<float>(static_cast<std::int32_t>(in[i]) - quant.zero_point) * quant.scale;
    }
}

void quantize_conv2d_weights(const Tensor& w, const Tensor& scale, Tensor& out) {
    const float* in = w.data<float>();
    const float* s = scale.data<float>();
    std::int8_t* dst = out.data<std::int8_t>();
    const std::int64_t per_channel = w.numel() / w.size(0);
    for (std::int64_t i = 0; i < w.numel(); ++i) {
        // Times the float32 reciprocal, as the weights' fake quantiser in training computes.
        const float inv = 1.0f / s[i / per_channel];
        const float q = std::nearbyint(in[i] * inv);
        dst[i] = std::isnan(q) ? 0 : static_cast<std::int8_t>(std::clamp(q, -128.0f, 127.0f));
    }
}

}  // namespace wtconv::cpu
