#pragma once
// The Haar (db1) transform of one plane in closed form (spec section 2): each 2 x 2 block and its
// four band coefficients are one butterfly, so a level costs one pass over the plane and no
// bounds checks (the pad-to-even row and column are read from a zero border).
#include <cstddef>

#include "cpu/wavelet_transform.h"

namespace wtconv::cpu {

// True when the bank is Haar with the spec's closed-form signs: row taps (1, 1) and (1, -1),
// column taps (h2, h2) and (h2, -h2). Analysis and synthesis banks both qualify, and so do the
// two adjoints built from them.
template <class T>
bool is_haar(const SeparableTaps<T>& k) {
    if (k.length != 2) {
        return false;
    }
    const T h2 = k.col_lo[0];
    return k.row_lo[0] == T(1) && k.row_lo[1] == T(1) && k.row_hi[0] == T(1) &&
           k.row_hi[1] == T(-1) && k.col_lo[1] == h2 && k.col_hi[0] == h2 && k.col_hi[1] == -h2;
}

// One row of the analysis: bands (ll, lh, hl, hh)[j] from columns 2j, 2j+1 of rows r0, r1. A
// function of its own so GCC sees four unaliased rows and vectorises the deinterleaving loads.
template <class T>
void haar_analyze_row(const T* __restrict r0,
                      const T* __restrict r1,
                      int n,
                      T h2,
                      T* __restrict ll,
                      T* __restrict lh,
                      T* __restrict hl,
                      T* __restrict hh) {
    for (int j = 0; j < n; ++j) {
        const T s0 = r0[2 * j] + r0[2 * j + 1];
        const T d0 = r0[2 * j] - r0[2 * j + 1];
        const T s1 = r1[2 * j] + r1[2 * j + 1];
        const T d1 = r1[2 * j] - r1[2 * j + 1];
        ll[j] = h2 * (s0 + s1);
        lh[j] = h2 * (s0 - s1);
        hl[j] = h2 * (d0 + d1);
        hh[j] = h2 * (d0 - d1);
    }
}

// Analysis of an h x w plane into 4 bands of ceil(h/2) x ceil(w/2). src row h and column w
// (the pad-to-even) must be readable and zero, as in a bordered buffer.
template <class T>
void haar_analyze(const T* src, int src_stride, int h, int w, T h2, const Bands<T>& out) {
    for (int i = 0; i < (h + 1) / 2; ++i) {
        const T* r0 = src + static_cast<std::ptrdiff_t>(2 * i) * src_stride;
        haar_analyze_row(r0, r0 + src_stride, (w + 1) / 2, h2, out.row(0, i), out.row(1, i),
                         out.row(2, i), out.row(3, i));
    }
}

// Synthesis of 4 bands of h_half x w_half into the top-left h x w of the 2*h_half x 2*w_half
// result. Rows past h are skipped; out rows must have room for 2 * w_half elements (the column
// past an odd w is written, and belongs to the caller's padding).
template <class T>
void haar_synthesize(
    const Bands<T>& in, int h_half, int w_half, T h2, int h, T* out, int out_stride) {
    for (int i = 0; i < h_half; ++i) {
        const T* __restrict t0 = in.row(0, i);
        const T* __restrict t1 = in.row(1, i);
        const T* __restrict t2 = in.row(2, i);
        const T* __restrict t3 = in.row(3, i);
        T* __restrict y0 = out + static_cast<std::ptrdiff_t>(2 * i) * out_stride;
        if (2 * i + 1 < h) {
            T* __restrict y1 = y0 + out_stride;
            for (int j = 0; j < w_half; ++j) {
                const T s = t0[j] + t1[j];
                const T d = t0[j] - t1[j];
                const T p = t2[j] + t3[j];
                const T q = t2[j] - t3[j];
                y0[2 * j] = h2 * (s + p);
                y0[2 * j + 1] = h2 * (s - p);
                y1[2 * j] = h2 * (d + q);
                y1[2 * j + 1] = h2 * (d - q);
            }
        } else {
            for (int j = 0; j < w_half; ++j) {
                const T s = t0[j] + t1[j];
                const T p = t2[j] + t3[j];
                y0[2 * j] = h2 * (s + p);
                y0[2 * j + 1] = h2 * (s - p);
            }
        }
    }
}

}  // namespace wtconv::cpu
