#pragma once
// Parameter gradients of WTConv2d/1d, deterministically: every (n, c) plane writes its
// contributions to its own row of doubles, then sum_partials_over_batch adds the rows of each
// channel in batch order. The result is bitwise the same for any thread count or schedule.
#include <cstdint>
#include <vector>

#include <wtconv/ops/wtconv.h>

namespace wtconv::cpu {

// Where each parameter's contribution sits in a plane's row: base weight [taps], base bias,
// base scale, then per level: [bands * taps] weights (band-major), [bands] scales.
struct PartialLayout {
    int taps;   // K*K in 2D, K in 1D
    int bands;  // 4 in 2D, 2 in 1D
    int levels;
    int base_bias() const { return taps; }
    int base_scale() const { return taps + 1; }
    int per_level() const { return bands * taps + bands; }
    int level_weight(int i, int band) const { return taps + 2 + i * per_level() + band * taps; }
    int level_scale(int i, int band) const {
        return taps + 2 + i * per_level() + bands * taps + band;
    }
    int total() const { return taps + 2 + levels * per_level(); }
};

// partial: (N * C) rows of layout.total() doubles, plane order n * C + c. Channels are summed in
// parallel; within a channel the batch is added in order, so threads never change the result.
template <class T>
void sum_partials_over_batch(const double* partial,
                             std::int64_t n_img,
                             std::int64_t channels,
                             const PartialLayout& lay,
                             bool bias,
                             int num_threads,
                             WTConvGrads& grads) {
    WTConvWeights& d = grads.dweights;
    // Pointers taken here: nothing inside the parallel loop may throw.
    T* const base_weight = d.base_weight.data<T>();
    T* const base_scale = d.base_scale.data<T>();
    T* const base_bias = bias ? d.base_bias.data<T>() : nullptr;
    std::vector<T*> weight(static_cast<std::size_t>(lay.levels));
    std::vector<T*> scale(static_cast<std::size_t>(lay.levels));
    for (int i = 0; i < lay.levels; ++i) {
        weight[i] = d.wavelet_weight[i].data<T>();
        scale[i] = d.wavelet_scale[i].data<T>();
    }
    const int total = lay.total();
    std::vector<double> sums(static_cast<std::size_t>(channels) * total, 0.0);
#pragma omp parallel for num_threads(num_threads) schedule(static)
    for (std::int64_t c = 0; c < channels; ++c) {
        double* sum = sums.data() + c * total;
        for (std::int64_t n = 0; n < n_img; ++n) {
            const double* row = partial + (n * channels + c) * total;
            for (int j = 0; j < total; ++j) {
                sum[j] += row[j];
            }
        }
        for (int t = 0; t < lay.taps; ++t) {
            base_weight[c * lay.taps + t] = static_cast<T>(sum[t]);
        }
        base_scale[c] = static_cast<T>(sum[lay.base_scale()]);
        if (base_bias != nullptr) {
            base_bias[c] = static_cast<T>(sum[lay.base_bias()]);
        }
        for (int i = 0; i < lay.levels; ++i) {
            for (int band = 0; band < lay.bands; ++band) {
                const std::int64_t q = lay.bands * c + band;
                for (int t = 0; t < lay.taps; ++t) {
                    weight[i][q * lay.taps + t] =
                        static_cast<T>(sum[lay.level_weight(i, band) + t]);
                }
                scale[i][q] = static_cast<T>(sum[lay.level_scale(i, band)]);
            }
        }
    }
}

}  // namespace wtconv::cpu
