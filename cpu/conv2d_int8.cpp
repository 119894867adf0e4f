// int8 conv2d on the CPU (COMPRESSION.md 3.5): uint8 img2col padded with the input's zero point,
// an int32 product with int8 weights (AMX, AVX-512 VNNI, AVX2 or plain loops:
// cpu/conv2d_int8_products.h), the zero-point term subtracted as z_x times each weight row's
// sum, and float32 requantisation.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <omp.h>

#include "cpu/conv2d_int8_products.h"
#if defined(WTCONV_HAVE_VNNI)
#include <immintrin.h>
#endif

#include "cpu/img2col.h"
#include "cpu/parallel.h"
#include "ops/conv2d_backends.h"

namespace wtconv::cpu {

namespace {

using namespace int8;  // the products and their layout

// x rounded to nearest even, the zero point added, clamped; NaN maps to the zero point.
inline std::uint8_t quantize_one(float x, float inv, std::int32_t zero, float lo, float hi) {
    const float t = x * inv;  // multiply by the reciprocal, as PyTorch does
    float q = std::nearbyint(t) + static_cast<float>(zero);
    if (std::isnan(q)) {
        q = static_cast<float>(zero);
    }
    return static_cast<std::uint8_t>(std::clamp(q, lo, hi));
}

// One output channel's requantisation: y_q = quantize(fl32(fl32(acc - offset) m) + b), the
// rounding of every step as the scalar form (this file is compiled without FMA contraction).
struct Requantizer {
    std::int32_t offset;  // z_x times the weight row's sum
    float m;              // s_x s_w
    float b;
    float inv_y;
    std::int32_t zero;
    float lo, hi;

    float value(std::int32_t sum) const { return static_cast<float>(sum - offset) * m + b; }

    void row(const std::int32_t* acc, std::int64_t width, std::uint8_t* out) const {
        std::int64_t q = 0;
#if defined(WTCONV_HAVE_VNNI)
        const __m512i off = _mm512_set1_epi32(offset);
        const __m512 mv = _mm512_set1_ps(m), bv = _mm512_set1_ps(b), inv = _mm512_set1_ps(inv_y);
        const __m512 zv = _mm512_set1_ps(static_cast<float>(zero));
        const __m512 lov = _mm512_set1_ps(lo), hiv = _mm512_set1_ps(hi);
        // NaN can only come from a NaN or infinite scale or bias; only then does the row pay
        // for the test that maps it to the zero point
        const bool finite = std::isfinite(m) && std::isfinite(b) && std::isfinite(inv_y);
        const auto requantize = [&](__m512i sums) {
            const __m512i a = _mm512_sub_epi32(sums, off);
            const __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), mv), bv);
            const __m512 t = _mm512_roundscale_ps(_mm512_mul_ps(v, inv),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512 y = _mm512_add_ps(t, zv);
            if (!finite) {
                y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(y, y, _CMP_UNORD_Q), y, zv);
            }
            y = _mm512_min_ps(_mm512_max_ps(y, lov), hiv);
            return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(y));
        };
        for (; q + 16 <= width; q += 16) {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + q),
                             requantize(_mm512_loadu_si512(acc + q)));
        }
        if (q < width) {  // the last few by masks: small images' rows (7 x 7: 49 outputs) end so
            const auto mask = static_cast<__mmask16>((1u << (width - q)) - 1);
            _mm_mask_storeu_epi8(out + q, mask,
                                 requantize(_mm512_maskz_loadu_epi32(mask, acc + q)));
            q = width;
        }
#endif
        for (; q < width; ++q) {
            out[q] = quantize_one(value(acc[q]), inv_y, zero, lo, hi);
        }
    }
};

// Columns a work item takes: kPixels, or fewer where few items would leave threads idle at the
// end (layer4 at batch 32: 1568 pixels, 7 items of 256 for 2 threads; 8 of 208 instead). A
// multiple of 16, AMX's pixel tile; at most kPixels, which the scratch is sized for.
std::int64_t chunk_width(std::int64_t total, std::int64_t groups, int threads) {
    std::int64_t per_group = (total + kPixels - 1) / kPixels;
    if (total == 0 || threads <= 1 || groups * per_group >= 8 * threads) {
        return kPixels;
    }
    while ((groups * per_group) % threads != 0) {
        ++per_group;
    }
    return std::min(kPixels, round_up((total + per_group - 1) / per_group, 16));
}

