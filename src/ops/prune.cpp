// prune: argument checks and the mask math of COMPRESSION.md 2.1, 2.2, 2.5, 4.2-4.4 on host
// tensors. Decisions are made in the weight's dtype; DWT pruning calls the dwt ops.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <utility>

#include <wtconv/ops/prune.h>

#include "common/wavelet_filters.h"

namespace wtconv {

namespace {

using std::int64_t;

// a * b rounded to T on its own: the seeds (Python, numpy) round the product before the sum, while
// GCC contracts a + b * c into one fused multiply-add in C++ (even under -std=c++17) wherever the
// target has FMA (WTCONV_NATIVE), which rounds once and can change the schedule's last bit.
template <class T>
T product(T a, T b) {
    const volatile T p = a * b;
    return p;
}

// f(T{}) with T the C++ type of a weight already checked to be float32 or float64.
template <class F>
void with_type(DType dtype, F&& f) {
    if (dtype == DType::kFloat64) {
        f(double{});
    } else {
        f(float{});
    }
}

// Defined, host, float32 or float64, non-empty; with check_nan, free of NaN (a sort over NaN
// has no order, and the seeds' kthvalue/percentile give no defined answer either).
void check_weight(const Tensor& w, bool check_nan) {
    WTCONV_CHECK(w.defined(), "prune: weight must be a tensor, got an undefined one");
    switch (w.device().type) {  // no default: -Wswitch names this place when DeviceType grows
        case DeviceType::kCpu:
            break;
        case DeviceType::kCuda:
            throw Error(ErrorCode::kNotSupported,
                        detail::concat("prune: weight must be a CPU tensor (pruning masks are ",
                                       "host math), got one on ", w.device().str()));
    }
    WTCONV_CHECK(w.dtype() == DType::kFloat32 || w.dtype() == DType::kFloat64,
                 "prune: weight must be float32 or float64, got ", dtype_name(w.dtype()));
    WTCONV_CHECK(w.numel() >= 1, "prune: weight must have at least one element, got shape ",
                 w.shape());
    if (check_nan) {
        const std::vector<double> v = w.to_vector();
        const auto nan = std::find_if(v.begin(), v.end(), [](double e) { return std::isnan(e); });
        WTCONV_CHECK(nan == v.end(), "prune: weight must not hold NaN, got one at flat index ",
                     nan - v.begin());
    }
}

void check_sparsity(const char* name, double s) {
    WTCONV_CHECK(s >= 0.0 && s < 1.0, "prune: ", name, " must be in [0, 1), got ", s);
}

// Python's int(n * s) for n * s >= 0: truncation of the rounded double product.
int64_t count_of(int64_t n, double fraction) {
    return static_cast<int64_t>(product(static_cast<double>(n), fraction));
}

// A mask like w: 1 where keep(i), else 0.
template <class T, class Keep>
Tensor mask_where(const Tensor& w, Keep&& keep) {
    Tensor m = Tensor::empty(w.shape(), w.dtype());
    T* out = m.data<T>();
    for (int64_t i = 0; i < w.numel(); ++i) {
        out[i] = keep(i) ? T{1} : T{0};
    }
    return m;
}

template <class T>
Tensor magnitude_typed(const Tensor& w, int64_t k) {
    const T* v = w.data<T>();
    std::vector<T> mags(static_cast<std::size_t>(w.numel()));
    std::transform(v, v + w.numel(), mags.begin(), [](T e) { return std::abs(e); });
    std::nth_element(mags.begin(), mags.begin() + (k - 1), mags.end());
    const T thr = mags[static_cast<std::size_t>(k - 1)];  // k-th smallest, 1-based
    return mask_where<T>(w, [&](int64_t i) { return std::abs(v[i]) > thr; });
}

template <class T>
Tensor structured_typed(const Tensor& w, double sparsity, int dim) {
    const Shape& s = w.shape();
    int64_t inner = 1;  // elements per step of dim: flat index i lies in slice (i / inner) % C
    for (int d = dim + 1; d < s.rank(); ++d) {
        inner *= s[d];
    }
    const int64_t channels = s[dim];
    const T* v = w.data<T>();
    // Sums of squares in double, the root rounded once to T: the correctly rounded norm.
    std::vector<double> sq(static_cast<std::size_t>(channels), 0.0);
    for (int64_t i = 0; i < w.numel(); ++i) {
        sq[static_cast<std::size_t>((i / inner) % channels)] +=
            static_cast<double>(v[i]) * static_cast<double>(v[i]);
    }
    std::vector<T> norms(sq.size());
    std::transform(sq.begin(), sq.end(), norms.begin(),
                   [](double e) { return static_cast<T>(std::sqrt(e)); });
    const int64_t k = count_of(channels, sparsity);
    if (k == 0) {
        return Tensor::full(w.shape(), 1.0, w.dtype());
    }
    std::vector<T> sorted = norms;
    std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
    const T thr = sorted[static_cast<std::size_t>(k - 1)];
    return mask_where<T>(w, [&](int64_t i) {
        return norms[static_cast<std::size_t>((i / inner) % channels)] > thr;
    });
}

template <class T>
Tensor min_weight_typed(const Tensor& w, int64_t k) {
    const T* v = w.data<T>();
    std::vector<int64_t> order(static_cast<std::size_t>(w.numel()));
    std::iota(order.begin(), order.end(), int64_t{0});
    // (|w|, flat index) is a total order, so the k smallest are one set whatever the algorithm.
    std::nth_element(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
        const T ma = std::abs(v[a]), mb = std::abs(v[b]);
        return ma < mb || (ma == mb && a < b);
    });
    Tensor m = Tensor::full(w.shape(), 1.0, w.dtype());
    T* out = m.data<T>();
    for (int64_t j = 0; j < k; ++j) {
        out[order[static_cast<std::size_t>(j)]] = T{0};
    }
    return m;
}

// Uniform in [0, range), range >= 1, by rejection: std::uniform_int_distribution's algorithm is
// the standard library's choice, this one is the same everywhere. Values below 2^64 mod range
// are rejected so that the accepted span is a multiple of range.
std::uint64_t uniform_below(std::mt19937_64& gen, std::uint64_t range) {
    const std::uint64_t reject = (std::uint64_t{0} - range) % range;
    std::uint64_t x = gen();
    while (x < reject) {
        x = gen();
    }
    return x % range;
}

template <class T>
T percentile_typed(std::vector<T> a, double percentile) {
    std::sort(a.begin(), a.end());
    const auto n = static_cast<int64_t>(a.size());
    // numpy 1.24: q = p / 100, virtual index (n - 1) * q, then _lerp (4.2 step 4).
    const double pos = product(static_cast<double>(n - 1), percentile / 100.0);
    const auto lo = std::min(static_cast<int64_t>(std::floor(pos)), n - 1);
    const int64_t hi = std::min(lo + 1, n - 1);
    const double t = pos - static_cast<double>(lo);
    const T below = a[static_cast<std::size_t>(lo)];
    const T above = a[static_cast<std::size_t>(hi)];
    const T d = above - below;
    return t >= 0.5 ? above - product(d, static_cast<T>(1.0 - t))
                    : below + product(d, static_cast<T>(t));
}

void check_percentile(std::size_t n, double percentile) {
    WTCONV_CHECK(n >= 1, "prune: percentile needs at least one value, got none");
    WTCONV_CHECK(percentile >= 0.0 && percentile <= 100.0,
                 "prune: percentile must be in [0, 100], got ", percentile);
}

// 4.2 steps 2-7 on the checked weight.
template <class T>
DwtPruneResult dwt_prune_typed(Context& ctx, const Tensor& w, const DwtPruneOptions& o, int level) {
    DwtPruneResult r;
    r.effective_level = level;
    Dwt2Coeffs c = wavedec2(ctx, w, o.wavelet, o.mode, level);  // (O, I, ., .) per band
    std::vector<Tensor*> bands{&c.approx};
    int64_t rows = c.approx.size(-2), cols = c.approx.size(-1), filled = rows * cols;
    for (DwtDetails& d : c.details) {
        bands.insert(bands.end(), {&d.h, &d.v, &d.d});
        rows += d.h.size(-2);
        cols += d.h.size(-1);
        filled += 3 * d.h.size(-2) * d.h.size(-1);
    }
    const int64_t padding = rows * cols - filled;  // 5.7's zero cells of one slice
    std::vector<T> population;
    for (const Tensor* b : bands) {
        const T* v = b->data<T>();
        for (int64_t i = 0; i < b->numel(); ++i) {
            population.push_back(std::abs(v[i]));
        }
    }
    r.total_coefficients = static_cast<int64_t>(population.size());
    if (o.population == DwtPrunePopulation::kCoeffArray) {
        r.coeff_array_padding = padding;
        const int64_t slices = w.size(0) * w.size(1);
        population.resize(population.size() + static_cast<std::size_t>(padding * slices), T{0});
    }
    const T thr = percentile_typed(std::move(population), o.percentile);
    r.threshold = static_cast<double>(thr);
    for (Tensor* b : bands) {
        T* v = b->data<T>();
        for (int64_t i = 0; i < b->numel(); ++i) {
            if (std::abs(v[i]) < thr) {  // strict: a coefficient equal to thr survives
                v[i] = T{0};
                ++r.zeroed_coefficients;
            }
        }
    }
    const Tensor rec = waverec2(ctx, c, o.wavelet, o.mode);  // (O, I, Mh, Mw), Mh >= kh
    const int64_t kh = w.size(2), kw = w.size(3), mh = rec.size(2), mw = rec.size(3);
    r.pruned_weight = Tensor::empty(w.shape(), w.dtype());
    const T* src = rec.data<T>();
    T* dst = r.pruned_weight.data<T>();
    for (int64_t s = 0; s < w.size(0) * w.size(1); ++s) {
        for (int64_t y = 0; y < kh; ++y) {
            for (int64_t x = 0; x < kw; ++x) {
                const T e = src[(s * mh + y) * mw + x];
                dst[(s * kh + y) * kw + x] = e;
                r.pruned_count += e == T{0} ? 1 : 0;
            }
        }
    }
    return r;
}

}  // namespace

