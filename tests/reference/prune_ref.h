// Independent double-precision reference for the pruning math (COMPRESSION.md 2.1, 2.2, 2.5,
// 4.2-4.4, 5.7): full sorts, explicit loops, the coeffs_to_array layout built cell by cell; only
// the standard library and the DWT reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reference/wtconv_ref.h"

namespace wtconv::ref {

// 2.1: k = int(n * s); k = 0 keeps all; else keep |w| > (k-th smallest |w|).
Array magnitude_mask(const Array& w, double sparsity);
// 2.2: L2 norm per index of dim over all other axes, the same rule on the norms.
Array structured_mask(const Array& w, double sparsity, int dim);
// 4.3: the k = int(n * percentage) smallest |w| pruned, ties by lower flat index first.
Array min_weight_mask(const Array& w, double percentage);
// 4.4 as wtconv documents it: std::mt19937_64(seed), partial Fisher-Yates over the flat indices,
// each draw uniform in [0, n - i) by rejecting raw values below 2^64 mod (n - i).
Array random_mask(const Array& w, int64_t count, uint64_t seed);

// numpy.percentile, "linear" method (4.2 step 4).
double percentile_linear(std::vector<double> values, double percentile);

struct DwtPruneRef {
    Array pruned;  // (O, I, kh, kw)
    int effective_level = 0;
    double threshold = 0.0;
    int64_t zeroed = 0;               // coefficients with |c| < threshold
    int64_t total = 0;                // coefficients of all slices
    int64_t coeff_array_padding = 0;  // per slice, counted in the population (0 unless coeff_array)
    int64_t pruned_count = 0;         // exact zeros of pruned
};
// 4.2 on w (O, I, kh, kw), one slice at a time.
DwtPruneRef dwt_prune(const Array& w,
                      const FilterBank& fb,
                      const std::string& mode,
                      int level,
                      double percentile,
                      bool coeff_array);

// 2.5 as the seed's Python reads.
double iterative_sparsity(double initial, double final, int num_iterations, int epe, int epoch);

}  // namespace wtconv::ref