template <class Product>
void forward(Context& ctx,
             const Conv2dGeometry& g,
             const Tensor& x_q,
             const Conv2dInt8Weights& w,
             const Conv2dInt8Params& p,
             Tensor& y_q,
             Product&& product,
             bool int16_pairs = false) {
    const PackedWeights pw(g, w.weight.data<std::int8_t>(), int16_pairs, ctx.num_threads());
    // Chunks of kPixels columns over a group's pixels of the whole batch, (n, p) in order: small
    // images (7x7: 49 pixels) share a chunk instead of each padding a block of its own.
    const std::int64_t total = g.n * g.p();
    const std::int64_t chunk = chunk_width(total, g.groups, ctx.num_threads());
    const std::int64_t chunks = (total + chunk - 1) / chunk;
    const std::int64_t items = g.groups * chunks;
    const int threads = static_cast<int>(
        std::max<std::int64_t>(1, std::min<std::int64_t>(ctx.num_threads(), items)));
    const std::size_t col_bytes = scratch_round<std::uint8_t>(pw.k4 * 4 * kPixels);
    const std::size_t acc_bytes = scratch_round<std::int32_t>(g.og() * kPixels) * 4;
    // col (bytes), then the product's repacked copy (int16 pairs for AVX2: twice the bytes; AMX:
    // tap rows rounded up to whole tiles)
    const std::size_t packed_bytes = std::max(
        2 * col_bytes, scratch_round<std::uint8_t>(round_up(pw.k4, kAmxTapRows) * 4 * kPixels));
    const std::size_t per_thread = col_bytes + packed_bytes + acc_bytes;
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
        const std::int64_t gi = item / chunks;
        const std::int64_t c0 = item % chunks * chunk;
        const std::int64_t width = std::min(total, c0 + chunk) - c0;
        // fn(n, b, e, at): image n's pixels [b, e) are the chunk's columns from at
        const auto for_images = [&](auto&& fn) {
            for (std::int64_t at = 0; at < width;) {
                const std::int64_t n = (c0 + at) / g.p(), b = (c0 + at) % g.p();
                const std::int64_t e = std::min(g.p(), b + (width - at));
                fn(n, b, e, at);
                at += e - b;
            }
        };
        std::uint8_t* col = scratch + per_thread * omp_get_thread_num();
        std::uint8_t* packed = col + col_bytes;
        auto* acc = reinterpret_cast<std::int32_t*>(packed + packed_bytes);
        for_images([&](std::int64_t n, std::int64_t b, std::int64_t e, std::int64_t at) {
            img2col(g, x + (n * g.c + gi * g.cg()) * g.hw(), b, e, col + at, width,
                    static_cast<std::uint8_t>(z_x));
        });
        product(g, pw, gi, static_cast<const std::uint8_t*>(col), width, packed, acc);
        for (std::int64_t r = 0; r < g.og(); ++r) {
            const std::int64_t o = gi * g.og() + r;
            const Requantizer rq{z_x * pw.sum[o],
                                 s_x * scale_w[o],
                                 bias != nullptr ? bias[o] : 0.0f,
                                 inv_y,
                                 p.output.zero_point,
                                 lo,
                                 hi};
            for_images([&](std::int64_t n, std::int64_t b, std::int64_t e, std::int64_t at) {
                rq.row(acc + r * width + at, e - b, y + (n * g.o + o) * g.p() + b);
            });
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

bool conv2d_int8_amx_available() {
#if defined(WTCONV_HAVE_AMX)
    return amx_usable();
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
        case Conv2dInt8Algo::kAmx:
#if defined(WTCONV_HAVE_AMX)
            forward(ctx, g, x_q, w, p, y_q, product_amx);
            return;
#else
            break;  // src/ops/conv2d_int8.cpp never asks for it then
#endif
        case Conv2dInt8Algo::kVnni:
#if defined(WTCONV_HAVE_VNNI)
            forward(ctx, g, x_q, w, p, y_q, product_vnni);
            return;
#else
            break;  // src/ops/conv2d_int8.cpp never asks for it then
#endif
        case Conv2dInt8Algo::kAvx2:
#if defined(WTCONV_HAVE_AVX2_INT8)
            forward(ctx, g, x_q, w, p, y_q, product_avx2, true);
            return;
#else
            break;  // src/ops/conv2d_int8.cpp never asks for it then
#endif
        case Conv2dInt8Algo::kDp4a:
            break;  // a CUDA algorithm: src/ops/conv2d_int8.cpp never sends it here
        case Conv2dInt8Algo::kAuto:
        case Conv2dInt8Algo::kPortable:
            forward(ctx, g, x_q, w, p, y_q, product_portable);
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
