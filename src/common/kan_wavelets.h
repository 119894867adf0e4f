#pragma once
// The Wav-KAN mother wavelets and their derivatives (WAVKAN.md 3.2 and 5), one definition for every
// backend (host and CUDA device code). Each takes u and the input's window (shannon's Hamming
// weight h[i], 1 for the others) and returns psi(u) and d psi / d u together: they share one exp
// (and one sin/cos).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include <wtconv/ops/wavkan.h>

#include "common/kan_poly_f32.h"  // WTCONV_KAN_FN, the float32 polynomials

namespace wtconv::detail {

template <class T>
struct PsiPair {
    T psi;
    T dpsi;
};

template <class T>
struct KanConst {
    static constexpr T kPi = static_cast<T>(3.141592653589793238462643383279502884);
    // 2 / (sqrt(3) pi^(1/4)), the original's mexican hat constant
    static constexpr T kMexicanHat = static_cast<T>(0.8673250705840776);
    // Below this |u| shannon's derivative takes its six-term series (the next term is below
    // 1e-14 of it there); above, the closed form's cancellation costs at most eps / u^2 (2.4e-7 in
    // float32 at 0.5, 3e-15 in float64 at 0.2). WAVKAN.md's 1e-3 / 1e-5 left float32 20 % off
    // at u = 1e-3.
    static constexpr T kShannonSeries = sizeof(T) == 4 ? static_cast<T>(0.5) : static_cast<T>(0.2);
};

// meyer (below) in float32 by the polynomials: psi and, for kGrad, dpsi, with the same formulas and
// cancellation-free forms as the double path. v = min(|u|, 1): v = 1 (and any v >= 1, u = +-inf
// too) then gives psi = dpsi = 0 exactly (r = 0 and tt = 0 below), without a select. NaN u, which
// the op never passes, gives 0. Relative error against the double formula: below 1e-6 of
// max(|value|, 1e-3 of the function's largest value) on all of [-1.5, 1.5], the tail included
// (tests/test_kan_poly_f32.cpp).
template <bool kGrad>
WTCONV_KAN_FN PsiPair<float> meyer_poly_f32(float u) {
    constexpr float pi = KanConst<float>::kPi;
    const float v = kan_min(fabsf(u), 1.0f);
    const float s = sinpi_poly(kan_min(v, 1.0f - v));  // sin(pi v); 1 - v is exact from v = 1/2
    // m = cos(pi/2 nu(t)), t = 2 v - 1 (exact from v = 1/2). Past t = 1/2 the angle is pi/2 less
    // pi/2 nu(1 - t) (nu(t) + nu(1 - t) = 1), 1 - t exact: m and the angle's sine swap to keep
    // their relative digits in the tail. tt = 0 on the flat part (v <= 1/2): m = 1, m' = 0.
    const float t = fmaf(2.0f, v, -1.0f);
    const bool far = t > 0.5f;
    const float tt = kan_min(kan_max(t, 0.0f), 1.0f - t);
    const float tt2 = tt * tt;
    // nu(tt) / 2 = tt^4 (35 - 84 tt + 70 tt^2 - 20 tt^3) / 2, in [0, 1/4]
    const float half_nu = tt2 * tt2 * fmaf(fmaf(fmaf(-10.0f, tt, 35.0f), tt, -42.0f), tt, 17.5f);
    const float sin_half = sinpi_quarter_poly(half_nu);
    const float cos_half = cospi_quarter_poly(half_nu);
    const float m = far ? sin_half : cos_half;
    if constexpr (!kGrad) {
        return {s * m, 0.0f};
    }
    const float sin_angle = far ? cos_half : sin_half;  // sin(pi/2 nu(t))
    const float c = sinpi_poly(0.5f - v);               // cos(pi v); 0.5 - v exact from v = 1/4
    const float w = 1.0f - tt;
    const float dnu = tt2 * tt * (w * w * w);  // nu'(tt) / 140, nu' symmetric about 1/2
    constexpr float minus_140_pi = -439.822968f;
    const float dm = minus_140_pi * sin_angle * dnu;         // m'
    const float g = fmaf(pi * c, m, s * dm);                 // pi cos(pi v) m + sin(pi v) m'
    return {s * m, u == 0.0f ? 0.0f : times_sign_of(g, u)};  // sgn(0) = 0
}

// shannon (below) in float32 by the polynomials, on a = |u| (sinc is even, its derivative odd).
// a = n pi/2 + r, n = rint(a 2/pi) by adding 1.5 2^23 (the integer lands in the low mantissa bits:
// n mod 4 picks sin or cos of r and their signs), r by a two-part pi/2 and FMA (a - n pi/2_hi is
// exact): r is off by at most n 1.8e-15 plus its own rounding, so sin a and cos a keep their
// relative digits near their zeros, and |r| <= pi/4 + 4e-8 a (2/pi's rounding). Reduced up to
// a = 2^20 (r within 1.2e-9); past it the phase is that of 2^20, so psi and dpsi keep their bounds
// window / |u| (below 1e-6 window there) and reach 0 at |u| = inf (1 / a = 0 there). psi = window
// for |u| < 2^-12, where sinc rounds to 1 (this spares u = 0 and 1 / denormal); dpsi by the series
// below kShannonSeries. NaN stays NaN.
constexpr float kShannonReduceMax = 0x1p20f;

template <bool kGrad>
WTCONV_KAN_FN PsiPair<float> shannon_poly_f32(float u, float window) {
    constexpr float round_bias = 12582912.0f;  // 1.5 2^23: float's ulp is 1 from 2^23 on
    constexpr float two_over_pi = 0.636619747f;
    constexpr float pio2_hi = 1.57079637f;
    constexpr float pio2_lo = -4.37113883e-08f;  // pi/2 - pio2_hi, rounded
    const float a = fabsf(u);
    const float ar = kan_min(a, kShannonReduceMax);
    const float j = fmaf(ar, two_over_pi, round_bias);
    const float n = j - round_bias;
    const float r = fmaf(-n, pio2_lo, fmaf(-n, pio2_hi, ar));
    const std::uint32_t q = float_bits(j);  // n mod 4 in its two low bits
    const float sin_r = sin_quarter_poly(r), cos_r = cos_quarter_poly(r);
    const bool odd = (q & 1u) != 0;
    // sin a = sin r, cos r, -sin r, -cos r for n mod 4 = 0 .. 3: the sign is bit 1 of n
    const float s = float_from_bits(float_bits(odd ? cos_r : sin_r) ^ ((q << 30) & 0x80000000u));
    const float inv = rcp_f32(a);
    const float sinc = s * inv;
    const float psi = a < 0x1p-12f ? window : window * sinc;
    if constexpr (!kGrad) {
        return {psi, 0.0f};
    }
    // cos a = cos r, -sin r, -cos r, sin r: the sign is bit 1 of n + 1
    const float c =
        float_from_bits(float_bits(odd ? sin_r : cos_r) ^ (((q + 1u) << 30) & 0x80000000u));
    // (a cos a - sin a) / a^2 by one FMA; with a clamped to ar it stays bounded past 2^20 and is 0
    // at a = inf. Below kShannonSeries its cancellation is avoided by the series (see shannon).
    const float closed = fmaf(ar, c, -s) * inv * inv;
    const float a2 = a * a;
    // the six-term series of shannon below, by FMA
    float series =
        fmaf(a2, static_cast<float>(1.0 / 518918400), static_cast<float>(-1.0 / 3991680));
    series = fmaf(a2, series, static_cast<float>(1.0 / 45360));
    series = fmaf(a2, series, static_cast<float>(-1.0 / 840));
    series = fmaf(a2, series, static_cast<float>(1.0 / 30));
    series = a * fmaf(a2, series, static_cast<float>(-1.0 / 3));
    const float d = a < KanConst<float>::kShannonSeries ? series : closed;
    return {psi, window * times_sign_of(d, u)};
}

// (1/2) log2(e): exp(-u^2 / 2) = 2^-(u^2 kHalfLog2e)
constexpr float kHalfLog2e = 0.72134752044448170368f;

#if defined(__CUDACC__)
// 2^x by the hardware (one special-function instruction; 0 below 2^-126).
__device__ inline float exp2_approx(float x) {
    float e;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(x));
    return e;
}
#endif

