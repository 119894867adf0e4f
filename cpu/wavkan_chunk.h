#pragma once
// The Wav-KAN wavelets on a chunk of kChunk inputs at once, for cpu/wavkan_core.cpp: the Gaussian
// wavelets (mexican hat, dog, morlet) as Eigen array expressions, which run on Eigen's vectorised
// exp, sin and cos (AVX-512 or AVX2 under -march=native); float32 meyer and shannon by the
// device's polynomials in vectorised loops (poly_chunk); float64 meyer and shannon element by
// element through src/common/kan_wavelets.h (libm).
#include <Eigen/Core>

#include "common/kan_wavelets.h"

namespace wtconv::cpu {

constexpr int kChunk = 16;

// The polynomial chunks need the hardware FMA (-march=native on x86-64, the default build): fmaf
// in software would make them slower than libm's sin and cos.
#if defined(__FMA__) || defined(__aarch64__)
constexpr bool kPolyChunks = true;
#else
constexpr bool kPolyChunks = false;
#endif

template <class T>
using Chunk = Eigen::Array<T, kChunk, 1>;
template <class T>
using ChunkMap = Eigen::Map<const Chunk<T>>;  // unaligned: rows of x and of the edges

// u^2 / 2 past which the Gaussian is taken as exactly 0: exp(-87) = 1.6e-38 is float's smallest
// normal, exp(-708) = 3.3e-308 double's, and Eigen's vectorised exp clamps its argument near
// there, so it returns a tiny nonzero value instead of underflowing to 0. The limit must be an
// exact 0 (WAVKAN.md 5): a tiny scale makes 1 / scale huge, and dscale = -(1 / scale) sum q u
// would turn a 1e-38 residue into 1e25. Clamping u to kGaussianClamp as well keeps u^2 finite, so
// an infinite u gives 0 rather than inf * 0 = NaN, without a branch.
template <class T>
constexpr T kGaussianZero = sizeof(T) == 4 ? T(87) : T(708);
template <class T>
constexpr T kGaussianClamp = sizeof(T) == 4 ? T(20) : T(40);
template <class T>
constexpr T kStep = sizeof(T) == 4 ? T(1e30) : T(1e300);

// float32 meyer and shannon on a chunk by the device's polynomial forms (meyer_poly_f32 and
// shannon_poly_f32, src/common/kan_wavelets.h) in a loop GCC vectorises: their min and max are
// comparisons on the host (kan_min), and cpu/wavkan_core.cpp is compiled with -fno-trapping-math,
// without which GCC 12 will not turn a comparison of two computed values into a select. libm's
// sin and cos per element had left these two wavelets at 1.4-1.5x the unfused composition on 2
// cores, where the Gaussian ones reach 13x.
template <KanWavelet W, bool kGrad>
inline void poly_chunk(const float* __restrict u,
                       const float* __restrict window,
                       float* __restrict psi,
                       float* __restrict dpsi) {
#pragma omp simd
    for (int k = 0; k < kChunk; ++k) {
        detail::PsiPair<float> p;
        if constexpr (W == KanWavelet::kMeyer) {
            p = detail::meyer_poly_f32<kGrad>(u[k]);
        } else {
            p = detail::shannon_poly_f32<kGrad>(u[k], window[k]);
        }
        psi[k] = p.psi;
        if constexpr (kGrad) {
            dpsi[k] = p.dpsi;
        }
    }
}

// psi of every element of u and, with kGrad, dpsi (left alone without). window: shannon's Hamming
// weights of the chunk's inputs (a Chunk or a ChunkMap; 1 for the others, which ignore it).
template <KanWavelet W, bool kGrad, class T, class Window>
inline void psi_chunk(const Chunk<T>& u, const Window& window, Chunk<T>& psi, Chunk<T>& dpsi) {
    if constexpr (W == KanWavelet::kMexicanHat || W == KanWavelet::kDog ||
                  W == KanWavelet::kMorlet) {
        const Chunk<T> v = u.max(-kGaussianClamp<T>).min(kGaussianClamp<T>);
        const Chunk<T> v2 = v.square();
        const Chunk<T> half = T(0.5) * v2;
        // 1 below kGaussianZero (by more than 1 / kStep), 0 from it: a select that vectorises
        // (Eigen 3.4's select() of arrays runs element by element, and so did the exp inside it)
        const Chunk<T> keep = ((kGaussianZero<T> - half) * kStep<T>).max(T(0)).min(T(1));
        const Chunk<T> e = (-half).exp() * keep;
        if constexpr (W == KanWavelet::kMexicanHat) {
            constexpr T c = detail::KanConst<T>::kMexicanHat;
            psi = c * (v2 - T(1)) * e;
            if constexpr (kGrad) {
                dpsi = c * v * (T(3) - v2) * e;
            }
        } else if constexpr (W == KanWavelet::kDog) {
            psi = -v * e;
            if constexpr (kGrad) {
                dpsi = (v2 - T(1)) * e;
            }
        } else {
            const Chunk<T> a = T(5) * v;
            const Chunk<T> c = a.cos();
            psi = c * e;
            if constexpr (kGrad) {
                dpsi = -e * (T(5) * a.sin() + v * c);
            }
        }
    } else if constexpr (kPolyChunks && sizeof(T) == 4 &&
                         (W == KanWavelet::kMeyer || W == KanWavelet::kShannon)) {
        const Chunk<T> h = window;  // a Chunk or a ChunkMap: a plain array either way, now
        poly_chunk<W, kGrad>(u.data(), h.data(), psi.data(), dpsi.data());
    } else {
        for (int k = 0; k < kChunk; ++k) {
            const detail::PsiPair<T> p = detail::kan_psi<W, kGrad>(u[k], window[k]);
            psi[k] = p.psi;
            if constexpr (kGrad) {
                dpsi[k] = p.dpsi;
            }
        }
    }
}

// The first n (< kChunk) values of p, the rest fill: a row's last, partial chunk.
template <class T>
inline Chunk<T> padded(const T* p, int n, T fill) {
    Chunk<T> c = Chunk<T>::Constant(fill);
    for (int k = 0; k < n; ++k) {
        c[k] = p[k];
    }
    return c;
}

}  // namespace wtconv::cpu
