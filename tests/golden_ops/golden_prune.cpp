// Golden cases of prune (COMPRESSION.md 7.3), by method: magnitude_unstructured,
// magnitude_structured, min_weight (masks and pruned weights exact, num_prune checked), dwt (pruned
// weight by relative L2 with the same zeros, effective level, threshold, padding, pruned count) in
// float64 and float32, and iterative_schedule (exact). A case the library cannot run fails.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include <wtconv/ops/prune.h>

#include "golden_ops/golden_support.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

double meta_double(const io::SafetensorsFile& f, const std::string& key) {
    return std::stod(golden_meta(f, key));  // shortest repr of a double: read back exactly
}
int meta_int(const io::SafetensorsFile& f, const std::string& key) {
    return std::stoi(golden_meta(f, key));
}

void expect_tensors(const io::SafetensorsFile& f, std::set<std::string> expected) {
    std::set<std::string> stored;
    for (const auto& [name, t] : f.tensors) {
        stored.insert(name);
    }
    ASSERT_EQ(stored, expected);
}

// Exact equality (shape and every value) of got and the stored tensor rounded to got's dtype.
void expect_exact(const Tensor& got, const io::SafetensorsFile& f, const std::string& name) {
    const Tensor want = golden_tensor(f, name).to(got.dtype());
    ASSERT_EQ(got.shape(), want.shape()) << name;
    EXPECT_EQ(got.to_vector(), want.to_vector()) << name;
}

std::int64_t zeros(const Tensor& t) {
    const std::vector<double> v = t.to_vector();
    return std::count(v.begin(), v.end(), 0.0);
}

void run_mask_case(const io::SafetensorsFile& f, const std::string& method, DType dtype) {
    expect_tensors(f, {"weight", "mask", "pruned_weight"});
    const Tensor w = golden_tensor(f, "weight").to(dtype);
    Tensor mask;
    if (method == "magnitude_unstructured") {
        ASSERT_EQ(golden_meta(f, "scope"), "per_tensor");
        ASSERT_EQ(golden_meta(f, "criterion"), "abs");
        mask = magnitude_mask(w, meta_double(f, "sparsity"));
        EXPECT_EQ(zeros(mask), meta_int(f, "num_prune"));  // tie-free weights: exactly k
    } else if (method == "magnitude_structured") {
        ASSERT_EQ(golden_meta(f, "norm"), "L2");
        const int dim = meta_int(f, "dim");
        mask = structured_mask(w, meta_double(f, "sparsity"), dim);
        EXPECT_EQ(zeros(mask), meta_int(f, "num_prune") * (w.numel() / w.size(dim)));
    } else {
        mask = min_weight_mask(w, meta_double(f, "percentage"));
        EXPECT_EQ(zeros(mask), meta_int(f, "num_prune"));
    }
    EXPECT_EQ(mask.dtype(), dtype);
    expect_exact(mask, f, "mask");
    Tensor pruned = w.clone();
    pruned.mul_(mask);
    expect_exact(pruned, f, "pruned_weight");
}

void run_dwt_case(const io::SafetensorsFile& f, DType dtype) {
    expect_tensors(f, {"weight", "pruned_weight"});
    DwtPruneOptions o;
    o.wavelet = golden_meta(f, "wavelet");
    o.mode = dwt_mode_from_name(golden_meta(f, "mode"));
    o.level = meta_int(f, "level");
    o.percentile = meta_double(f, "percentile");
    o.population = dwt_prune_population_from_name(golden_meta(f, "population"));
    const DwtPruneResult r = dwt_prune(golden_tensor(f, "weight").to(dtype), o);

    const Tensor want = golden_tensor(f, "pruned_weight");
    ASSERT_EQ(r.pruned_weight.shape(), want.shape());
    EXPECT_EQ(r.pruned_weight.dtype(), dtype);
    const double tol = golden_tolerance(dtype);
    EXPECT_LT(rel_l2_error(r.pruned_weight, to_ref(want)), tol);
    // Pruning decisions are discrete and every golden coefficient is >= 1e-4 away from the
    // threshold (COMPRESSION.md 6), so the zeros sit where pywt put them in either dtype.
    const std::vector<double> got_v = r.pruned_weight.to_vector(), want_v = want.to_vector();
    for (std::size_t i = 0; i < want_v.size(); ++i) {
        EXPECT_EQ(got_v[i] == 0.0, want_v[i] == 0.0) << "zero pattern at flat index " << i;
    }
    EXPECT_EQ(r.effective_level, meta_int(f, "effective_level"));
    EXPECT_EQ(r.coeff_array_padding, meta_int(f, "coeff_array_padding"));
    EXPECT_EQ(r.pruned_count, meta_int(f, "pruned_count"));
    const double thr = meta_double(f, "threshold");
    EXPECT_NEAR(r.threshold, thr, tol * std::abs(thr));
    if (r.effective_level == 0) {  // the identity transform: magnitude pruning, exact values
        expect_exact(r.pruned_weight, f, "pruned_weight");
    }
}

void run_schedule_case(const io::SafetensorsFile& f) {
    expect_tensors(f, {"schedule"});
    IterativeScheduleOptions o;
    o.initial_sparsity = meta_double(f, "initial_sparsity");
    o.final_sparsity = meta_double(f, "final_sparsity");
    o.num_iterations = meta_int(f, "num_iterations");
    o.epochs_per_iteration = meta_int(f, "epochs_per_iteration");
    const std::vector<double> got = iterative_schedule(o, meta_int(f, "epochs"));
    EXPECT_EQ(got, golden_tensor(f, "schedule").to_vector());  // bit for bit (2.5)
}

void run_prune_case(const std::string& path, DType dtype) {
    SCOPED_TRACE(path + " in " + dtype_name(dtype));
    const io::SafetensorsFile f = io::read_safetensors(path);
    const std::string method = golden_meta(f, "method");
    if (method == "magnitude_unstructured" || method == "magnitude_structured" ||
        method == "min_weight") {
        run_mask_case(f, method, dtype);
    } else if (method == "dwt") {
        run_dwt_case(f, dtype);
    } else if (method == "iterative_schedule") {
        run_schedule_case(f);
    } else {
        FAIL() << "unknown prune method \"" << method << "\"";
    }
}

class GoldenPruneCase : public testing::Test {
public:
    GoldenPruneCase(std::string path, DType dtype) : path_(std::move(path)), dtype_(dtype) {}
    void TestBody() override { run_prune_case(path_, dtype_); }

private:
    std::string path_;
    DType dtype_;
};

}  // namespace

bool register_golden_prune(const std::string& op, const std::vector<std::string>& paths) {
    for (const std::string& path : paths) {
        const std::string stem = fs::path(path).stem().string();
        // A schedule has no tensor input: one run. Weights run in both dtypes.
        const auto meta = io::read_safetensors(path).metadata;
        const auto method = meta.find("method");  // a missing one fails in the test, not here
        const bool schedule = method != meta.end() && method->second == "iterative_schedule";
        for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
            if (schedule && dtype == DType::kFloat32) {
                continue;
            }
            const std::string name =
                stem + (schedule ? std::string() : std::string("_") + dtype_name(dtype)) + "_cpu";
            const std::string suite = "Golden_" + op;
            testing::RegisterTest(
                suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                [=]() -> testing::Test* { return new GoldenPruneCase(path, dtype); });
        }
    }
    return true;
}

}  // namespace wtconv::test
