#pragma once
// What the WTConv2d forward and backward share on one (n, c) plane: the level geometry and
// buffer layouts, the Haar-or-generic level transform, and the analysis cascade
// A_0 = x, Z_i = DWT(pad_to_even(A_i)), A_{i+1} = Z_i band 0.
#include <cstddef>
#include <vector>

#include "cpu/depthwise.h"
#include "cpu/haar_transform.h"
#include "cpu/wavelet_transform.h"

namespace wtconv::cpu {

// Two layouts per level: bordered (a conv input: x, dy, Z_i, dT_i; see BorderedShape) and packed
// (a conv output: rows of round_up(w, lanes) elements, so blocks store whole packets).
struct Pyramid2d {
    int levels = 0;
    int lanes = 1;
    std::vector<int> h, w;  // size of A_i, i = 0..L; bands of level i are h[i+1] x w[i+1]
    std::vector<BorderedShape> bordered;  // bordered[i]: an h[i] x w[i] plane
    std::vector<std::size_t> offset;      // start of level i's 4 bordered bands in a band store
    std::size_t band_elems = 0;           // all levels' bordered bands together

    Pyramid2d(int height, int width, int num_levels, int k, int packet_lanes)
        : levels(num_levels), lanes(packet_lanes) {
        h.push_back(height);
        w.push_back(width);
        for (int i = 0; i < levels; ++i) {
            h.push_back((h.back() + 1) / 2);
            w.push_back((w.back() + 1) / 2);
        }
        for (int i = 0; i <= levels; ++i) {
            bordered.emplace_back(h[i], w[i], k, k, lanes);
        }
        for (int i = 0; i < levels; ++i) {
            offset.push_back(band_elems);
            band_elems += 4 * bordered[i + 1].elems();
        }
    }
    int packed_stride(int i) const { return round_up(w[i], lanes); }
    std::size_t packed_elems(int i) const {
        return static_cast<std::size_t>(h[i]) * static_cast<std::size_t>(packed_stride(i));
    }
    // The 4 bands of level i (h[i+1] x w[i+1]) inside a band store.
    template <class T>
    Bands<T> bordered_bands(T* store, int i) const {
        const BorderedShape& s = bordered[i + 1];
        T* base = store + offset[i] + s.origin();
        return Bands<T>{{base, base + s.elems(), base + 2 * s.elems(), base + 3 * s.elems()},
                        s.stride};
    }
    // The 4 bands of level i packed one after another in buf (4 * packed_elems(i + 1) elements).
    template <class T>
    Bands<T> packed_bands(T* buf, int i) const {
        const std::size_t n = packed_elems(i + 1);
        return Bands<T>{{buf, buf + n, buf + 2 * n, buf + 3 * n}, packed_stride(i + 1)};
    }
    // Elements of the generic (non-Haar) transforms' temporary at every level; none for Haar.
    template <class T>
    std::size_t transform_tmp_elems(const WaveletBanks<T>& banks) const {
        const bool haar = is_haar(banks.analysis) && is_haar(banks.synthesis);
        return haar ? 0 : cpu::transform_tmp_elems(h[0], w[0], banks.analysis.pad);
    }
};

// One filter bank applied per level: Haar in closed form, or any wavelet separably (tmp holds
// Pyramid2d::transform_tmp_elems() elements).
template <class T>
struct LevelTransform {
    const SeparableTaps<T>& taps;
    T* tmp;
    bool haar = is_haar(taps);

    // src (h x w) must have a zero row and column after it (a bordered interior).
    void analyze(const T* src, int src_stride, int h, int w, const Bands<T>& out) const {
        if (haar) {
            haar_analyze(src, src_stride, h, w, taps.col_lo[0], out);
        } else {
            analyze_2d(src, src_stride, h, w, taps, tmp, out);
        }
    }
    // out rows must have room for 2 * w_half elements (the crop to w may write one more column).
    void synthesize(
        const Bands<T>& in, int h_half, int w_half, int h, int w, T* out, int out_stride) const {
        if (haar) {
            haar_synthesize(in, h_half, w_half, taps.col_lo[0], h, out, out_stride);
        } else {
            synthesize_2d(in, h_half, w_half, taps, h, w, tmp, out, out_stride);
        }
    }
};

// Fills a bordered band store with Z_0 .. Z_{L-1} of a plane held bordered in buf
// (pyr.bordered[0]).
template <class T>
void analyze_cascade(const T* buf, const Pyramid2d& pyr, const LevelTransform<T>& dwt, T* store) {
    const T* a = buf + pyr.bordered[0].origin();
    int stride = pyr.bordered[0].stride;
    for (int i = 0; i < pyr.levels; ++i) {
        const Bands<T> z = pyr.bordered_bands(store, i);
        dwt.analyze(a, stride, pyr.h[i], pyr.w[i], z);
        a = z.band[0];  // the next level decomposes the RAW LL band
        stride = z.stride;
    }
}

}  // namespace wtconv::cpu
