// The pruning reference: COMPRESSION.md 2.1, 2.2, 2.5 and 4.2-4.4 with full sorts and loops.
#include "reference/prune_ref.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>

#include "reference/dwt_ref.h"

namespace wtconv::ref {

namespace {

Array ones_like(const Array& w) {
    Array m(w.shape);
    std::fill(m.data.begin(), m.data.end(), 1.0);
    return m;
}

// a * b rounded on its own, as Python and numpy round it: in C++ GCC contracts a + b * c into one
// fused multiply-add where the target has FMA (-march=native), even under -std=c++17.
double mul(double a, double b) {
    const volatile double p = a * b;
    return p;
}

// 1-based k-th smallest of values (full sort).
double kth_smallest(std::vector<double> values, int64_t k) {
    std::sort(values.begin(), values.end());
    return values[static_cast<size_t>(k - 1)];
}

}  // namespace

Array magnitude_mask(const Array& w, double sparsity) {
    const int64_t k = static_cast<int64_t>(static_cast<double>(w.numel()) * sparsity);
    Array m = ones_like(w);
    if (k == 0) {
        return m;
    }
    std::vector<double> mags;
    for (const double v : w.data) {
        mags.push_back(std::fabs(v));
    }
    const double thr = kth_smallest(mags, k);
    for (size_t i = 0; i < w.data.size(); ++i) {
        m.data[i] = std::fabs(w.data[i]) > thr ? 1.0 : 0.0;
    }
    return m;
}

Array structured_mask(const Array& w, double sparsity, int dim) {
    const int rank = static_cast<int>(w.shape.size());
    dim = dim < 0 ? dim + rank : dim;
    const int64_t c = w.shape[static_cast<size_t>(dim)];
    // Flat index -> index along dim, by unravelling it.
    const auto channel_of = [&](int64_t i) {
        int64_t along = 0;
        for (int d = rank - 1; d >= 0; --d) {
            const int64_t size = w.shape[static_cast<size_t>(d)];
            if (d == dim) {
                along = i % size;
            }
            i /= size;
        }
        return along;
    };
    std::vector<double> norms(static_cast<size_t>(c), 0.0);
    for (int64_t i = 0; i < w.numel(); ++i) {
        norms[static_cast<size_t>(channel_of(i))] +=
            w.data[static_cast<size_t>(i)] * w.data[static_cast<size_t>(i)];
    }
    for (double& n : norms) {
        n = std::sqrt(n);
    }
    const int64_t k = static_cast<int64_t>(static_cast<double>(c) * sparsity);
    Array m = ones_like(w);
    if (k == 0) {
        return m;
    }
    const double thr = kth_smallest(norms, k);
    for (int64_t i = 0; i < w.numel(); ++i) {
        m.data[static_cast<size_t>(i)] =
            norms[static_cast<size_t>(channel_of(i))] > thr ? 1.0 : 0.0;
    }
    return m;
}

Array min_weight_mask(const Array& w, double percentage) {
    const int64_t k = static_cast<int64_t>(static_cast<double>(w.numel()) * percentage);
    std::vector<std::pair<double, int64_t>> order;
    for (int64_t i = 0; i < w.numel(); ++i) {
        order.emplace_back(std::fabs(w.data[static_cast<size_t>(i)]), i);
    }
    std::sort(order.begin(), order.end());  // by |w|, then by index
    Array m = ones_like(w);
    for (int64_t j = 0; j < k; ++j) {
        m.data[static_cast<size_t>(order[static_cast<size_t>(j)].second)] = 0.0;
    }
    return m;
}

Array random_mask(const Array& w, int64_t count, uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::vector<int64_t> idx(static_cast<size_t>(w.numel()));
    std::iota(idx.begin(), idx.end(), 0);
    Array m = ones_like(w);
    for (int64_t i = 0; i < count; ++i) {
        const uint64_t range = static_cast<uint64_t>(w.numel() - i);
        const uint64_t low = (~range + 1) % range;  // 2^64 mod range
        uint64_t x = gen();
        while (x < low) {
            x = gen();
        }
        std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(i + int64_t(x % range))]);
        m.data[static_cast<size_t>(idx[static_cast<size_t>(i)])] = 0.0;
    }
    return m;
}

