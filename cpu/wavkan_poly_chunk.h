#pragma once
// float32 meyer and shannon on a chunk of inputs at once, for cpu/wavkan_chunk.h: the steps of
// the device's polynomial forms (meyer_poly_f32 and shannon_poly_f32 in
// src/common/kan_wavelets.h, on the polynomials of src/common/kan_poly_f32.h) in loops that GCC
// vectorises (omp simd): fminf and fmaxf become comparisons (their NaN rule keeps GCC scalar;
// u is never NaN here, the op rejects it) and the file that includes this one is compiled with
// -fno-trapping-math (else GCC will not turn a comparison between two computed values into a
// select). libm's sin and cos per element had left these two wavelets at 1.4-1.5x the unfused
// composition on 2 cores, where the Gaussian ones reach 13x.
#include <cmath>
#include <cstdint>

#include "common/kan_wavelets.h"

namespace wtconv::cpu {

// meyer_poly_f32 on u[0, n): psi and, with kGrad, dpsi.
template <bool kGrad, int n>
inline void meyer_chunk(const float* __restrict u, float* __restrict psi, float* __restrict dpsi) {
    constexpr float pi = detail::KanConst<float>::kPi;
#pragma omp simd
    for (int k = 0; k < n; ++k) {
        const float x = u[k];
        const float ax = std::fabs(x);
        const float v = ax < 1.0f ? ax : 1.0f;
        const float rest = 1.0f - v;                              // exact from v = 1/2
        const float s = detail::sinpi_poly(v < rest ? v : rest);  // sin(pi v)
        const float t = fmaf(2.0f, v, -1.0f);
        const float t0 = t > 0.0f ? t : 0.0f;
        const float mirrored = 1.0f - t;
        const float tt = t0 < mirrored ? t0 : mirrored;
        const float tt2 = tt * tt;
        const float half_nu =
            tt2 * tt2 * fmaf(fmaf(fmaf(-10.0f, tt, 35.0f), tt, -42.0f), tt, 17.5f);
        const float sin_half = detail::sinpi_quarter_poly(half_nu);
        const float cos_half = detail::cospi_quarter_poly(half_nu);
        const float m = t > 0.5f ? sin_half : cos_half;
        psi[k] = s * m;
        if constexpr (kGrad) {
            const float sin_angle = t > 0.5f ? cos_half : sin_half;
            const float c = detail::sinpi_poly(0.5f - v);  // cos(pi v)
            const float w = 1.0f - tt;
            const float dnu = tt2 * tt * (w * w * w);
            constexpr float minus_140_pi = -439.822968f;
            const float dm = minus_140_pi * sin_angle * dnu;
            const float g = fmaf(pi * c, m, s * dm);
            const float positive = x > 0.0f ? g : 0.0f;  // sgn(0) = 0
            dpsi[k] = x < 0.0f ? -g : positive;
        }
    }
}

// shannon_poly_f32 on u[0, n), window[k] its inputs' Hamming weights.
template <bool kGrad, int n>
inline void shannon_chunk(const float* __restrict u,
                          const float* __restrict window,
                          float* __restrict psi,
                          float* __restrict dpsi) {
    constexpr float round_bias = 12582912.0f;  // 1.5 2^23
    constexpr float two_over_pi = 0.636619747f;
    constexpr float pio2_hi = 1.57079637f;
    constexpr float pio2_lo = -4.37113883e-08f;
#pragma omp simd
    for (int k = 0; k < n; ++k) {
        const float x = u[k];
        const float a = std::fabs(x);
        const float ar = a < detail::kShannonReduceMax ? a : detail::kShannonReduceMax;
        const float j = fmaf(ar, two_over_pi, round_bias);
        const float nq = j - round_bias;
        const float r = fmaf(-nq, pio2_lo, fmaf(-nq, pio2_hi, ar));
        const std::uint32_t q = detail::float_bits(j);  // n mod 4 in its two low bits
        const float sin_r = detail::sin_quarter_poly(r), cos_r = detail::cos_quarter_poly(r);
        const bool odd = (q & 1u) != 0;
        const float s = detail::float_from_bits(detail::float_bits(odd ? cos_r : sin_r) ^
                                                ((q << 30) & 0x80000000u));  // sin a
        const float inv = 1.0f / a;
        const float sinc = s * inv;
        psi[k] = a < 0x1p-12f ? window[k] : window[k] * sinc;
        if constexpr (kGrad) {
            const float c = detail::float_from_bits(detail::float_bits(odd ? sin_r : cos_r) ^
                                                    (((q + 1u) << 30) & 0x80000000u));  // cos a
            const float closed = fmaf(ar, c, -s) * inv * inv;
            const float a2 = a * a;
            float series =
                fmaf(a2, static_cast<float>(1.0 / 518918400), static_cast<float>(-1.0 / 3991680));
            series = fmaf(a2, series, static_cast<float>(1.0 / 45360));
            series = fmaf(a2, series, static_cast<float>(-1.0 / 840));
            series = fmaf(a2, series, static_cast<float>(1.0 / 30));
            series = a * fmaf(a2, series, static_cast<float>(-1.0 / 3));
            const float d = a < detail::KanConst<float>::kShannonSeries ? series : closed;
            dpsi[k] = window[k] * detail::times_sign_of(d, x);
        }
    }
}

}  // namespace wtconv::cpu
