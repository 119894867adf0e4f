#pragma once
// WTConv test cases: edge shapes and seeded random configurations, random weights, conversions to
// the reference, and the comparison of every gradient.
#include <ostream>
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

// db1 or its other name, haar.
bool is_haar(const WTConvCase& tc);

// What the library promises runs, written out here and not asked of it, so that a combination it
// drops fails a test instead of vanishing from it: every CPU algorithm and CUDA direct in float32
// and float64 with every option (ops/wtconv.h); CUDA fused as its backend declares it: WTConv2d,
// wavelet db1, kernel_size 3, 5 or 7, float32, float16 or bfloat16, and levels as far as shared
// memory allows, of which 0-3 are promised here (every kernel size fits them; deeper levels run,
// and are compared, wherever the library says they are supported). kAuto: float32 and float64.
bool wtconv_promised(
    WTConvAlgo algo, Device device, DType dtype, int spatial, const WTConvParams& p);
bool wtconv_promised(WTConvAlgo algo, Device device, const WTConvCase& tc);

// One line that says how to reproduce the case.
std::string describe(const WTConvCase& tc);
// gtest prints a case parameter with this (describe) instead of its bytes.
void PrintTo(const WTConvCase& tc, std::ostream* os);
// A gtest-safe name: n2_c3_7x5_k5_l2_s1_bias_db1_f32_seed7 (f64, f32, f16, bf16).
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
// count seeded random configurations for the CUDA algorithms, both ranks mixed, from test_seed():
// three in five of them Haar (db1 or haar; mostly in the options the fused algorithm is promised
// for, in float32, float64, float16 or bfloat16), the rest other wavelets in float32 or float64;
// mostly small shapes plus some large (128x128, 1xW, Hx1, long 1D signals), K 1-8, L 0-5, stride
// 1-4. Every case has at least one CUDA algorithm promised to run it. $WTCONV_CUDA_RANDOM_CASES
// overrides count (the compute-sanitizer run uses fewer).
std::vector<WTConvCase> wtconv_cuda_random_cases(int count);

// N(0, 1) for every parameter, scales included, so every parameter matters.
WTConvWeights random_wtconv_weights(Rng& rng, const WTConvCase& tc, Device device = Device::cpu());
// A copy of every weight on device (undefined ones stay undefined).
WTConvWeights to_device(const WTConvWeights& w, Device device);
ref::Weights to_ref(const WTConvWeights& w);
ref::Grads to_ref(const WTConvGrads& g);
ref::Config to_ref_config(const WTConvParams& p);

struct GradError {
    std::string name;  // "dx", "d base_weight", "d wavelet_scale[1]", ...
    double error;      // relative L2 against the reference
};
// dx and every parameter gradient against the reference.
std::vector<GradError> gradient_errors(const WTConvGrads& got,
                                       const ref::Grads& want,
                                       const WTConvCase& tc);

}  // namespace wtconv::test
