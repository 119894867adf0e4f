// WTConv2d and WTConv1d backward checked without the reference: central finite differences for
// x and every parameter, the adjoint (dot-product) test of the linear map x -> y, NaN propagation
// exactly over the receptive field, and bitwise determinism across runs and thread counts.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

// Small float64 configurations: every level count 0-4, strides 1-3, even and odd K, tiny images.
std::vector<WTConvCase> gradcheck_cases(int spatial) {
    const struct {
        int n, c, h, w, k, levels, stride;
        bool bias;
        const char* wavelet;
    } cfg[] = {
        {1, 1, 1, 1, 3, 1, 1, true, "db1"},     {1, 2, 1, 1, 4, 3, 1, true, "db2"},
        {2, 1, 4, 4, 3, 1, 1, true, "db1"},     {1, 2, 5, 3, 3, 2, 1, false, "db1"},
        {1, 1, 7, 6, 5, 2, 2, true, "db1"},     {2, 2, 6, 5, 2, 3, 1, true, "db1"},
        {1, 1, 9, 7, 3, 4, 3, true, "db1"},     {1, 2, 8, 8, 5, 0, 2, true, "db1"},
        {1, 1, 6, 6, 3, 2, 1, true, "db2"},     {2, 1, 7, 5, 4, 2, 1, false, "db2"},
        {1, 1, 5, 9, 3, 3, 2, true, "sym3"},    {1, 2, 6, 7, 1, 2, 1, true, "coif1"},
        {1, 1, 8, 5, 3, 2, 3, true, "bior2.2"}, {1, 1, 7, 7, 5, 1, 1, false, "rbio1.3"},
        {2, 1, 6, 5, 3, 2, 1, true, "db4"},     {1, 1, 2, 3, 6, 2, 2, true, "sym2"},
        {1, 2, 9, 4, 3, 1, 4, true, "bior1.3"}, {1, 1, 4, 7, 7, 2, 1, true, "db3"},
        {1, 1, 3, 3, 3, 2, 1, true, "dmey"},    {2, 2, 5, 5, 2, 1, 1, true, "haar"},
        {1, 1, 1, 8, 3, 3, 2, true, "db1"},     {1, 1, 8, 1, 5, 2, 1, false, "rbio2.2"},
    };
    std::vector<WTConvCase> cases;
    std::uint64_t seed = 500;
    for (const auto& c : cfg) {
        WTConvCase tc;
        tc.spatial = spatial;
        tc.n = c.n;
        tc.c = c.c;
        tc.h = spatial == 2 ? c.h : 1;
        tc.w = spatial == 2 ? c.w : std::max(c.h * c.w, c.stride);
        tc.params.kernel_size = c.k;
        tc.params.levels = c.levels;
        tc.params.stride = c.stride;
        tc.params.bias = c.bias;
        tc.params.wavelet = c.wavelet;
        tc.dtype = DType::kFloat64;
        tc.seed = seed++;
        cases.push_back(tc);
    }
    return cases;
}

double dot(const Tensor& a, const Tensor& b) {
    const std::vector<double> u = a.to_vector();
    const std::vector<double> v = b.to_vector();
    double s = 0.0;
    for (std::size_t i = 0; i < u.size(); ++i) {
        s += u[i] * v[i];
    }
    return s;
}

class WTConvGradcheck : public testing::TestWithParam<WTConvCase> {};