#if defined(__CUDA_ARCH__)
// sin(x) and cos(x) on the device without the library's slow path for huge arguments (a call
// whose register saves made the kernels spill): x less n pi/2 by a two-part constant and FMA
// (exact enough for |x| below about 1e3 in float32, 1e6 in float64, which morlet never exceeds:
// exp(-u^2 / 2) > 0 bounds |5 u| by 75 and 195), then sincospi of the remainder, whose reduction
// is exact. Past those bounds the phase loses digits, only where shannon's sin(u) / u is below
// 1e-3 / 1e-6 of its weight. Used by float64 (float32 shannon takes shannon_poly_f32).
template <class T>
__device__ inline void sin_cos(T x, T* s, T* c) {
    constexpr T two_over_pi = static_cast<T>(0.636619772367581343075535053490057448);
    constexpr T pio2_hi = sizeof(T) == 4 ? static_cast<T>(1.57079637050628662109375)
                                         : static_cast<T>(1.5707963267948966192313216916397514);
    constexpr T pio2_lo = sizeof(T) == 4 ? static_cast<T>(-4.37113900018624283e-8)
                                         : static_cast<T>(6.123233995736766035868820147292e-17);
    constexpr T one_over_pi = static_cast<T>(0.318309886183790671537767526745028724);
    const T n = rint(x * two_over_pi);
    T r = fma(-n, pio2_hi, x);
    r = fma(-n, pio2_lo, r);
    T sr, cr;
    sincospi(r * one_over_pi, &sr, &cr);
    const int q = static_cast<int>(n - T(4) * floor(n * T(0.25)));  // n mod 4, exact
    switch (q) {
        case 0:
            *s = sr, *c = cr;
            return;
        case 1:
            *s = cr, *c = -sr;
            return;
        case 2:
            *s = -sr, *c = -cr;
            return;
        default:
            *s = -cr, *c = sr;
            return;
    }
}