double percentile_linear(std::vector<double> a, double percentile) {
    std::sort(a.begin(), a.end());
    const int64_t n = static_cast<int64_t>(a.size());
    const double pos = (percentile / 100.0) * static_cast<double>(n - 1);
    const int64_t lo = static_cast<int64_t>(std::floor(pos));
    const int64_t hi = std::min(lo + 1, n - 1);
    const double t = pos - static_cast<double>(lo);
    const double d = a[static_cast<size_t>(hi)] - a[static_cast<size_t>(lo)];
    return t >= 0.5 ? a[static_cast<size_t>(hi)] - mul(d, 1 - t)
                    : a[static_cast<size_t>(lo)] + mul(d, t);
}

DwtPruneRef dwt_prune(const Array& w,
                      const FilterBank& fb,
                      const std::string& mode,
                      int level,
                      double percentile,
                      bool coeff_array) {
    const int64_t o = w.shape[0], in = w.shape[1], kh = w.shape[2], kw = w.shape[3];
    DwtPruneRef r;
    r.effective_level =
        std::min(level, dwt_max_level(std::min(kh, kw), static_cast<int>(fb.dec_lo.size())));
    std::vector<Dwt2> slices;
    std::vector<double> population;
    for (int64_t s = 0; s < o * in; ++s) {
        Array x({kh, kw});
        std::copy(w.data.begin() + s * kh * kw, w.data.begin() + (s + 1) * kh * kw, x.data.begin());
        slices.push_back(wavedec2(x, fb, mode, r.effective_level));
        const Dwt2& c = slices.back();
        std::vector<const Array*> bands{&c.approx};
        for (const DwtLevel& d : c.details) {
            bands.insert(bands.end(), {&d.bands[0], &d.bands[1], &d.bands[2]});
        }
        for (const Array* b : bands) {
            for (const double v : b->data) {
                population.push_back(std::fabs(v));
            }
            r.total += b->numel();
        }
        if (coeff_array) {  // 5.7: lay the slice out and count the cells nothing covers
            int64_t rows = c.approx.shape[0], cols = c.approx.shape[1];
            for (const DwtLevel& d : c.details) {
                rows += d.bands[0].shape[0];
                cols += d.bands[0].shape[1];
            }
            std::vector<bool> covered(static_cast<size_t>(rows * cols), false);
            const auto cover = [&](int64_t r0, int64_t c0, const Array& b) {
                for (int64_t y = 0; y < b.shape[0]; ++y) {
                    for (int64_t xx = 0; xx < b.shape[1]; ++xx) {
                        covered[static_cast<size_t>((r0 + y) * cols + c0 + xx)] = true;
                    }
                }
            };
            cover(0, 0, c.approx);
            int64_t fr = c.approx.shape[0], fc = c.approx.shape[1];  // extent filled so far
            for (const DwtLevel& d : c.details) {
                cover(fr, 0, d.bands[0]);   // cH below
                cover(0, fc, d.bands[1]);   // cV right
                cover(fr, fc, d.bands[2]);  // cD diagonal
                fr += d.bands[0].shape[0];
                fc += d.bands[0].shape[1];
            }
            r.coeff_array_padding = std::count(covered.begin(), covered.end(), false);
            population.insert(population.end(), static_cast<size_t>(r.coeff_array_padding), 0.0);
        }
    }
    r.threshold = percentile_linear(population, percentile);
    r.pruned = Array(w.shape);
    for (int64_t s = 0; s < o * in; ++s) {
        Dwt2& c = slices[static_cast<size_t>(s)];
        std::vector<Array*> bands{&c.approx};
        for (DwtLevel& d : c.details) {
            bands.insert(bands.end(), {&d.bands[0], &d.bands[1], &d.bands[2]});
        }
        for (Array* b : bands) {
            for (double& v : b->data) {
                if (std::fabs(v) < r.threshold) {
                    v = 0.0;
                    ++r.zeroed;
                }
            }
        }
        const Array rec = waverec2(c, fb, mode);
        for (int64_t y = 0; y < kh; ++y) {
            for (int64_t x = 0; x < kw; ++x) {
                const double v = rec.data[static_cast<size_t>(y * rec.shape[1] + x)];
                r.pruned.data[static_cast<size_t>((s * kh + y) * kw + x)] = v;
                r.pruned_count += v == 0.0 ? 1 : 0;
            }
        }
    }
    return r;
}

double iterative_sparsity(double initial, double final, int num_iterations, int epe, int epoch) {
    const double step =
        std::max((final - initial) / (static_cast<double>(num_iterations + 1) / epe - 1), 0.0);
    const int i = epoch / epe;
    if (i >= num_iterations) {
        return final;
    }
    return std::min(std::max(initial + mul(step, i), 0.0), final);
}

}  // namespace wtconv::ref