// loss = <y, dy>. y is affine in every single element of x and of each parameter, so the
// central difference is exact but for the rounding of the two losses (a few ulps of |loss|): the
// bound is 1e-9 relative plus that rounding, which matters only where a parameter barely acts
// (deep levels of long filters on tiny images).
TEST_P(WTConvGradcheck, FiniteDifferencesMatchEveryGradient) {
    const WTConvCase& tc = GetParam();
    Rng rng(tc.seed);
    Context ctx;
    Tensor x = random_normal(rng, tc.x_shape(), tc.dtype);
    WTConvWeights w = random_wtconv_weights(rng, tc);
    const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype);
    const WTConvRun run = wtconv_run(ctx, tc, x, w, dy);
    const ref::Grads want = reference_backward(tc, to_ref(x), to_ref(dy), to_ref(w));
    const double loss = std::abs(dot(run.y, dy));

    const auto check = [&](const char* name, Tensor& param, const Tensor& got,
                           const ref::Array& r) {
        const double eps = 0.5;  // any step is exact for an affine function; large beats rounding
        std::vector<double> fd(static_cast<std::size_t>(param.numel()));
        double* v = param.data<double>();
        for (std::int64_t i = 0; i < param.numel(); ++i) {
            const double keep = v[i];
            v[i] = keep + eps;
            const double up = dot(wtconv_forward(ctx, tc, x, w), dy);
            v[i] = keep - eps;
            const double down = dot(wtconv_forward(ctx, tc, x, w), dy);
            v[i] = keep;
            fd[static_cast<std::size_t>(i)] = (up - down) / (2 * eps);
        }
        double fd_norm = 0.0;
        for (const double e : fd) {
            fd_norm += e * e;
        }
        fd_norm = std::sqrt(fd_norm);
        const double rounding = 1e-14 * loss * std::sqrt(static_cast<double>(fd.size())) / eps;
        const double bound = 1e-9 * fd_norm + rounding;
        EXPECT_LE(rel_l2_error(got.to_vector(), fd) * fd_norm, bound)
            << "library " << name << " of " << describe(tc);
        EXPECT_LE(rel_l2_error(r.data, fd) * fd_norm, bound)
            << "reference " << name << " of " << describe(tc);
        EXPECT_GT(fd_norm, 0.0) << name << " does not act at all in " << describe(tc);
    };
    check("dx", x, run.grads.dx, want.dx);
    check("d base_weight", w.base_weight, run.grads.dweights.base_weight,
          want.dweights.base_weight);
    if (tc.params.bias) {
        check("d base_bias", w.base_bias, run.grads.dweights.base_bias, want.dweights.base_bias);
    }
    check("d base_scale", w.base_scale, run.grads.dweights.base_scale, want.dweights.base_scale);
    for (int i = 0; i < tc.params.levels; ++i) {
        check("d wavelet_weight", w.wavelet_weight[i], run.grads.dweights.wavelet_weight[i],
              want.dweights.wavelet_weight[i]);
        check("d wavelet_scale", w.wavelet_scale[i], run.grads.dweights.wavelet_scale[i],
              want.dweights.wavelet_scale[i]);
    }
}

// Without bias x -> y is linear and backward's dx is its adjoint: <y(x), dy> = <x, dx(dy)>.
TEST_P(WTConvGradcheck, InputGradientIsTheAdjointOfTheForwardMap) {
    WTConvCase tc = GetParam();
    tc.params.bias = false;
    Rng rng(tc.seed + 1);
    Context ctx;
    const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype);
    const WTConvWeights w = random_wtconv_weights(rng, tc);
    const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype);
    const WTConvRun run = wtconv_run(ctx, tc, x, w, dy);
    const double lhs = dot(run.y, dy);
    const double rhs = dot(x, run.grads.dx);
    const double scale = std::sqrt(dot(run.y, run.y) * dot(dy, dy)) + 1e-300;
    EXPECT_LT(std::abs(lhs - rhs) / scale, 1e-13) << describe(tc);
}

INSTANTIATE_TEST_SUITE_P(WTConv2d,
                         WTConvGradcheck,
                         testing::ValuesIn(gradcheck_cases(2)),
                         param_name);
INSTANTIATE_TEST_SUITE_P(WTConv1d,
                         WTConvGradcheck,
                         testing::ValuesIn(gradcheck_cases(1)),
                         param_name);

// The receptive field of input element p: where the reference, run with every filter tap, weight
// and scale set to 1 and x = one-hot(p), is non-zero (all terms positive, so nothing cancels).
// Wavelets without zero taps keep "every tap" and "every non-zero tap" the same field.
class WTConvNanPropagation : public testing::TestWithParam<WTConvCase> {};