// float32 on the device, for the Gaussian wavelets: u clamped to +-kFastClamp (the Gaussian is 0
// there in float32, so psi and dpsi are their limit 0 and no inf * 0 arises), exp(-u^2 / 2) by
// the hardware's 2^x (relative error below 2^-22, plus 2^-24 of the exponent's size from its
// rounding: about 1e-6 where the Gaussian is above 4e-6), sin and cos by the hardware's (absolute
// error 2^-20.5 on |5u| < 100 pi). Instead of the accurate library functions: several times fewer
// instructions, and well inside float32's 1e-5 tolerance. u is never NaN here (the op rejects
// non-finite inputs, and (x - t) / s of finite values is finite or infinite).
constexpr float kFastClamp = 20.0f;

// exp(-u2 / 2) for u2 = u^2 >= 0.
__device__ inline float fast_gaussian_of_square(float u2) {
    return exp2_approx(u2 * -kHalfLog2e);
}

__device__ inline float fast_gaussian(float u) {
    return fast_gaussian_of_square(u * u);
}

__device__ inline float clamp_fast(float u) {
    return fminf(fmaxf(u, -kFastClamp), kFastClamp);
}
#endif

// Every wavelet that multiplies by exp(-u^2 / 2) returns its limit 0 where that underflows, so a
// huge |u| (or an infinite one) gives 0 rather than the original's inf * 0 = NaN. NaN u stays NaN
// on the host; float32 on the device clamps u first, which turns it into 0 (the op rejects NaN
// before any kernel runs unless check_values is off).
// kGrad false: psi only (dpsi returned as 0), which spares morlet and meyer a sin or cos.
template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> mexican_hat(T u) {
#if defined(__CUDA_ARCH__)
    if constexpr (sizeof(T) == 4) {
        const float v = clamp_fast(u), v2 = v * v, e = fast_gaussian(v);
        constexpr float c = KanConst<float>::kMexicanHat;
        return {c * (v2 - 1.0f) * e, kGrad ? c * v * (3.0f - v2) * e : 0.0f};
    }
#endif
    using std::exp;
    const T u2 = u * u;
    const T e = exp(static_cast<T>(-0.5) * u2);
    if (e == T(0)) {
        return {T(0), T(0)};
    }
    constexpr T c = KanConst<T>::kMexicanHat;
    return {c * (u2 - T(1)) * e, kGrad ? c * u * (T(3) - u2) * e : T(0)};
}

template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> morlet(T u) {
#if defined(__CUDA_ARCH__)
    if constexpr (sizeof(T) == 4) {
        const float v = clamp_fast(u), e = fast_gaussian(v);
        float sn, cs;
        __sincosf(5.0f * v, &sn, &cs);
        return {cs * e, kGrad ? -e * (5.0f * sn + v * cs) : 0.0f};
    }
#endif
    using std::cos;
    using std::exp;
    using std::sin;
    const T e = exp(static_cast<T>(-0.5) * u * u);
    if (e == T(0)) {
        return {T(0), T(0)};
    }
#if defined(__CUDA_ARCH__)
    T s, c;
    sin_cos(T(5) * u, &s, &c);
#else
    const T c = cos(T(5) * u);
    const T s = kGrad ? sin(T(5) * u) : T(0);
#endif
    if constexpr (!kGrad) {
        return {c * e, T(0)};
    }
    return {c * e, -e * (T(5) * s + u * c)};
}

