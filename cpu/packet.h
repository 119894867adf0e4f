#pragma once
// One SIMD register of T, as Eigen's packet type for the target (16 floats or 8 doubles with
// AVX-512, fewer on narrower targets), and the few operations the blocked kernels need beyond
// Eigen's own: a partial store and the widening of float partial sums into double accumulators.
#include <algorithm>
#include <type_traits>
#include <utility>

#include <Eigen/Core>

namespace wtconv::cpu {

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;

template <class T>
constexpr int kLanes = Eigen::internal::unpacket_traits<Packet<T>>::size;

inline int round_up(int n, int multiple) {
    return (n + multiple - 1) / multiple * multiple;
}

// Calls f(std::integral_constant<int, I>{}) for I = 0 .. N-1, so the body sees I as a constant
// (an instruction immediate, a foldable branch) without relying on the unroller. Mark the lambda
// __attribute__((always_inline)): GCC otherwise calls large ones, and accumulators then travel
// through memory (3x slower).
template <class F, int... I>
EIGEN_ALWAYS_INLINE void static_for_each(F& f, std::integer_sequence<int, I...>) {
    (f(std::integral_constant<int, I>{}), ...);
}
template <int N, class F>
EIGEN_ALWAYS_INLINE void static_for(F&& f) {
    static_for_each(f, std::make_integer_sequence<int, N>{});
}

template <class T>
EIGEN_STRONG_INLINE Packet<T> load(const T* p) {
    return Eigen::internal::ploadu<Packet<T>>(p);
}

template <class T>
EIGEN_STRONG_INLINE Packet<T> broadcast(T v) {
    return Eigen::internal::pset1<Packet<T>>(v);
}

// acc + a * b, fused where the target has FMA (the build's ISO mode never contracts a * b + c).
template <class P>
EIGEN_STRONG_INLINE P fmadd(const P& a, const P& b, const P& acc) {
    return Eigen::internal::pmadd(a, b, acc);
}

// Stores the first n lanes (n <= kLanes<T>) of v; the lanes after them stay untouched.
template <class T, class P>
EIGEN_STRONG_INLINE void store(T* p, const P& v, int n) {
    if (n == kLanes<T>) {
        Eigen::internal::pstoreu(p, v);
        return;
    }
    alignas(64) T lanes[kLanes<T>];  // 64: the widest packet, AVX-512
    Eigen::internal::pstoreu(lanes, v);
    std::copy(lanes, lanes + n, p);
}

// GCC 12 reports the _mm*_undefined_*() inside its own AVX-512 extract and convert intrinsics
// as uninitialized (a known false positive); silenced for the inlined helpers below only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"

// Double accumulators for sums of T products: one packet of doubles. A float packet is folded
// to half its lanes (one float addition per lane) and widened; callers widen once per image row,
// so a float partial sum never spans more than one row's products and the rows add in double.
template <class T>
struct Widened {
    using Acc = Packet<double>;
    static Acc zero() { return Eigen::internal::pset1<Acc>(0.0); }
    static double sum(const Acc& a) { return Eigen::internal::predux(a); }
    static EIGEN_STRONG_INLINE Acc add(const Packet<T>& v, const Acc& acc);
};

template <>
EIGEN_STRONG_INLINE Packet<double> Widened<double>::add(const Packet<double>& v,
                                                        const Packet<double>& acc) {
    return Eigen::internal::padd(v, acc);
}

template <>
EIGEN_STRONG_INLINE Packet<double> Widened<float>::add(const Packet<float>& v,
                                                       const Packet<double>& acc) {
#if defined(EIGEN_VECTORIZE_AVX512)
    return _mm512_add_pd(acc, _mm512_cvtps_pd(Eigen::internal::predux_half_dowto4(v)));
#else
    // Generic targets: any lanes-to-lanes ratio, through memory.
    constexpr int kF = kLanes<float>;
    constexpr int kD = kLanes<double>;
    alignas(64) float f[kF];
    alignas(64) double d[kD];
    Eigen::internal::pstoreu(f, v);
    Eigen::internal::pstoreu(d, acc);
    for (int i = 0; i < kF; ++i) {
        d[i % kD] += static_cast<double>(f[i]);
    }
    return Eigen::internal::ploadu<Packet<double>>(d);
#endif
}

// Lanes B .. B+lanes-1 of the two packets lo, hi (loaded from p and p + lanes): the packet at
// p + B. AVX-512 builds it with one in-register shift, where an unaligned 64-byte load would
// span two cache lines and cost two loads; other targets load it.
template <int B, class T>
EIGEN_ALWAYS_INLINE Packet<T> shifted([[maybe_unused]] const T* p,
                                      const Packet<T>& lo,
                                      [[maybe_unused]] const Packet<T>& hi) {
    if constexpr (B == 0) {
        return lo;
    }
#if defined(EIGEN_VECTORIZE_AVX512)
    else if constexpr (std::is_same_v<T, float>) {
        static_assert(B < kLanes<T>, "a shift within one packet");
        return _mm512_castsi512_ps(
            _mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), B));
    } else {
        static_assert(B < kLanes<T>, "a shift within one packet");
        return _mm512_castsi512_pd(
            _mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), B));
    }
#else
    else {
        return load(p + B);
    }
#endif
}

#pragma GCC diagnostic pop

}  // namespace wtconv::cpu
