// test_prune: every mask and DWT pruning against the double reference on seeded random weights
// (float64 and float32), ties, k = 0, the random mask's seed semantics, the iterative schedule bit
// for bit, the reference against the golden cases, and bad input with its message.
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <wtconv/io/safetensors.h>
#include <wtconv/ops/prune.h>

#include "reference/prune_ref.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {
namespace {

constexpr DType kDtypes[] = {DType::kFloat64, DType::kFloat32};

// A random shape of rank 1..4 with sizes 1..9.
Shape random_shape(Rng& rng) {
    std::vector<std::int64_t> s(static_cast<std::size_t>(rng.uniform_int(1, 4)));
    for (auto& d : s) {
        d = rng.uniform_int(1, 9);
    }
    return Shape(s);
}
double uniform01(Rng& rng) {
    return static_cast<double>(rng.next() >> 11) * 0x1.0p-53;  // [0, 1)
}
// The weight as the reference sees it: its values in its own dtype, exactly, as doubles.
ref::Array as_ref(const Tensor& w) {
    return to_ref(w);
}
std::string where(const Tensor& w, double s, DType dtype) {
    std::ostringstream out;
    out << "WTCONV_TEST_SEED=" << test_seed() << " weight " << w.shape() << " " << dtype_name(dtype)
        << " fraction " << s;
    return out.str();
}
std::int64_t zeros(const Tensor& t) {
    const std::vector<double> v = t.to_vector();
    return std::count(v.begin(), v.end(), 0.0);
}

TEST(PruneMagnitude, MatchesReferenceOnRandomWeights) {
    Rng rng(test_seed() ^ 0x3a9u);
    for (int c = 0; c < random_case_count(300); ++c) {
        const DType dtype = kDtypes[c % 2];
        const Tensor w = random_normal(rng, random_shape(rng), dtype);
        const double s = c % 10 == 0 ? 0.0 : uniform01(rng);
        const Tensor m = magnitude_mask(w, s);
        EXPECT_EQ(m.dtype(), dtype);
        EXPECT_EQ(m.shape(), w.shape());
        EXPECT_EQ(m.to_vector(), ref::magnitude_mask(as_ref(w), s).data) << where(w, s, dtype);
        // Tie-free normal weights: exactly k = int(n * s) pruned.
        EXPECT_EQ(zeros(m), static_cast<std::int64_t>(static_cast<double>(w.numel()) * s))
            << where(w, s, dtype);
    }
}

TEST(PruneMagnitude, TiesWithTheThresholdArePrunedAndKZeroKeepsAll) {
    // |w| = 0, 0, 0, 1, 1, 2, 2, 3 (signs mixed): k = int(8 * 0.25) = 2, thr = 0 -> 3 pruned.
    const std::vector<double> v{0.0, -0.0, 1.0, -1.0, 2.0, 0.0, -2.0, 3.0};
    for (const DType dtype : kDtypes) {
        const Tensor w = Tensor::from_vector(v, Shape{2, 4}).to(dtype);
        EXPECT_EQ(magnitude_mask(w, 0.25).to_vector(),
                  (std::vector<double>{0, 0, 1, 1, 1, 0, 1, 1}));
        // k = int(8 * 0.5) = 4, thr = 1: both |w| = 1 go with the zeros, 5 pruned.
        EXPECT_EQ(magnitude_mask(w, 0.5).to_vector(),
                  (std::vector<double>{0, 0, 0, 0, 1, 0, 1, 1}));
        EXPECT_EQ(magnitude_mask(w, 0.12).to_vector(), std::vector<double>(8, 1.0));  // k = 0
        EXPECT_EQ(magnitude_mask(w, 0.0).to_vector(), std::vector<double>(8, 1.0));
    }
    // k = int(n * s) of the double product, truncated: 10 * 0.29 = 2.9 gives 2.
    const Tensor ten =
        Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Shape{10});
    EXPECT_EQ(zeros(magnitude_mask(ten, 0.7)), 7);
    EXPECT_EQ(zeros(magnitude_mask(ten, 0.29)), 2);  // 2.9 truncates
}