template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> dog(T u) {
#if defined(__CUDA_ARCH__)
    if constexpr (sizeof(T) == 4) {
        const float v = clamp_fast(u), e = fast_gaussian(v);
        return {-v * e, kGrad ? (v * v - 1.0f) * e : 0.0f};
    }
#endif
    using std::exp;
    const T u2 = u * u;
    const T e = exp(static_cast<T>(-0.5) * u2);
    if (e == T(0)) {
        return {T(0), T(0)};
    }
    return {-u * e, kGrad ? (u2 - T(1)) * e : T(0)};
}

// sin(pi v) m(v), v = |u|: m = 1 up to 1/2, 0 from 1, cos(pi/2 nu(2v - 1)) between. The derivative
// takes sgn(0) = 0 (the original differentiates |u| so), hence 0 at u = 0.
template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> meyer(T u) {
#if defined(__CUDA_ARCH__)
    if constexpr (sizeof(T) == 4) {
        return meyer_poly_f32<kGrad>(u);
    }
#endif
    using std::fabs;
    constexpr T pi = KanConst<T>::kPi;
    const T v = fabs(u);
    if (v >= T(1)) {  // also u = +-inf
        return {T(0), T(0)};
    }
    const T sign = u > T(0) ? T(1) : (u < T(0) ? T(-1) : T(0));
    // m = cos(pi/2 nu(t)), t = 2 v - 1, nu(t) = t^4 (35 - 84 t + 70 t^2 - 20 t^3). nu(t) + nu(1 -
    // t) = 1, so past t = 1/2 the angle's distance from pi/2 is pi/2 nu(1 - t), with 1 - t = 2 (1 -
    // v) exact: m then comes from a sine of a small angle instead of a cosine near pi/2, which in
    // float32 lost most of its digits (the golden cases' tail of the bump). Likewise sin(pi v)
    // from pi (1 - v) past 1/2. CUDA has sinpi / cospi, whose reduction is exact (and which have
    // no slow path to call, that would make the kernels spill); float32 on the device takes
    // meyer_poly_f32 instead: the same numerics by polynomials, a third fewer instructions.
    const T t = T(2) * v - T(1);
    const bool far = t > static_cast<T>(0.5);
    const T tt = far ? T(2) * (T(1) - v) : t;
    const T tt3 = tt * tt * tt;
    const T nu = tt3 * tt * (T(35) - T(84) * tt + T(70) * tt * tt - T(20) * tt3);
    const T dnu = T(140) * tt3 * (T(1) - tt) * (T(1) - tt) * (T(1) - tt);  // nu' is symmetric
#if defined(__CUDA_ARCH__)
    const T s = sinpi(v);
    const T c = kGrad ? cospi(v) : T(0);
    const T half_nu = nu * static_cast<T>(0.5);
    const T m = v <= static_cast<T>(0.5) ? T(1) : (far ? sinpi(half_nu) : cospi(half_nu));
    const T sin_angle = far ? cospi(half_nu) : sinpi(half_nu);  // sin(pi/2 nu(t))
#else
    using std::cos;
    using std::sin;
    const bool upper = v > static_cast<T>(0.5);
    const T a = pi * (upper ? T(1) - v : v);
    const T s = sin(a);
    const T c = kGrad ? (upper ? -cos(a) : cos(a)) : T(0);
    const T arg = pi / T(2) * nu;
    const T m = v <= static_cast<T>(0.5) ? T(1) : (far ? sin(arg) : cos(arg));
    const T sin_angle = !kGrad || v <= static_cast<T>(0.5) ? T(0) : (far ? cos(arg) : sin(arg));
#endif
    if constexpr (!kGrad) {
        return {s * m, T(0)};
    }
    // m' = 0 on the flat part (v <= 1/2, where t <= 0 and the polynomial is not m's)
    const T dm = v <= static_cast<T>(0.5) ? T(0) : -pi * sin_angle * dnu;
    return {s * m, sign * (pi * c * m + s * dm)};
}