TEST_P(WTConvNanPropagation, NanReachesExactlyTheOutputsWhoseReceptiveFieldHoldsIt) {
    const WTConvCase& tc = GetParam();
    Rng rng(tc.seed);
    Context ctx;
    const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype);
    const WTConvWeights w = random_wtconv_weights(rng, tc);
    ref::Weights ones = to_ref(w);
    for (ref::Array* a : {&ones.base_weight, &ones.base_scale}) {
        std::fill(a->data.begin(), a->data.end(), 1.0);
    }
    std::fill(ones.base_bias.data.begin(), ones.base_bias.data.end(), 0.0);
    for (int i = 0; i < tc.params.levels; ++i) {
        std::fill(ones.wavelet_weight[i].data.begin(), ones.wavelet_weight[i].data.end(), 1.0);
        std::fill(ones.wavelet_scale[i].data.begin(), ones.wavelet_scale[i].data.end(), 1.0);
    }
    ref::FilterBank fb = reference_filter_bank(tc.params.wavelet);
    for (std::vector<double>* f : {&fb.dec_lo, &fb.dec_hi, &fb.rec_lo, &fb.rec_hi}) {
        std::fill(f->begin(), f->end(), 1.0);
    }
    for (int trial = 0; trial < 4; ++trial) {
        const std::int64_t p = rng.uniform_int(0, static_cast<int>(x.numel()) - 1);
        Tensor xn = x.clone();
        xn.data<double>()[p] = std::nan("");
        ref::Array onehot(tc.x_shape().sizes());
        onehot.data[static_cast<std::size_t>(p)] = 1.0;
        const ref::Config cfg = to_ref_config(tc.params);
        const ref::Array field = tc.spatial == 2 ? ref::wtconv2d_forward(onehot, ones, cfg, fb)
                                                 : ref::wtconv1d_forward(onehot, ones, cfg, fb);
        for (const WTConvAlgo algo : algos_on(Device::cpu())) {
            WTConvCase run_case = tc;
            run_case.params.algo = algo;
            const std::vector<double> y = wtconv_forward(ctx, run_case, xn, w).to_vector();
            std::int64_t reached = 0;
            for (std::size_t i = 0; i < y.size(); ++i) {
                ASSERT_EQ(std::isnan(y[i]), field.data[i] != 0.0)
                    << "output " << i << " with NaN at input " << p << ", "
                    << wtconv_algo_name(algo) << ", " << describe(tc);
                reached += std::isnan(y[i]) ? 1 : 0;
            }
            EXPECT_GT(reached, 0) << describe(tc);  // the test must not pass vacuously
        }
    }
}

std::vector<WTConvCase> nan_cases() {
    std::vector<WTConvCase> cases;
    for (const WTConvCase& tc : gradcheck_cases(2)) {
        if (tc.params.wavelet == "db1" || tc.params.wavelet == "db2") {
            cases.push_back(tc);
        }
    }
    for (const WTConvCase& tc : gradcheck_cases(1)) {
        if (tc.params.wavelet == "db1" && tc.params.stride == 1) {
            cases.push_back(tc);  // 1D stride averages, which spreads NaN over whole windows
        }
    }
    return cases;
}
INSTANTIATE_TEST_SUITE_P(EveryRank,
                         WTConvNanPropagation,
                         testing::ValuesIn(nan_cases()),
                         param_name);

// Each plane's work and the fixed-order batch sum do not depend on the thread count, so outputs
// and gradients are bitwise identical for the same input with 1, 2 or 3 threads.
TEST(WTConvDeterminism, BitwiseIdenticalAcrossRunsAndThreadCounts) {
    for (const auto& [spatial, algo] :
         {std::pair{2, WTConvAlgo::kPlanewise}, std::pair{1, WTConvAlgo::kPlanewise},
          std::pair{2, WTConvAlgo::kDirect}, std::pair{1, WTConvAlgo::kDirect}}) {
        WTConvCase tc;
        tc.spatial = spatial;
        tc.n = 3;
        tc.c = 5;
        tc.h = spatial == 2 ? 23 : 1;
        tc.w = spatial == 2 ? 17 : 301;
        tc.params.levels = 3;
        tc.params.algo = algo;
        tc.dtype = DType::kFloat32;
        Rng rng(77);
        const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype);
        const WTConvWeights w = random_wtconv_weights(rng, tc);
        const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype);
        const auto bytes = [](const WTConvRun& r) {
            std::vector<const Tensor*> all{&r.y, &r.grads.dx, &r.grads.dweights.base_weight,
                                           &r.grads.dweights.base_bias,
                                           &r.grads.dweights.base_scale};
            for (std::size_t i = 0; i < r.grads.dweights.wavelet_weight.size(); ++i) {
                all.push_back(&r.grads.dweights.wavelet_weight[i]);
                all.push_back(&r.grads.dweights.wavelet_scale[i]);
            }
            std::string out;
            for (const Tensor* t : all) {
                out.append(static_cast<const char*>(t->raw_data()), t->nbytes());
            }
            return out;
        };
        Context two(Device::cpu(), ContextOptions{2, false});
        const std::string first = bytes(wtconv_run(two, tc, x, w, dy));
        EXPECT_EQ(first, bytes(wtconv_run(two, tc, x, w, dy))) << "two runs, " << describe(tc);
        for (const int threads : {1, 3}) {
            Context ctx(Device::cpu(), ContextOptions{threads, false});
            EXPECT_EQ(first, bytes(wtconv_run(ctx, tc, x, w, dy)))
                << threads << " threads vs 2, " << wtconv_algo_name(algo) << ", " << describe(tc);
        }
    }
}

}  // namespace
}  // namespace wtconv::test
