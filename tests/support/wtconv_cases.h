#pragma once
// WTConv test cases: edge shapes and seeded random configurations, random weights, conversions to
// the reference, and the comparison of every gradient.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/ops/wtconv.h>

#include "support/test_support.h"

namespace wtconv::test {

struct WTConvCase {
    int spatial = 2;  // 2: (N, C, H, W); 1: (N, C, L) with the length in w and h = 1
    std::int64_t n = 1, c = 1, h = 1, w = 1;
    WTConvParams params;
    DType dtype = DType::kFloat64;
    std::uint64_t seed = 1;

    Shape x_shape() const { return spatial == 2 ? Shape{n, c, h, w} : Shape{n, c, w}; }
};

// One line that says how to reproduce the case.
std::string describe(const WTConvCase& tc);
// A gtest-safe name: wtconv2d_n2_c3_7x5_k5_l2_s1_bias_db1_f32.
std::string case_name(const WTConvCase& tc);
// For INSTANTIATE_TEST_SUITE_P: the index (names may repeat across instantiations) and case_name.
std::string param_name(const testing::TestParamInfo<WTConvCase>& info);

// $WTCONV_TEST_SEED, or a fixed default so that plain runs are repeatable.
std::uint64_t test_seed();
// Hand-picked edge shapes (1-pixel images, odd and prime sizes, even K, more levels than
// halvings, every stride rule), each in float64 and float32.
std::vector<WTConvCase> wtconv_edge_cases(int spatial);
// count seeded random configurations (each in one dtype, alternating), from test_seed();
// $WTCONV_TEST_RANDOM_CASES overrides count (the sanitizer build runs fewer).
std::vector<WTConvCase> wtconv_random_cases(int spatial, int count);

// N(0, 1) for every parameter, scales included, so every parameter matters.
WTConvWeights random_wtconv_weights(Rng& rng, const WTConvCase& tc, Device device = Device::cpu());
ref::Weights to_ref(const WTConvWeights& w);
ref::Config to_ref_config(const WTConvParams& p);

// (name, relative L2 error) of dx and every parameter gradient against the reference.
std::vector<std::pair<std::string, double>> gradient_errors(const WTConvGrads& got,
                                                            const ref::Grads& want,
                                                            const WTConvParams& p);

}  // namespace wtconv::test