TEST(PruneStructured, MatchesReferenceOnRandomWeightsAndDims) {
    Rng rng(test_seed() ^ 0x57cu);
    for (int c = 0; c < random_case_count(300); ++c) {
        const DType dtype = kDtypes[c % 2];
        const Tensor w = random_normal(rng, random_shape(rng), dtype);
        const int dim = rng.uniform_int(-w.dim(), w.dim() - 1);
        const double s = c % 10 == 0 ? 0.0 : uniform01(rng);
        const Tensor m = structured_mask(w, s, dim);
        EXPECT_EQ(m.dtype(), dtype);
        EXPECT_EQ(m.to_vector(), ref::structured_mask(as_ref(w), s, dim).data)
            << where(w, s, dtype) << " dim " << dim;
    }
}

TEST(PruneStructured, PrunesWholeChannelsWithTiesAndKeepsAllAtKZero) {
    // Output channels with norms 1, 2, 1, 3 (channel 2 ties channel 0): k = int(4 * 0.25) = 1,
    // thr = 1, both tied channels go.
    const Tensor w = Tensor::from_vector(std::vector<double>{1, 0, 0, 2, 0, 1, 3, 0}, Shape{4, 2});
    EXPECT_EQ(structured_mask(w, 0.25, 0).to_vector(),
              (std::vector<double>{0, 0, 1, 1, 0, 0, 1, 1}));
    // dim 1: columns have norms sqrt(10) and sqrt(5): k = int(2 * 0.5) = 1 drops column 1.
    EXPECT_EQ(structured_mask(w, 0.5, 1).to_vector(),
              (std::vector<double>{1, 0, 1, 0, 1, 0, 1, 0}));
    EXPECT_EQ(structured_mask(w, 0.2, 0).to_vector(), std::vector<double>(8, 1.0));  // k = 0
}

TEST(PruneMinWeight, MatchesReferenceAndPrunesExactlyKWithIndexTieBreak) {
    Rng rng(test_seed() ^ 0x111u);
    for (int c = 0; c < random_case_count(200); ++c) {
        const DType dtype = kDtypes[c % 2];
        Tensor w = random_normal(rng, random_shape(rng), dtype);
        if (c % 3 == 0) {  // many ties: values rounded to a coarse grid
            std::vector<double> v = w.to_vector();
            for (double& e : v) {
                e = std::round(e * 2.0) / 2.0;
            }
            w = Tensor::from_vector(v, w.shape()).to(dtype);
        }
        const double pct = c % 7 == 0 ? 1.0 : uniform01(rng);
        const Tensor m = min_weight_mask(w, pct);
        EXPECT_EQ(m.to_vector(), ref::min_weight_mask(as_ref(w), pct).data) << where(w, pct, dtype);
        EXPECT_EQ(zeros(m), static_cast<std::int64_t>(static_cast<double>(w.numel()) * pct));
    }
    // Ties at the cut: |w| = 1 at indices 1, 2, 4; k = int(5 * 0.6) = 3 takes 0 (|w| = 0.5) and
    // the two lowest-indexed of them.
    const Tensor w = Tensor::from_vector(std::vector<double>{0.5, -1, 1, 2, 1}, Shape{5});
    EXPECT_EQ(min_weight_mask(w, 0.6).to_vector(), (std::vector<double>{0, 0, 0, 1, 1}));
}

TEST(PruneRandom, SeededUniformSubsetOfExactlyCount) {
    const Tensor w = Tensor::zeros(Shape{6, 7}, DType::kFloat32);  // values do not matter
    for (const std::int64_t count : {0, 1, 5, 41, 42}) {
        for (const std::uint64_t seed : {0u, 1u, 12345u}) {
            const Tensor m = random_mask(w, count, seed);
            EXPECT_EQ(m.dtype(), DType::kFloat32);
            EXPECT_EQ(zeros(m), count);
            EXPECT_EQ(m.to_vector(), random_mask(w, count, seed).to_vector());
            EXPECT_EQ(m.to_vector(), ref::random_mask(as_ref(w), count, seed).data);
        }
    }
    EXPECT_NE(random_mask(w, 10, 1).to_vector(), random_mask(w, 10, 2).to_vector());
    // Uniform: over 4000 seeds each of 42 indices is pruned about 4000 * 10 / 42 = 952 times
    // (binomial sd ~27); 6 sd either way would flag a biased draw, never a fair one.
    std::vector<int> hits(42, 0);
    for (std::uint64_t seed = 0; seed < 4000; ++seed) {
        const std::vector<double> v = random_mask(w, 10, seed).to_vector();
        for (std::size_t i = 0; i < v.size(); ++i) {
            hits[i] += v[i] == 0.0 ? 1 : 0;
        }
    }
    for (const int h : hits) {
        EXPECT_NEAR(h, 952.4, 6 * 26.7);
    }
}

