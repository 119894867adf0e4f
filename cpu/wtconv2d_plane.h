#pragma once
// What the WTConv2d forward and backward share on one (n, c) plane: the level geometry, and the
// analysis cascade A_0 = x, Z_i = DWT(pad_to_even(A_i)), A_{i+1} = Z_i band 0.
#include <cstddef>
#include <vector>

#include "cpu/wavelet_transform.h"

namespace wtconv::cpu {

struct Pyramid2d {
    int levels = 0;
    std::vector<int> h, w;                // size of A_i, i = 0..L; bands of level i are h[i+1] x w[i+1]
    std::vector<std::ptrdiff_t> offset;   // start of level i's 4 bands in a band store
    std::size_t band_elems = 0;           // all levels' bands together

    Pyramid2d(int height, int width, int num_levels) : levels(num_levels) {
        h.push_back(height);
        w.push_back(width);
        for (int i = 0; i < levels; ++i) {
            h.push_back((h.back() + 1) / 2);
            w.push_back((w.back() + 1) / 2);
            offset.push_back(static_cast<std::ptrdiff_t>(band_elems));
            band_elems += 4 * static_cast<std::size_t>(h.back()) * static_cast<std::size_t>(w.back());
        }
    }
    std::ptrdiff_t band_size(int level) const {
        return static_cast<std::ptrdiff_t>(h[level + 1]) * w[level + 1];
    }
    // Elements of the separable transforms' temporary: 2 * rows * ceil(cols / 2) at level 0.
    std::size_t transform_tmp_elems() const {
        return 2 * static_cast<std::size_t>(h[0]) * static_cast<std::size_t>((w[0] + 1) / 2);
    }
};

// Fills the band store with Z_0 .. Z_{L-1} of the plane x.
template <class T>
void analyze_cascade(const T* x, const Pyramid2d& pyr, const SeparableTaps<T>& taps, T* tmp,
                     T* bands) {
    const T* a = x;
    for (int i = 0; i < pyr.levels; ++i) {
        T* z = bands + pyr.offset[i];
        analyze_2d(a, pyr.h[i], pyr.w[i], taps, tmp, z);
        a = z;  // the next level decomposes the RAW LL band
    }
}

}  // namespace wtconv::cpu