Tensor magnitude_mask(const Tensor& w, double sparsity) {
    check_weight(w, true);
    check_sparsity("sparsity", sparsity);
    const int64_t k = count_of(w.numel(), sparsity);
    if (k == 0) {  // the seed's kthvalue raises here; wtconv keeps everything
        return Tensor::full(w.shape(), 1.0, w.dtype());
    }
    Tensor m;
    with_type(w.dtype(), [&](auto tag) { m = magnitude_typed<decltype(tag)>(w, k); });
    return m;
}

Tensor structured_mask(const Tensor& w, double sparsity, int dim) {
    check_weight(w, true);
    check_sparsity("sparsity", sparsity);
    const int rank = w.dim();
    WTCONV_CHECK(rank >= 1 && dim >= -rank && dim < rank, "prune: dim must be in [", -rank, ", ",
                 rank, ") for weight of shape ", w.shape(), ", got ", dim);
    const int d = dim < 0 ? dim + rank : dim;
    Tensor m;
    with_type(w.dtype(), [&](auto tag) { m = structured_typed<decltype(tag)>(w, sparsity, d); });
    return m;
}

Tensor min_weight_mask(const Tensor& w, double percentage) {
    check_weight(w, true);
    WTCONV_CHECK(percentage >= 0.0 && percentage <= 1.0,
                 "prune: percentage must be in [0, 1], got ", percentage);
    const int64_t k = count_of(w.numel(), percentage);
    Tensor m;
    with_type(w.dtype(), [&](auto tag) { m = min_weight_typed<decltype(tag)>(w, k); });
    return m;
}