struct DwtPruneCase {
    std::string wavelet;
    DwtMode mode;
    std::int64_t o, i, kh, kw;
    int level;
    double percentile;
    bool coeff_array;
    DType dtype;
};

TEST(PruneDwt, MatchesReferenceOnRandomKernels) {
    Rng rng(test_seed() ^ 0xd07u);
    const char* wavelets[] = {"haar",  "db1",     "db2",     "sym3",
                              "coif1", "bior2.2", "bior4.4", "rbio1.3"};
    const DwtMode modes[] = {DwtMode::kPeriodization, DwtMode::kSymmetric, DwtMode::kZero,
                             DwtMode::kPeriodic,      DwtMode::kSmooth,    DwtMode::kReflect,
                             DwtMode::kAntireflect,   DwtMode::kConstant,  DwtMode::kAntisymmetric};
    for (int c = 0; c < random_case_count(400); ++c) {
        DwtPruneCase tc{wavelets[c % 8],       modes[(c / 8) % 9],     rng.uniform_int(1, 3),
                        rng.uniform_int(1, 3), rng.uniform_int(1, 11), rng.uniform_int(1, 11),
                        rng.uniform_int(0, 5), 100.0 * uniform01(rng), c % 3 == 0,
                        kDtypes[c % 2]};
        const Tensor w = random_normal(rng, Shape{tc.o, tc.i, tc.kh, tc.kw}, tc.dtype);
        DwtPruneOptions o;
        o.wavelet = tc.wavelet;
        o.mode = tc.mode;
        o.level = tc.level;
        o.percentile = tc.percentile;
        o.population =
            tc.coeff_array ? DwtPrunePopulation::kCoeffArray : DwtPrunePopulation::kCoefficients;
        const DwtPruneResult got = dwt_prune(w, o);
        const ref::DwtPruneRef want =
            ref::dwt_prune(as_ref(w), reference_filter_bank(tc.wavelet), dwt_mode_name(tc.mode),
                           tc.level, tc.percentile, tc.coeff_array);
        std::ostringstream what;
        what << where(w, tc.percentile, tc.dtype) << " " << tc.wavelet << " "
             << dwt_mode_name(tc.mode) << " L" << tc.level
             << (tc.coeff_array ? " coeff_array" : "");
        EXPECT_EQ(got.pruned_weight.shape(), w.shape()) << what.str();
        EXPECT_EQ(got.effective_level, want.effective_level) << what.str();
        EXPECT_EQ(got.total_coefficients, want.total) << what.str();
        EXPECT_EQ(got.coeff_array_padding, want.coeff_array_padding) << what.str();
        // float32 coefficients and threshold are rounded once more than the reference's: the
        // decisions agree (random data is nowhere near a tie), the values to float32 rounding.
        const bool f64 = tc.dtype == DType::kFloat64;
        EXPECT_NEAR(got.threshold, want.threshold, (f64 ? 1e-12 : 1e-6) * want.threshold)
            << what.str();
        EXPECT_EQ(got.zeroed_coefficients, want.zeroed) << what.str();
        EXPECT_EQ(got.pruned_count, want.pruned_count) << what.str();
        EXPECT_LT(rel_l2_error(got.pruned_weight, want.pruned), f64 ? 1e-12 : 1e-5) << what.str();
    }
}

TEST(PruneDwt, LevelZeroIsPercentileMagnitudePruning) {
    // bior4.4 caps every 3x3 kernel at level 0 (4.2): 81 values at p = 50 have an integral
    // position, so the median itself survives and 40 (not 41) are pruned.
    Rng rng(test_seed() ^ 0x81u);
    const Tensor w = random_normal(rng, Shape{3, 3, 3, 3}, DType::kFloat64);
    DwtPruneOptions o;  // defaults: bior4.4, periodization
    o.level = 5;
    o.percentile = 50.0;
    const DwtPruneResult r = dwt_prune(w, o);
    EXPECT_EQ(r.effective_level, 0);
    EXPECT_EQ(r.pruned_count, 40);
    EXPECT_EQ(r.zeroed_coefficients, 40);
    const std::vector<double> v = w.to_vector(), p = r.pruned_weight.to_vector();
    for (std::size_t i = 0; i < v.size(); ++i) {
        EXPECT_EQ(p[i], std::abs(v[i]) < r.threshold ? 0.0 : v[i]);
    }
    o.percentile = 0.0;  // threshold = min |w|: nothing is strictly below it
    EXPECT_EQ(dwt_prune(w, o).pruned_count, 0);
}

