#pragma once
// float32 sine, cosine and reciprocal for the device paths of the Wav-KAN wavelets
// (src/common/kan_wavelets.h): short polynomials and bit operations that compile the same for host
// and device, so that tests can check them on the CPU (tests/test_kan_poly_f32.cpp).
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define WTCONV_KAN_FN __host__ __device__ inline
#else
#define WTCONV_KAN_FN inline
#endif

namespace wtconv::detail {

// float32 sine and cosine by polynomials, for meyer_poly_f32 and shannon_poly_f32 (the device
// paths of float32 meyer and shannon; callable on the host so that tests can check them). Each is
// x (or 1) plus a Horner polynomial in y = x^2 by fmaf: no division, branch or library call.
// Coefficients: minimax in relative error, from a Remez exchange in double arithmetic with the
// leading coefficient fixed to its float (pi rounds to 3.14159274f, 2.8e-8 relative: the floor
// of the sinpi fits), then rounded to float one at a time (low order first, the rest refitted).
// "approx" is max |p(x) - f(x)| / |f(x)| of the float coefficients evaluated in double over 10^6
// points of the range; evaluated in float, the float roundings add about 1 ulp (6e-8):
// tests/test_kan_poly_f32.cpp measures each over its range.

// sin(pi r) for |r| <= 1/2, degree 9; approx 2.9e-8.
WTCONV_KAN_FN float sinpi_poly(float r) {
    const float y = r * r;
    float q = fmaf(y, 0.0798357651f, -0.599437356f);
    q = fmaf(y, q, 2.55026984f);
    q = fmaf(y, q, -5.16772079f);
    return r * fmaf(y, q, 3.14159274f);
}

// sin(pi r) for |r| <= 1/4, degree 7; approx 2.8e-8.
WTCONV_KAN_FN float sinpi_quarter_poly(float r) {
    const float y = r * r;
    float q = fmaf(y, -0.599804342f, 2.5508008f);
    q = fmaf(y, q, -5.16773319f);
    return r * fmaf(y, q, 3.14159274f);
}

// cos(pi r) for |r| <= 1/4, degree 6; approx 3.9e-8 (degree 8 would give 4e-10 for one more FMA,
// below float's own rounding either way). cospi_quarter_poly(0) = 1 exactly.
WTCONV_KAN_FN float cospi_quarter_poly(float r) {
    const float y = r * r;
    float q = fmaf(y, -1.30652988f, 4.05763817f);
    q = fmaf(y, q, -4.93479061f);
    return fmaf(y, q, 1.0f);
}

// sin(x) for |x| <= pi/4 + 0.045 (shannon's reduction overshoots pi/4 by up to 0.042), degree 7,
// as x + x^3 q(x^2) (the leading term exact); approx 6.2e-9.
WTCONV_KAN_FN float sin_quarter_poly(float x) {
    const float y = x * x;
    float q = fmaf(y, -0.000194733395f, 0.00833183806f);
    q = fmaf(y, q, -0.166666493f);
    return fmaf(x * y, q, x);
}

// cos(x) for |x| <= pi/4 + 0.045, degree 8; approx 2.2e-10 (degree 6: 6.2e-8, a whole ulp).
WTCONV_KAN_FN float cos_quarter_poly(float x) {
    const float y = x * x;
    float q = fmaf(y, 2.43922186e-05f, -0.00138869509f);
    q = fmaf(y, q, 0.0416666381f);
    q = fmaf(y, q, -0.5f);
    return fmaf(y, q, 1.0f);
}

// min and max for meyer_poly_f32 and shannon_poly_f32: fminf and fmaxf on the device (one
// instruction each), comparisons on the host, where GCC vectorises them in the CPU's chunk loops
// (cpu/wavkan_chunk.h) and fminf's NaN rule would keep the loops scalar. The same for every
// value but a NaN second operand, which these functions never pass (their first may be NaN: then
// both give the second).
WTCONV_KAN_FN float kan_min(float a, float b) {
#if defined(__CUDA_ARCH__)
    return fminf(a, b);
#else
    return a < b ? a : b;
#endif
}
WTCONV_KAN_FN float kan_max(float a, float b) {
#if defined(__CUDA_ARCH__)
    return fmaxf(a, b);
#else
    return a > b ? a : b;
#endif
}

WTCONV_KAN_FN std::uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(x);
#else
    std::uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
#endif
}

WTCONV_KAN_FN float float_from_bits(std::uint32_t b) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(b);
#else
    float x;
    std::memcpy(&x, &b, sizeof x);
    return x;
#endif
}

// x with its sign flipped where u's sign bit is set (negative u, -0): one logic operation.
WTCONV_KAN_FN float times_sign_of(float x, float u) {
    return float_from_bits(float_bits(x) ^ (float_bits(u) & 0x80000000u));
}

// 1 / a for a >= 0 (a = inf gives 0). The host divides (correctly rounded). The device takes the
// hardware's approximation (within 1 ulp; ftz: 0 for a above 2^126, inf for a below 2^-126) and
// one Newton step, y + y (1 - a y) by FMA: relative error below 2^-46 before its final rounding,
// so within 1 ulp (correctly rounded but near ties), in 4 instructions and without __frcp_rn's
// slow path. a is clamped in the step only, so that a = inf gives 0 rather than inf * 0.
WTCONV_KAN_FN float rcp_f32(float a) {
#if defined(__CUDA_ARCH__)
    float y;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(a));
    return fmaf(y, fmaf(-fminf(a, 0x1p127f), y, 1.0f), y);
#else
    return 1.0f / a;
#endif
}

}  // namespace wtconv::detail