// window * sin(u) / u, with (window, 0) at u = 0 and the limit 0 at |u| = inf.
template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> shannon(T u, T window) {
#if defined(__CUDA_ARCH__)
    if constexpr (sizeof(T) == 4) {
        return shannon_poly_f32<kGrad>(u, window);
    }
#endif
    using std::cos;
    using std::fabs;
    using std::isinf;
    using std::sin;
    if (u == T(0)) {
        return {window, T(0)};
    }
    if (isinf(u)) {
        return {T(0), T(0)};
    }
#if defined(__CUDA_ARCH__)
    T s, c;
    sin_cos(u, &s, &c);
    T inv;
    if constexpr (sizeof(T) == 4) {
        inv = __frcp_rn(u);  // 1 / u correctly rounded, without a division's slow-path call
    } else {
        inv = __drcp_rn(u);
    }
#else
    const T s = sin(u);
    const T c = kGrad ? cos(u) : T(0);
    const T inv = T(1) / u;
#endif
    const T sinc = s * inv;
    if constexpr (!kGrad) {
        return {window * sinc, T(0)};
    }
    // d/du (sin u / u) = (u cos u - sin u) / u^2 cancels for small u (float32 at u = 1e-3: 20 %
    // off); below kShannonSeries its Taylor series, six terms: sum_k (-1)^k 2k u^(2k-1) / (2k+1)!
    const T u2 = u * u;
    const T series = u * (static_cast<T>(-1.0 / 3) +
                          u2 * (static_cast<T>(1.0 / 30) +
                                u2 * (static_cast<T>(-1.0 / 840) +
                                      u2 * (static_cast<T>(1.0 / 45360) +
                                            u2 * (static_cast<T>(-1.0 / 3991680) +
                                                  u2 * static_cast<T>(1.0 / 518918400))))));
    const T d = fabs(u) < KanConst<T>::kShannonSeries ? series : (u * c - s) * inv * inv;
    return {window * sinc, window * d};
}

// u with +-inf replaced by +-the largest finite value: for dscale's q u, where q (the gradient
// through psi') is 0 at an infinite u (a scale whose reciprocal is finite but huge), so the term
// is 0, as the limit is, rather than 0 inf = NaN. Finite u is unchanged.
template <class T>
WTCONV_KAN_FN T finite_part(T u) {
    using std::fmax;
    using std::fmin;
    constexpr T big = sizeof(T) == 4 ? static_cast<T>(3.40282346638528859811704183484516925e+38)
                                     : static_cast<T>(1.79769313486231570814527423731704357e+308);
    return fmin(fmax(u, -big), big);
}

template <KanWavelet W, bool kGrad, class T>
WTCONV_KAN_FN PsiPair<T> kan_psi(T u, T window) {
    if constexpr (W == KanWavelet::kMexicanHat) {
        return mexican_hat<T, kGrad>(u);
    } else if constexpr (W == KanWavelet::kMorlet) {
        return morlet<T, kGrad>(u);
    } else if constexpr (W == KanWavelet::kDog) {
        return dog<T, kGrad>(u);
    } else if constexpr (W == KanWavelet::kMeyer) {
        return meyer<T, kGrad>(u);
    } else {
        return shannon<T, kGrad>(u, window);
    }
}

// Shannon's symmetric Hamming window over the input index: 0.54 - 0.46 cos(2 pi i / (I - 1)),
// 1 for a single input. Other wavelets take 1.
WTCONV_KAN_FN double kan_window(KanWavelet wavelet, std::int64_t i, std::int64_t inputs) {
    using std::cos;
    if (wavelet != KanWavelet::kShannon || inputs == 1) {
        return 1.0;
    }
    constexpr double pi = KanConst<double>::kPi;
    return 0.54 - 0.46 * cos(2.0 * pi * static_cast<double>(i) / static_cast<double>(inputs - 1));
}

// f(std::integral_constant<KanWavelet, W>) for the runtime choice: each wavelet gets its own
// inlined loops (host code of every backend).
template <class F>
void with_wavelet(KanWavelet wavelet, F&& f) {
    switch (wavelet) {
        case KanWavelet::kMexicanHat:
            return f(std::integral_constant<KanWavelet, KanWavelet::kMexicanHat>{});
        case KanWavelet::kMorlet:
            return f(std::integral_constant<KanWavelet, KanWavelet::kMorlet>{});
        case KanWavelet::kDog:
            return f(std::integral_constant<KanWavelet, KanWavelet::kDog>{});
        case KanWavelet::kMeyer:
            return f(std::integral_constant<KanWavelet, KanWavelet::kMeyer>{});
        case KanWavelet::kShannon:
            return f(std::integral_constant<KanWavelet, KanWavelet::kShannon>{});
    }
}

}  // namespace wtconv::detail
