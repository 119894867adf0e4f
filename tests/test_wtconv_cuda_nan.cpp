// test_wtconv_cuda: NaN propagation. A NaN in x must reach exactly the outputs that it reaches on
// the CPU planewise algorithm, and a NaN in dy exactly the same elements of dx, for every CUDA
// algorithm and dtype; a kernel that reads outside its window, or one that leaves an element
// unwritten (outputs are poisoned with NaN), shows as a mask that differs.
#include <algorithm>
#include <limits>

#include <gtest/gtest.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

// Haar and db2 have no zero taps, so "the taps that touch a NaN" is the same set in every
// implementation: a zero tap would make the mask depend on whether a kernel skips it (0 * NaN).
// Shapes cover 1x1, odd and thin images, even K, L = 0 and L past the halvings, strides 1-3,
// and 1D averaging strides (which spread a NaN over a whole window).
std::vector<WTConvCase> nan_cases() {
    const struct {
        int spatial;
        std::int64_t n, c, h, w;
        int k, levels, stride;
        bool bias;
        const char* wavelet;
    } cfg[] = {
        {2, 1, 1, 1, 1, 3, 1, 1, true, "db1"},   {2, 2, 1, 4, 4, 3, 1, 1, true, "db1"},
        {2, 1, 2, 7, 6, 5, 2, 2, true, "db1"},   {2, 2, 2, 6, 5, 2, 3, 1, false, "db1"},
        {2, 1, 1, 9, 7, 3, 4, 3, true, "haar"},  {2, 1, 2, 8, 8, 5, 0, 2, true, "db1"},
        {2, 1, 1, 17, 13, 4, 3, 1, true, "db1"}, {2, 1, 1, 33, 31, 5, 5, 1, true, "db1"},
        {2, 1, 1, 1, 8, 3, 3, 2, true, "db1"},   {2, 1, 2, 8, 1, 6, 2, 1, false, "db1"},
        {2, 1, 1, 6, 6, 3, 2, 1, true, "db2"},   {2, 2, 1, 7, 5, 4, 2, 1, false, "db2"},
        {2, 1, 2, 21, 18, 7, 3, 1, true, "db1"}, {2, 2, 1, 12, 19, 5, 3, 2, false, "db1"},
        {1, 1, 2, 1, 33, 3, 3, 1, true, "db1"},  {1, 2, 1, 1, 17, 4, 2, 1, true, "db1"},
        {1, 1, 2, 1, 40, 5, 3, 2, true, "db1"},  {1, 1, 1, 1, 29, 3, 2, 3, false, "db1"},
        {1, 1, 1, 1, 1, 3, 2, 1, true, "db1"},   {1, 1, 2, 1, 21, 3, 2, 1, true, "db2"},
    };
    std::vector<WTConvCase> cases;
    std::uint64_t seed = 700;
    for (const auto& c : cfg) {
        for (const DType dtype :
             {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
            WTConvCase tc;
            tc.spatial = c.spatial;
            tc.n = c.n;
            tc.c = c.c;
            tc.h = c.h;
            tc.w = c.w;
            tc.params.kernel_size = c.k;
            tc.params.levels = c.levels;
            tc.params.stride = c.stride;
            tc.params.bias = c.bias;
            tc.params.wavelet = c.wavelet;
            tc.dtype = dtype;
            tc.seed = seed++;
            const Device dev = Device::cuda(0);
            if (wtconv_promised(WTConvAlgo::kDirect, dev, tc) ||
                wtconv_promised(WTConvAlgo::kFused, dev, tc)) {
                cases.push_back(tc);
            }
        }
    }
    return cases;
}

Tensor with_nan_at(const Tensor& t, std::int64_t i, DType dtype) {
    ref::Array a = to_ref(t);
    a.data[static_cast<std::size_t>(i)] = std::numeric_limits<double>::quiet_NaN();
    return from_ref(a, dtype);
}

WTConvWeights as_float64(const WTConvWeights& w) {
    const auto convert = [](const Tensor& t) {
        return t.defined() ? from_ref(to_ref(t), DType::kFloat64) : Tensor();
    };
    WTConvWeights out;
    out.base_weight = convert(w.base_weight);
    out.base_bias = convert(w.base_bias);
    out.base_scale = convert(w.base_scale);
    for (std::size_t i = 0; i < w.wavelet_weight.size(); ++i) {
        out.wavelet_weight.push_back(convert(w.wavelet_weight[i]));
        out.wavelet_scale.push_back(convert(w.wavelet_scale[i]));
    }
    return out;
}

// The index of the first element where the masks differ, or -1.
std::int64_t first_difference(const std::vector<bool>& a, const std::vector<bool>& b) {
    if (a.size() != b.size()) {
        return 0;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i]) {
            return static_cast<std::int64_t>(i);
        }
    }
    return -1;
}

