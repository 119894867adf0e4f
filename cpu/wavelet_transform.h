#pragma once
// Separable wavelet analysis (DWT) and synthesis (IDWT) of one plane, with the exact index rules
// of the WTConv spec (padding p = F/2 - 1, reads outside the plane are zero, writes outside are
// dropped). The same code with other taps gives both adjoints: IDWT's adjoint is an analysis with
// the synthesis filters, DWT's adjoint a synthesis with the analysis filters.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/wavelet_filters.h"
#include "cpu/depthwise.h"

namespace wtconv::cpu {

// Taps of one separable 2D filter bank: the W (row) pass uses row_*, the H (column) pass col_*;
// the 2D tap of band (kh, kw) is col_kh[a] * row_kw[b].
template <class T>
struct SeparableTaps {
    std::vector<T> row_lo, row_hi, col_lo, col_hi;
    int length = 0;  // F
    int pad = 0;     // p = F/2 - 1
};

// lo/hi: the 1D taps in the order the transform indexes them (analysis: reversed dec_*;
// synthesis: rec_*). Haar gets row taps +-1 and column taps +-h^2, computed in double and rounded
// once, so the butterflies equal the spec's closed form (h^2 = 0.5 exactly in float32).
template <class T>
SeparableTaps<T> make_taps(const std::vector<double>& lo, const std::vector<double>& hi) {
    SeparableTaps<T> taps;
    taps.length = static_cast<int>(lo.size());
    taps.pad = taps.length / 2 - 1;
    const bool haar_like = taps.length == 2 && std::abs(lo[0]) == std::abs(lo[1]) &&
                           std::abs(hi[0]) == std::abs(lo[0]) && std::abs(hi[1]) == std::abs(lo[0]);
    for (int t = 0; t < taps.length; ++t) {
        if (haar_like) {
            const double mag = std::abs(lo[0]);
            taps.row_lo.push_back(static_cast<T>(lo[t] / mag));
            taps.row_hi.push_back(static_cast<T>(hi[t] / mag));
            taps.col_lo.push_back(static_cast<T>(lo[t] * mag));
            taps.col_hi.push_back(static_cast<T>(hi[t] * mag));
        } else {
            taps.row_lo.push_back(static_cast<T>(lo[t]));
            taps.row_hi.push_back(static_cast<T>(hi[t]));
            taps.col_lo.push_back(static_cast<T>(lo[t]));
            taps.col_hi.push_back(static_cast<T>(hi[t]));
        }
    }
    return taps;
}

// The analysis and synthesis banks of one wavelet, and their plain 1D taps for WTConv1d.
template <class T>
struct WaveletBanks {
    SeparableTaps<T> analysis;   // D_k: reversed dec_lo / dec_hi
    SeparableTaps<T> synthesis;  // R_k: rec_lo / rec_hi
    std::vector<T> analysis_lo, analysis_hi, synthesis_lo, synthesis_hi;  // 1D, unscaled
};

template <class T>
WaveletBanks<T> make_banks(const detail::WaveletTaps& w) {
    const int f = w.length;
    std::vector<double> dlo(f), dhi(f), rlo(w.rec_lo, w.rec_lo + f), rhi(w.rec_hi, w.rec_hi + f);
    for (int t = 0; t < f; ++t) {
        dlo[t] = w.dec_lo[f - 1 - t];
        dhi[t] = w.dec_hi[f - 1 - t];
    }
    WaveletBanks<T> b;
    b.analysis = make_taps<T>(dlo, dhi);
    b.synthesis = make_taps<T>(rlo, rhi);
    b.analysis_lo.assign(dlo.begin(), dlo.end());
    b.analysis_hi.assign(dhi.begin(), dhi.end());
    b.synthesis_lo.assign(rlo.begin(), rlo.end());
    b.synthesis_hi.assign(rhi.begin(), rhi.end());
    return b;
}

// Analysis along W of h rows of length w into two rows of length ceil(w/2) each:
// lo_out[r][j] = sum_t lo[t] * src[r][2j - p + t] (src zero outside [0, w)), same for hi.
template <class T>
void analyze_rows(const T* src, int h, int w, const T* lo, const T* hi, int f, int p, T* lo_out,
                  T* hi_out) {
    const int w2 = (w + 1) / 2;
    for (int r = 0; r < h; ++r) {
        const T* x = src + static_cast<std::ptrdiff_t>(r) * w;
        T* o0 = lo_out + static_cast<std::ptrdiff_t>(r) * w2;
        T* o1 = hi_out + static_cast<std::ptrdiff_t>(r) * w2;
        for (int j = 0; j < w2; ++j) {
            const int base = 2 * j - p;
            const int t_begin = std::max(0, -base);
            const int t_end = std::min(f, w - base);
            T s0 = 0;
            T s1 = 0;
            for (int t = t_begin; t < t_end; ++t) {
                s0 += lo[t] * x[base + t];
                s1 += hi[t] * x[base + t];
            }
            o0[j] = s0;
            o1[j] = s1;
        }
    }
}

// Synthesis along W of two rows of length w2 into rows of length w (w <= 2*w2, the crop):
// out[r][v] = sum_j lo_in[r][j] * lo[v + p - 2j] + hi_in[r][j] * hi[v + p - 2j].
template <class T>
void synthesize_rows(const T* lo_in, const T* hi_in, int h, int w2, const T* lo, const T* hi, int f,
                     int p, int w, T* out) {
    for (int r = 0; r < h; ++r) {
        const T* a = lo_in + static_cast<std::ptrdiff_t>(r) * w2;
        const T* d = hi_in + static_cast<std::ptrdiff_t>(r) * w2;
        T* o = out + static_cast<std::ptrdiff_t>(r) * w;
        for (int v = 0; v < w; ++v) {
            // j such that 0 <= v + p - 2j < f
            const int j_begin = std::max(0, (v + p - f + 2) / 2);
            const int j_end = std::min(w2 - 1, (v + p) / 2);
            T s = 0;
            for (int j = j_begin; j <= j_end; ++j) {
                const int t = v + p - 2 * j;
                s += a[j] * lo[t] + d[j] * hi[t];
            }
            o[v] = s;
        }
    }
}

// 2D analysis of an h x w plane (zero-padded to even size) into 4 bands of ceil(h/2) x ceil(w/2),
// stored one after another (band k at bands + k * h2 * w2). tmp: 2 * h * ceil(w/2) elements.
template <class T>
void analyze_2d(const T* src, int h, int w, const SeparableTaps<T>& k, T* tmp, T* bands) {
    const int h2 = (h + 1) / 2;
    const int w2 = (w + 1) / 2;
    const std::ptrdiff_t band = static_cast<std::ptrdiff_t>(h2) * w2;
    T* row_lo = tmp;
    T* row_hi = tmp + static_cast<std::ptrdiff_t>(h) * w2;
    analyze_rows(src, h, w, k.row_lo.data(), k.row_hi.data(), k.length, k.pad, row_lo, row_hi);
    // Along H, whole rows at a time: band (kh, kw) = col_kh applied to the kw row pass.
    T* const out[4] = {bands, bands + band, bands + 2 * band, bands + 3 * band};
    for (int i = 0; i < h2; ++i) {
        RowMap<T> z0(out[0] + static_cast<std::ptrdiff_t>(i) * w2, w2);
        RowMap<T> z1(out[1] + static_cast<std::ptrdiff_t>(i) * w2, w2);
        RowMap<T> z2(out[2] + static_cast<std::ptrdiff_t>(i) * w2, w2);
        RowMap<T> z3(out[3] + static_cast<std::ptrdiff_t>(i) * w2, w2);
        z0.setZero();
        z1.setZero();
        z2.setZero();
        z3.setZero();
        const int base = 2 * i - k.pad;
        for (int t = std::max(0, -base); t < std::min(k.length, h - base); ++t) {
            const ConstRowMap<T> lo_row(row_lo + static_cast<std::ptrdiff_t>(base + t) * w2, w2);
            const ConstRowMap<T> hi_row(row_hi + static_cast<std::ptrdiff_t>(base + t) * w2, w2);
            z0 += k.col_lo[t] * lo_row;
            z1 += k.col_hi[t] * lo_row;
            z2 += k.col_lo[t] * hi_row;
            z3 += k.col_hi[t] * hi_row;
        }
    }
}

// 2D synthesis of 4 bands of h2 x w2 into the top-left h x w of the 2*h2 x 2*w2 result.
// tmp: 2 * h * w2 elements.
template <class T>
void synthesize_2d(const T* bands, int h2, int w2, const SeparableTaps<T>& k, int h, int w, T* tmp,
                   T* out) {
    const std::ptrdiff_t band = static_cast<std::ptrdiff_t>(h2) * w2;
    T* m_lo = tmp;  // bands 0 and 1 (low-pass along W), after the H pass
    T* m_hi = tmp + static_cast<std::ptrdiff_t>(h) * w2;
    for (int u = 0; u < h; ++u) {
        RowMap<T> lo(m_lo + static_cast<std::ptrdiff_t>(u) * w2, w2);
        RowMap<T> hi(m_hi + static_cast<std::ptrdiff_t>(u) * w2, w2);
        lo.setZero();
        hi.setZero();
        const int i_begin = std::max(0, (u + k.pad - k.length + 2) / 2);
        const int i_end = std::min(h2 - 1, (u + k.pad) / 2);
        for (int i = i_begin; i <= i_end; ++i) {
            const int t = u + k.pad - 2 * i;
            const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(i) * w2;
            lo += k.col_lo[t] * ConstRowMap<T>(bands + row, w2) +
                  k.col_hi[t] * ConstRowMap<T>(bands + band + row, w2);
            hi += k.col_lo[t] * ConstRowMap<T>(bands + 2 * band + row, w2) +
                  k.col_hi[t] * ConstRowMap<T>(bands + 3 * band + row, w2);
        }
    }
    synthesize_rows(m_lo, m_hi, h, w2, k.row_lo.data(), k.row_hi.data(), k.length, k.pad, w, out);
}

}  // namespace wtconv::cpu
