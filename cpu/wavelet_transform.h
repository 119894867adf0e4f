#pragma once
// Separable wavelet analysis (DWT) and synthesis (IDWT) of one plane, with the exact index rules
// of the WTConv spec (padding p = F/2 - 1, reads outside the plane are zero, writes outside are
// dropped). The same code with other taps gives both adjoints: IDWT's adjoint is an analysis with
// the synthesis filters, DWT's adjoint a synthesis with the analysis filters.
#include <algorithm>
#include <cmath>
#include <vector>

#include <Eigen/Core>

#include "common/wavelet_filters.h"

namespace wtconv::cpu {

template <class T>
using RowMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstRowMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

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

// The row passes work on polyphase copies (even and odd samples apart, inside zero margins), so
// every tap is one contiguous Eigen axpy over the row and no sample needs a bounds check. A tap
// reaches at most p/2 + 1 samples past either end of a phase.
inline int polyphase_margin(int p) {
    return p / 2 + 1;
}

// Elements of the row passes' work buffer for rows of up to 2 * w2 samples.
inline std::size_t polyphase_work_elems(int w2, int p) {
    return 4 * static_cast<std::size_t>(w2 + 2 * polyphase_margin(p));
}

// Analysis along W of h rows of length w (row stride src_stride) into two rows of length
// ceil(w/2) each: lo_out[r][j] = sum_t lo[t] * src[r][2j - p + t] (src zero outside [0, w)).
// work: polyphase_work_elems(ceil(w/2), p) elements.
template <class T>
void analyze_rows(const T* src,
                  int src_stride,
                  int h,
                  int w,
                  const T* lo,
                  const T* hi,
                  int f,
                  int p,
                  T* lo_out,
                  T* hi_out,
                  T* work) {
    const int w2 = (w + 1) / 2;
    const int margin = polyphase_margin(p);
    const int len = w2 + 2 * margin;
    T* even = work + margin;       // even[m] = x[2m]
    T* odd = work + len + margin;  // odd[m] = x[2m + 1]
    std::fill(work, work + 2 * len, T(0));
    for (int r = 0; r < h; ++r) {
        const T* x = src + static_cast<std::ptrdiff_t>(r) * src_stride;
        for (int m = 0; m < w2; ++m) {
            even[m] = x[2 * m];
        }
        for (int m = 0; m < w / 2; ++m) {
            odd[m] = x[2 * m + 1];  // odd[w/2] stays 0 for odd w: the pad-to-even column
        }
        RowMap<T> o0(lo_out + static_cast<std::ptrdiff_t>(r) * w2, w2);
        RowMap<T> o1(hi_out + static_cast<std::ptrdiff_t>(r) * w2, w2);
        o0.setZero();
        o1.setZero();
        for (int t = 0; t < f; ++t) {
            const int s = t - p;  // x[2j + s] = even[j + s/2] or odd[j + (s-1)/2]
            const ConstRowMap<T> phase(s % 2 == 0 ? even + s / 2 : odd + (s - 1) / 2, w2);
            o0 += lo[t] * phase;
            o1 += hi[t] * phase;
        }
    }
}

// Synthesis along W of two rows of length w2 into rows of length w (w <= 2*w2, the crop; row
// stride out_stride): out[r][v] = sum_j lo_in[r][j] * lo[v + p - 2j] + hi_in[r][j] * hi[v + p -
// 2j]. work: polyphase_work_elems(w2, p) elements.
template <class T>
void synthesize_rows(const T* lo_in,
                     const T* hi_in,
                     int h,
                     int w2,
                     const T* lo,
                     const T* hi,
                     int f,
                     int p,
                     int w,
                     T* out,
                     int out_stride,
                     T* work) {
    const int margin = polyphase_margin(p);
    const int len = w2 + 2 * margin;
    T* a = work + margin;  // the bands inside zero margins
    T* d = work + len + margin;
    T* phase_out[2] = {work + 2 * len, work + 2 * len + w2};  // out[2m + e] = phase_out[e][m]
    std::fill(work, work + 2 * len, T(0));
    for (int r = 0; r < h; ++r) {
        std::copy(lo_in + static_cast<std::ptrdiff_t>(r) * w2,
                  lo_in + static_cast<std::ptrdiff_t>(r + 1) * w2, a);
        std::copy(hi_in + static_cast<std::ptrdiff_t>(r) * w2,
                  hi_in + static_cast<std::ptrdiff_t>(r + 1) * w2, d);
        for (int e = 0; e < 2; ++e) {
            RowMap<T> o(phase_out[e], w2);
            o.setZero();
            // v = 2m + e meets tap t = v + p - 2j, i.e. j = m + (e + p - t) / 2, t of e + p's
            // parity.
            for (int t = (e + p) % 2; t < f; t += 2) {
                const int shift = (e + p - t) / 2;
                o += lo[t] * ConstRowMap<T>(a + shift, w2) + hi[t] * ConstRowMap<T>(d + shift, w2);
            }
        }
        T* row = out + static_cast<std::ptrdiff_t>(r) * out_stride;
        for (int v = 0; v < w; ++v) {
            row[v] = phase_out[v % 2][v / 2];
        }
    }
}

// The four sub-bands of one level: element (i, j) of band k at band[k][i * stride + j].
template <class T>
struct Bands {
    T* band[4];
    int stride;
    T* row(int k, int i) const { return band[k] + static_cast<std::ptrdiff_t>(i) * stride; }
};

// Elements of the 2D transforms' temporary for planes of up to h x w.
inline std::size_t transform_tmp_elems(int h, int w, int p) {
    const int w2 = (w + 1) / 2;
    return 2 * static_cast<std::size_t>(h) * static_cast<std::size_t>(w2) +
           polyphase_work_elems(w2, p);
}

// 2D analysis of an h x w plane (row stride src_stride, zero-padded to even size) into 4 bands of
// ceil(h/2) x ceil(w/2). tmp: transform_tmp_elems(h, w, p) elements.
template <class T>
void analyze_2d(const T* src,
                int src_stride,
                int h,
                int w,
                const SeparableTaps<T>& k,
                T* tmp,
                const Bands<T>& out) {
    const int h2 = (h + 1) / 2;
    const int w2 = (w + 1) / 2;
    T* row_lo = tmp;
    T* row_hi = tmp + static_cast<std::ptrdiff_t>(h) * w2;
    analyze_rows(src, src_stride, h, w, k.row_lo.data(), k.row_hi.data(), k.length, k.pad, row_lo,
                 row_hi, row_hi + static_cast<std::ptrdiff_t>(h) * w2);
    // Along H, whole rows at a time: band (kh, kw) = col_kh applied to the kw row pass.
    for (int i = 0; i < h2; ++i) {
        RowMap<T> z0(out.row(0, i), w2);
        RowMap<T> z1(out.row(1, i), w2);
        RowMap<T> z2(out.row(2, i), w2);
        RowMap<T> z3(out.row(3, i), w2);
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

// 2D synthesis of 4 bands of h2 x w2 into the top-left h x w of the 2*h2 x 2*w2 result (row
// stride out_stride). tmp: transform_tmp_elems(h, 2 * w2, p) elements.
template <class T>
void synthesize_2d(const Bands<T>& in,
                   int h2,
                   int w2,
                   const SeparableTaps<T>& k,
                   int h,
                   int w,
                   T* tmp,
                   T* out,
                   int out_stride) {
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
            lo += k.col_lo[t] * ConstRowMap<T>(in.row(0, i), w2) +
                  k.col_hi[t] * ConstRowMap<T>(in.row(1, i), w2);
            hi += k.col_lo[t] * ConstRowMap<T>(in.row(2, i), w2) +
                  k.col_hi[t] * ConstRowMap<T>(in.row(3, i), w2);
        }
    }
    synthesize_rows(m_lo, m_hi, h, w2, k.row_lo.data(), k.row_hi.data(), k.length, k.pad, w, out,
                    out_stride, m_hi + static_cast<std::ptrdiff_t>(h) * w2);
}

}  // namespace wtconv::cpu
