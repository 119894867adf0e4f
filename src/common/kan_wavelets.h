#pragma once
// The Wav-KAN mother wavelets and their derivatives (WAVKAN.md 3.2 and 5), one definition for every
// backend (host and CUDA device code). Each takes u and the input's window (shannon's Hamming
// weight h[i], 1 for the others) and returns psi(u) and d psi / d u together: they share one exp
// (and one sin/cos).
#include <cmath>
#include <cstdint>

#include <wtconv/ops/wavkan.h>

#if defined(__CUDACC__)
#define WTCONV_KAN_FN __host__ __device__ inline
#else
#define WTCONV_KAN_FN inline
#endif

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
    // Below this |u| shannon's derivative takes its series: (u cos u - sin u) / u^2 cancels.
    static constexpr T kShannonSeries =
        sizeof(T) == 4 ? static_cast<T>(1e-3) : static_cast<T>(1e-5);
};

// Every wavelet that multiplies by exp(-u^2 / 2) returns its limit 0 where that underflows, so a
// huge |u| (or an infinite one) gives 0 rather than the original's inf * 0 = NaN. NaN u stays NaN.
// kGrad false: psi only (dpsi returned as 0), which spares morlet and meyer a sin or cos.
template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> mexican_hat(T u) {
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
    using std::cos;
    using std::exp;
    using std::sin;
    const T e = exp(static_cast<T>(-0.5) * u * u);
    if (e == T(0)) {
        return {T(0), T(0)};
    }
    const T c = cos(T(5) * u);
    if constexpr (!kGrad) {
        return {c * e, T(0)};
    }
    const T s = sin(T(5) * u);
    return {c * e, -e * (T(5) * s + u * c)};
}

template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> dog(T u) {
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
    using std::cos;
    using std::fabs;
    using std::sin;
    constexpr T pi = KanConst<T>::kPi;
    const T v = fabs(u);
    if (v >= T(1)) {  // also u = +-inf
        return {T(0), T(0)};
    }
    const T sign = u > T(0) ? T(1) : (u < T(0) ? T(-1) : T(0));
    // sin(pi v) and cos(pi v) from pi (1 - v) past 1/2, where 1 - v is exact: sin(pi v) goes to 0
    // at v = 1 and pi v rounded there would leave it a large relative error in float32.
    const bool upper = v > static_cast<T>(0.5);
    const T a = pi * (upper ? T(1) - v : v);
    const T s = sin(a);
    const T c = kGrad ? (upper ? -cos(a) : cos(a)) : T(0);
    if (v <= static_cast<T>(0.5)) {
        return {s, sign * pi * c};
    }
    // m = cos(pi/2 nu(t)), t = 2 v - 1, nu(t) = t^4 (35 - 84 t + 70 t^2 - 20 t^3). nu(t) + nu(1 -
    // t) = 1, so past t = 1/2 the angle's distance from pi/2 is pi/2 nu(1 - t), with 1 - t = 2 (1 -
    // v) exact: m then comes from a sine of a small angle instead of a cosine near pi/2, which in
    // float32 lost most of its digits (the golden cases' tail of the bump).
    const T t = T(2) * v - T(1);
    const bool far = t > static_cast<T>(0.5);
    const T tt = far ? T(2) * (T(1) - v) : t;
    const T tt3 = tt * tt * tt;
    const T nu = tt3 * tt * (T(35) - T(84) * tt + T(70) * tt * tt - T(20) * tt3);
    const T dnu = T(140) * tt3 * (T(1) - tt) * (T(1) - tt) * (T(1) - tt);  // nu' is symmetric
    const T arg = pi / T(2) * nu;
    const T m = far ? sin(arg) : cos(arg);
    if constexpr (!kGrad) {
        return {s * m, T(0)};
    }
    const T sin_angle = far ? cos(arg) : sin(arg);  // sin(pi/2 nu(t))
    const T dm = -pi * sin_angle * dnu;
    return {s * m, sign * (pi * c * m + s * dm)};
}

// window * sin(u) / u, with (window, 0) at u = 0 and the limit 0 at |u| = inf.
template <class T, bool kGrad>
WTCONV_KAN_FN PsiPair<T> shannon(T u, T window) {
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
    const T s = sin(u);
    const T sinc = s / u;
    if constexpr (!kGrad) {
        return {window * sinc, T(0)};
    }
    const T d = fabs(u) < KanConst<T>::kShannonSeries ? u * (u * u / T(30) - T(1) / T(3))
                                                      : (u * cos(u) - s) / (u * u);
    return {window * sinc, window * d};
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
inline double kan_window(KanWavelet wavelet, std::int64_t i, std::int64_t inputs) {
    if (wavelet != KanWavelet::kShannon || inputs == 1) {
        return 1.0;
    }
    constexpr double pi = KanConst<double>::kPi;
    return 0.54 -
           0.46 * std::cos(2.0 * pi * static_cast<double>(i) / static_cast<double>(inputs - 1));
}

}  // namespace wtconv::detail
