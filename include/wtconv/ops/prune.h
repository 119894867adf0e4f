#pragma once
// Pruning mask math on host weight tensors (COMPRESSION.md 2 and 4): magnitude masks (unstructured
// and per-channel structured), minimum-weight and random masks, DWT pruning of conv weights, and
// the IterativePruner sparsity schedule. Masks have the weight's shape and dtype, 1 = keep, 0 =
// prune.
#include <cstdint>
#include <string>
#include <vector>

#include <wtconv/context.h>
#include <wtconv/ops/dwt.h>
#include <wtconv/tensor.h>

namespace wtconv {

// Every weight argument: a defined host float32 or float64 tensor with at least one element;
// anything else throws Error naming it (kNotSupported for a CUDA tensor). Decisions (|w|, norms,
// thresholds, comparisons) are made in the weight's dtype, as the seeds do.

// 2.1: k = floor(numel * sparsity) (Python's int() of the double product); k = 0 gives all ones;
// else thr = the k-th smallest |w| and mask = |w| > thr (strict: ties with thr are pruned too).
// sparsity in [0, 1).
Tensor magnitude_mask(const Tensor& w, double sparsity);

// 2.2: L2 norm of every slice along dim (over all other axes), k = floor(size(dim) * sparsity),
// k = 0 gives all ones, else keep a slice iff its norm > the k-th smallest norm; broadcast to w.
// sparsity in [0, 1); dim in [-rank, rank) (0 = output channels, what the pruners use).
Tensor structured_mask(const Tensor& w, double sparsity, int dim = 0);

// 4.3 ("min"): prune exactly k = floor(numel * percentage) entries, those of smallest |w|, ties
// broken by flat index (lower first). percentage in [0, 1].
Tensor min_weight_mask(const Tensor& w, double percentage);

// 4.4 ("random"): prune count distinct flat indices drawn uniformly without replacement (partial
// Fisher-Yates) by std::mt19937_64 seeded with seed, indices bounded by rejection sampling, so a
// seed gives the same mask on every platform. Whatever values w holds (zeros may be hit again).
// count in [0, numel].
Tensor random_mask(const Tensor& w, std::int64_t count, std::uint64_t seed);

// 4.2 step 3: what the percentile is taken over.
enum class DwtPrunePopulation {
    kCoefficients,  // |every coefficient| (wtconv's default)
    kCoeffArray,    // plus pywt.coeffs_to_array's zero padding of every slice (seed 001)
};
DwtPrunePopulation dwt_prune_population_from_name(const std::string& name);  // "coefficients",
const char* dwt_prune_population_name(DwtPrunePopulation population);        // "coeff_array"

struct DwtPruneOptions {
    std::string wavelet = "bior4.4";
    DwtMode mode = DwtMode::kPeriodization;
    int level = 1;             // requested, >= 0; capped at dwt_max_level(min(kh, kw), F)
    double percentile = 10.0;  // p in [0, 100], used as given (seed: 100 * tau in floating point)
    DwtPrunePopulation population = DwtPrunePopulation::kCoefficients;
};

struct DwtPruneResult {
    Tensor pruned_weight;                  // w's shape and dtype: waverec2 cropped to kh x kw
    int effective_level = 0;               // min(level, dwt_max_level(min(kh, kw), F))
    double threshold = 0.0;                // the percentile, in w's dtype
    std::int64_t zeroed_coefficients = 0;  // coefficients with |c| < threshold, all slices
    std::int64_t total_coefficients = 0;   // coefficients of all slices (padding excluded)
    std::int64_t coeff_array_padding = 0;  // zero cells of one slice's coeffs_to_array (5.7)
                                           // in the population: 0 for kCoefficients
    std::int64_t pruned_count = 0;         // entries of pruned_weight exactly 0 (the seed's log)
};

// 4.2 on w (O, I, kh, kw): every (o, i) slice transformed by wavedec2 at the effective level, the
// coefficients with |c| < numpy_percentile_linear(population, p) zeroed, waverec2, cropped.
DwtPruneResult dwt_prune(Context& ctx, const Tensor& w, const DwtPruneOptions& options);
DwtPruneResult dwt_prune(const Tensor& w, const DwtPruneOptions& options);

// numpy.percentile(values, percentile) with the default "linear" method, bit for bit (4.2 step
// 4), in the values' precision. values non-empty; percentile in [0, 100].
double numpy_percentile_linear(std::vector<double> values, double percentile);
float numpy_percentile_linear(std::vector<float> values, double percentile);

// 2.5: IterativePruner's schedule.
struct IterativeScheduleOptions {
    double initial_sparsity = 0.0;  // a, in [0, 1)
    double final_sparsity = 0.9;    // f, in [0, 1)
    int num_iterations = 14;        // N >= 0
    int epochs_per_iteration = 3;   // E >= 1; (N + 1) / E - 1 must be > 0
};
// The sparsity in force during epoch >= 0: with i = epoch / E and step = max((f - a) / ((N + 1)
// / E - 1), 0), f when i >= N, else min(max(a + step * i, 0), f), each operation rounded as in
// Python.
double iterative_sparsity(const IterativeScheduleOptions& options, int epoch);
// iterative_sparsity for epochs 0 .. epochs - 1 (epochs >= 0).
std::vector<double> iterative_schedule(const IterativeScheduleOptions& options, int epochs);

}  // namespace wtconv
