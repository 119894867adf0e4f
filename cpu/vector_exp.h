#pragma once
// exp(x) for x <= 0 written so that the compiler vectorises the loops that call it (libm's exp is
// an opaque call a loop cannot vectorise): 2^n p(r) with x = n ln2 + r, |r| <= ln2 / 2, ln2 in two
// parts (Cody and Waite), p the Taylor polynomial of exp (degree 7 for float: below 2^-24 on that
// interval; degree 12 for double: 8e-18), 2^n built in the exponent bits. Within 2 ulp of exp for
// float and double; 0 where exp underflows past the normal range, and for x = -inf. The Gaussian
// wavelets call it with x = -u^2 / 2, never NaN (the op rejects non-finite inputs).
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace wtconv::cpu {

template <class T>
inline T exp_nonpositive(T x) {
    static_assert(std::is_floating_point_v<T>, "float or double");
    using Bits = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    constexpr bool kSingle = sizeof(T) == 4;
    constexpr T kLowest = kSingle ? T(-87.0) : T(-708.0);  // exp is still normal here
    constexpr T kLog2e = T(1.44269504088896340736);
    constexpr T kLn2Hi = kSingle ? T(0.693145751953125) : T(0.693147180369123816490);
    constexpr T kLn2Lo = kSingle ? T(1.428606765330187045e-06) : T(1.90821492927058770002e-10);
    constexpr int kMantissa = kSingle ? 23 : 52;
    constexpr Bits kBias = kSingle ? 127 : 1023;
    const bool under = !(x >= kLowest);  // also -inf
    const T xc = under ? kLowest : x;
    // n = round(x log2e) as trunc(v - 1/2) for v <= 0, through int32 (AVX2 converts doubles to
    // int32 lanes, not to int64): vectorises where nearbyint may not
    const std::int32_t ni = static_cast<std::int32_t>(xc * kLog2e - T(0.5));
    const T n = static_cast<T>(ni);
    const T r = (xc - n * kLn2Hi) - n * kLn2Lo;
    T p;
    if constexpr (kSingle) {
        p = T(1) +
            r * (T(1) +
                 r * (T(1.0 / 2) +
                      r * (T(1.0 / 6) +
                           r * (T(1.0 / 24) +
                                r * (T(1.0 / 120) + r * (T(1.0 / 720) + r * T(1.0 / 5040)))))));
    } else {
        p = T(1) +
            r * (T(1) +
                 r * (T(1.0 / 2) +
                      r * (T(1.0 / 6) +
                           r * (T(1.0 / 24) +
                                r * (T(1.0 / 120) +
                                     r * (T(1.0 / 720) +
                                          r * (T(1.0 / 5040) +
                                               r * (T(1.0 / 40320) +
                                                    r * (T(1.0 / 362880) +
                                                         r * (T(1.0 / 3628800) +
                                                              r * (T(1.0 / 39916800) +
                                                                   r * T(1.0 /
                                                                         479001600))))))))))));
    }
    const Bits exponent = (static_cast<Bits>(ni) + kBias) << kMantissa;
    T scale;
    std::memcpy(&scale, &exponent, sizeof(T));
    return under ? T(0) : p * scale;
}

}  // namespace wtconv::cpu