Tensor random_mask(const Tensor& w, int64_t count, std::uint64_t seed) {
    check_weight(w, false);
    WTCONV_CHECK(count >= 0 && count <= w.numel(), "prune: count must be in [0, ", w.numel(),
                 "] for weight of shape ", w.shape(), ", got ", count);
    std::vector<int64_t> idx(static_cast<std::size_t>(w.numel()));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    std::mt19937_64 gen(seed);
    Tensor m = Tensor::full(w.shape(), 1.0, w.dtype());
    const auto n = static_cast<std::uint64_t>(w.numel());
    for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(count); ++i) {
        const std::uint64_t j = i + uniform_below(gen, n - i);  // partial Fisher-Yates
        std::swap(idx[i], idx[j]);
    }
    with_type(w.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* out = m.data<T>();
        for (int64_t i = 0; i < count; ++i) {
            out[idx[static_cast<std::size_t>(i)]] = T{0};
        }
    });
    return m;
}

DwtPrunePopulation dwt_prune_population_from_name(const std::string& name) {
    if (name == "coefficients") {
        return DwtPrunePopulation::kCoefficients;
    }
    WTCONV_CHECK(name == "coeff_array",
                 "prune: population must be \"coefficients\" or \"coeff_array\", got \"", name,
                 "\"");
    return DwtPrunePopulation::kCoeffArray;
}