TEST(PruneSchedule, MatchesTheSpecExampleAndTheReferenceBitForBit) {
    IterativeScheduleOptions o{0.1, 0.5, 8, 3};
    // 0.1 + 0.2 = 0.30000000000000004 in doubles, as in Python and the golden case.
    EXPECT_EQ(iterative_schedule(o, 8),
              (std::vector<double>{0.1, 0.1, 0.1, 0.1 + 0.2, 0.1 + 0.2, 0.1 + 0.2, 0.5, 0.5}));
    Rng rng(test_seed() ^ 0x5c4u);
    for (int c = 0; c < random_case_count(500); ++c) {
        IterativeScheduleOptions r{uniform01(rng), uniform01(rng), rng.uniform_int(0, 20),
                                   rng.uniform_int(1, 5)};
        if (static_cast<double>(r.num_iterations + 1) / r.epochs_per_iteration - 1 <= 0) {
            continue;
        }
        const int epochs = rng.uniform_int(0, 80);  // past N * E too
        const std::vector<double> got = iterative_schedule(r, epochs);
        ASSERT_EQ(got.size(), static_cast<std::size_t>(epochs));
        for (int e = 0; e < epochs; ++e) {
            EXPECT_EQ(got[static_cast<std::size_t>(e)],
                      ref::iterative_sparsity(r.initial_sparsity, r.final_sparsity,
                                              r.num_iterations, r.epochs_per_iteration, e));
        }
    }
    EXPECT_EQ(iterative_sparsity({0.6, 0.4, 8, 3}, 0), 0.4);  // a > f: clamped to f from the start
}

TEST(PrunePercentile, MatchesNumpyLinearRule) {
    EXPECT_EQ(numpy_percentile_linear(std::vector<double>{4, 1, 3, 2}, 50.0), 2.5);
    EXPECT_EQ(numpy_percentile_linear(std::vector<double>{7}, 30.0), 7.0);
    EXPECT_EQ(numpy_percentile_linear(std::vector<double>{1, 2, 3}, 100.0), 3.0);
    EXPECT_EQ(numpy_percentile_linear(std::vector<float>{1, 2, 3}, 0.0), 1.0f);
    Rng rng(test_seed() ^ 0x9e7u);
    for (int c = 0; c < random_case_count(300); ++c) {
        std::vector<double> v(static_cast<std::size_t>(rng.uniform_int(1, 50)));
        for (double& e : v) {
            e = rng.normal();
        }
        const double p = c % 5 == 0 ? 23.599999999999998 : 100.0 * uniform01(rng);
        EXPECT_EQ(numpy_percentile_linear(v, p), ref::percentile_linear(v, p)) << p;
    }
}

// The reference against pywt/numpy: every golden prune case with a weight (the library meets the
// same files in wtconv_golden_test).
TEST(PruneReference, MatchesEveryGoldenWeightCase) {
    int cases = 0;
    for (const auto& e : std::filesystem::directory_iterator(golden_dir() + "/prune")) {
        const io::SafetensorsFile f = io::read_safetensors(e.path().string());
        const auto& m = f.metadata;
        const std::string method = m.at("method");
        if (method == "iterative_schedule") {
            continue;
        }
        const ref::Array w = to_ref(f.tensors.at("weight"));
        const ref::Array want = to_ref(f.tensors.at("pruned_weight"));
        const std::string name = e.path().filename().string();
        if (method == "dwt") {
            const ref::DwtPruneRef r = ref::dwt_prune(
                w, reference_filter_bank(m.at("wavelet")), m.at("mode"), std::stoi(m.at("level")),
                std::stod(m.at("percentile")), m.at("population") == "coeff_array");
            EXPECT_LT(rel_l2_error(r.pruned.data, want.data), 1e-13) << name;
            EXPECT_EQ(r.effective_level, std::stoi(m.at("effective_level"))) << name;
            EXPECT_EQ(r.coeff_array_padding, std::stoll(m.at("coeff_array_padding"))) << name;
            EXPECT_EQ(r.pruned_count, std::stoll(m.at("pruned_count"))) << name;
            EXPECT_NEAR(r.threshold, std::stod(m.at("threshold")), 1e-13) << name;
        } else {
            const ref::Array mask =
                method == "min_weight" ? ref::min_weight_mask(w, std::stod(m.at("percentage")))
                : method == "magnitude_structured"
                    ? ref::structured_mask(w, std::stod(m.at("sparsity")), std::stoi(m.at("dim")))
                    : ref::magnitude_mask(w, std::stod(m.at("sparsity")));
            EXPECT_EQ(mask.data, to_ref(f.tensors.at("mask")).data) << name;
        }
        ++cases;
    }
    EXPECT_EQ(cases, 17);
}