std::int64_t count(const std::vector<bool>& mask) {
    return static_cast<std::int64_t>(std::count(mask.begin(), mask.end(), true));
}

class WTConvCudaNanPropagation : public CudaTestWithParam<WTConvCase> {};

TEST_P(WTConvCudaNanPropagation, NanReachesExactlyTheElementsItReachesOnTheCpu) {
    const WTConvCase& tc = GetParam();
    Rng rng(tc.seed);
    const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype);
    const WTConvWeights w = random_wtconv_weights(rng, tc);
    const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype);

    // The CPU runs float64 on the same (possibly half-rounded) values: which elements turn NaN
    // does not depend on the precision, and the CPU has no half types.
    WTConvCase cpu_case = tc;
    cpu_case.dtype = DType::kFloat64;
    cpu_case.params.algo = WTConvAlgo::kPlanewise;
    Context cpu;
    const WTConvWeights w64 = as_float64(w);
    const Tensor x64 = from_ref(to_ref(x), DType::kFloat64);

    const Device dev = Device::cuda(0);
    Context gpu = cuda_test_context();
    const WTConvWeights wd = to_device(w, dev);
    int algos_run = 0;
    for (int trial = 0; trial < 3; ++trial) {
        const std::int64_t p = rng.uniform_int(0, static_cast<int>(x.numel()) - 1);
        const std::int64_t q = rng.uniform_int(0, static_cast<int>(dy.numel()) - 1);
        const std::vector<bool> want_y =
            nan_mask(wtconv_forward(cpu, cpu_case, with_nan_at(x, p, DType::kFloat64), w64));
        WTConvSaved cpu_saved;
        wtconv_forward(cpu, cpu_case, x64, w64, &cpu_saved);
        const std::vector<bool> want_dx = nan_mask(
            wtconv_backward(cpu, cpu_case, with_nan_at(dy, q, DType::kFloat64), w64, cpu_saved).dx);
        // The test must not pass vacuously: a NaN always reaches some output and some of dx.
        ASSERT_GT(count(want_y), 0) << describe(tc);
        ASSERT_GT(count(want_dx), 0) << describe(tc);

        for (const WTConvAlgo algo : algos_on(dev)) {
            WTConvCase run_case = tc;
            run_case.params.algo = algo;
            if (!wtconv_supports(run_case, algo, dev)) {
                EXPECT_FALSE(wtconv_promised(algo, dev, tc))
                    << wtconv_algo_name(algo) << " unsupported for " << describe(tc);
                continue;
            }
            ++algos_run;
            const std::vector<bool> got_y =
                nan_mask(wtconv_forward(gpu, run_case, with_nan_at(x, p, tc.dtype).to(dev), wd));
            const std::int64_t y_at = first_difference(got_y, want_y);
            EXPECT_EQ(y_at, -1) << "y element " << y_at << " differs (NaN on "
                                << (y_at >= 0 && got_y[y_at] ? "CUDA" : "the CPU")
                                << ") with a NaN at x element " << p << ", "
                                << wtconv_algo_name(algo) << ", " << describe(tc);
            EXPECT_EQ(count(got_y), count(want_y));

            WTConvSaved saved;
            wtconv_forward(gpu, run_case, x.to(dev), wd, &saved);
            const WTConvGrads g =
                wtconv_backward(gpu, run_case, with_nan_at(dy, q, tc.dtype).to(dev), wd, saved);
            const std::vector<bool> got_dx = nan_mask(g.dx);
            const std::int64_t dx_at = first_difference(got_dx, want_dx);
            EXPECT_EQ(dx_at, -1) << "dx element " << dx_at << " differs (NaN on "
                                 << (dx_at >= 0 && got_dx[dx_at] ? "CUDA" : "the CPU")
                                 << ") with a NaN at dy element " << q << ", "
                                 << wtconv_algo_name(algo) << ", " << describe(tc);
        }
    }
    EXPECT_GT(algos_run, 0) << "no CUDA algorithm ran " << describe(tc);
}

INSTANTIATE_TEST_SUITE_P(EveryRankAndDtype,
                         WTConvCudaNanPropagation,
                         testing::ValuesIn(nan_cases()),
                         param_name);

}  // namespace
}  // namespace wtconv::test