const char* dwt_prune_population_name(DwtPrunePopulation population) {
    return population == DwtPrunePopulation::kCoeffArray ? "coeff_array" : "coefficients";
}

DwtPruneResult dwt_prune(Context& ctx, const Tensor& w, const DwtPruneOptions& o) {
    check_weight(w, true);
    WTCONV_CHECK(w.dim() == 4, "prune: weight must be (O, I, kh, kw) for DWT pruning, got ",
                 w.shape());
    const detail::WaveletTaps* taps = detail::find_wavelet(o.wavelet);
    WTCONV_CHECK(taps != nullptr, "prune: wavelet must be a discrete pywt wavelet name, got \"",
                 o.wavelet, "\"");
    WTCONV_CHECK(o.level >= 0, "prune: level must be >= 0, got ", o.level);
    check_percentile(1, o.percentile);
    const int level =
        std::min(o.level, dwt_max_level(std::min(w.size(2), w.size(3)), taps->length));
    DwtPruneResult r;
    with_type(w.dtype(), [&](auto tag) { r = dwt_prune_typed<decltype(tag)>(ctx, w, o, level); });
    return r;
}

DwtPruneResult dwt_prune(const Tensor& w, const DwtPruneOptions& options) {
    return dwt_prune(default_context(Device::cpu()), w, options);
}

double numpy_percentile_linear(std::vector<double> values, double percentile) {
    check_percentile(values.size(), percentile);
    return percentile_typed(std::move(values), percentile);
}

float numpy_percentile_linear(std::vector<float> values, double percentile) {
    check_percentile(values.size(), percentile);
    return percentile_typed(std::move(values), percentile);
}

double iterative_sparsity(const IterativeScheduleOptions& o, int epoch) {
    check_sparsity("initial_sparsity", o.initial_sparsity);
    check_sparsity("final_sparsity", o.final_sparsity);
    WTCONV_CHECK(o.num_iterations >= 0, "prune: num_iterations must be >= 0, got ",
                 o.num_iterations);
    WTCONV_CHECK(o.epochs_per_iteration >= 1, "prune: epochs_per_iteration must be >= 1, got ",
                 o.epochs_per_iteration);
    WTCONV_CHECK(epoch >= 0, "prune: epoch must be >= 0, got ", epoch);
    // Python: (N + 1) / E is true division, exactly rounded like the double quotient here.
    const double raises =
        static_cast<double>(o.num_iterations + 1) / static_cast<double>(o.epochs_per_iteration) -
        1.0;
    WTCONV_CHECK(raises > 0.0,
                 "prune: (num_iterations + 1) / epochs_per_iteration - 1 must be > 0 (the seed "
                 "divides by it), got ",
                 raises, " for num_iterations ", o.num_iterations, " and epochs_per_iteration ",
                 o.epochs_per_iteration);
    const double a = o.initial_sparsity;
    const double f = o.final_sparsity;
    // std::max/min keep the first argument on ties, as Python's max/min do (signed zeros agree).
    const double step = std::max((f - a) / raises, 0.0);
    const int i = epoch / o.epochs_per_iteration;
    if (i >= o.num_iterations) {
        return f;
    }
    return std::min(std::max(a + product(step, static_cast<double>(i)), 0.0), f);
}

std::vector<double> iterative_schedule(const IterativeScheduleOptions& o, int epochs) {
    WTCONV_CHECK(epochs >= 0, "prune: epochs must be >= 0, got ", epochs);
    iterative_sparsity(o, 0);  // checks the options even when epochs = 0
    std::vector<double> s;
    for (int e = 0; e < epochs; ++e) {
        s.push_back(iterative_sparsity(o, e));
    }
    return s;
}

}  // namespace wtconv