TEST(PruneBadInput, NamesTheArgumentAndWhatItMustBe) {
    const ErrorCode bad = ErrorCode::kBadArgument;
    const Tensor w = Tensor::full(Shape{2, 3, 3, 3}, 0.5, DType::kFloat32);
    for (const double s : {-0.1, 1.0, std::numeric_limits<double>::quiet_NaN()}) {
        expect_error([&] { magnitude_mask(w, s); }, bad, "sparsity must be in [0, 1)");
        expect_error([&] { structured_mask(w, s); }, bad, "sparsity must be in [0, 1)");
    }
    expect_error([&] { structured_mask(w, 0.5, 4); }, bad, "dim must be in [-4, 4)");
    expect_error([&] { min_weight_mask(w, 1.5); }, bad, "percentage must be in [0, 1], got 1.5");
    expect_error([&] { random_mask(w, 55, 1); }, bad, "count must be in [0, 54]");
    expect_error([&] { random_mask(w, -1, 1); }, bad, "count must be in [0, 54]");
    expect_error([&] { magnitude_mask(Tensor(), 0.5); }, bad, "weight must be a tensor");
    expect_error([&] { magnitude_mask(Tensor::zeros(Shape{4}, DType::kInt32), 0.5); }, bad,
                 "weight must be float32 or float64, got int32");
    expect_error(
        [&] {
            magnitude_mask(Tensor::zeros(Shape{0, 4}, DType::kFloat64), 0.5);
        },
        bad, "at least one element");
    const Tensor nan = Tensor::from_vector(std::vector<double>{1.0, std::nan("")}, Shape{2});
    expect_error([&] { magnitude_mask(nan, 0.5); }, bad,
                 "must not hold NaN, got one at flat index 1");
    DwtPruneOptions o;
    expect_error(
        [&] {
            dwt_prune(Tensor::zeros(Shape{2, 3, 3}, DType::kFloat64), o);
        },
        bad, "weight must be (O, I, kh, kw)");
    o.wavelet = "mexh";
    expect_error([&] { dwt_prune(w, o); }, bad, "wavelet must be a discrete pywt wavelet");
    o = DwtPruneOptions{};
    o.level = -1;
    expect_error([&] { dwt_prune(w, o); }, bad, "level must be >= 0, got -1");
    o = DwtPruneOptions{};
    o.percentile = 100.5;
    expect_error([&] { dwt_prune(w, o); }, bad, "percentile must be in [0, 100]");
    expect_error([&] { dwt_prune_population_from_name("padded"); }, bad, "population must be");
    expect_error([&] { numpy_percentile_linear(std::vector<double>{}, 5.0); }, bad, "at least one");
    // 2.5: (N + 1) / E - 1 = 0 divides by zero in the seed, < 0 never raises the sparsity.
    expect_error([&] { iterative_schedule({0.1, 0.5, 2, 3}, 4); }, bad, "must be > 0");
    expect_error([&] { iterative_schedule({0.1, 0.5, 1, 3}, 0); }, bad, "must be > 0");
    expect_error([&] { iterative_sparsity({0.1, 0.5, 8, 0}, 1); }, bad, "epochs_per_iteration");
    expect_error([&] { iterative_sparsity({0.1, 1.0, 8, 3}, 1); }, bad, "final_sparsity");
    expect_error([&] { iterative_sparsity({0.1, 0.5, 8, 3}, -1); }, bad, "epoch must be >= 0");
    if (cuda_present()) {
        expect_error([&] { magnitude_mask(w.to(Device::cuda(0)), 0.5); }, ErrorCode::kNotSupported,
                     "weight must be a CPU tensor");
    }
}

}  // namespace
}  // namespace wtconv::test
