// test_wavkan_cuda, continued: float16 and bfloat16 storage against the double reference, and the
// fused kernels' size limit. Every test skips without a GPU (CudaTest).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/ops/wavkan.h>

#include "support/test_support.h"
#include "support/wavkan_cases.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

const Device kCuda = Device::cuda(0);

class WavKanCudaStorage : public CudaTest {};

// float16 and bfloat16 storage (float sums): the CPU suite's random configurations in each half
// type, a quarter of them unfused, against the double reference of the stored inputs. Tolerance,
// per result: the larger of 8 u (the result and its intermediates z, SiLU(x) and G stored, each
// rounded once or, with the base branch, twice) and 6 times the error that rounding to storage
// causes there (the inputs, and batch norm's z and G: wavkan_expected_errors with the half type's
// u). The worst seen was 1.1 times that estimate (H100, 2026-11-24), so 6 leaves room without
// letting a systematic error of the storage type's size pass (the CPU suite's 30 did: 13 % in
// bfloat16).
TEST_F(WavKanCudaStorage, HalfStorageMatchesTheReference) {
    Context ctx = cuda_test_context();
    const int count = random_case_count(100);
    for (const DType dtype : {DType::kFloat16, DType::kBFloat16}) {
        const double u = unit_roundoff(dtype);
        double worst = 0, worst_ratio = 0;
        const std::vector<WavKanCase> cases = wavkan_random_cases(count);
        for (std::size_t n = 0; n < cases.size() && !HasFailure(); ++n) {
            WavKanCase tc = cases[n];
            tc.dtype = dtype;
            WavKanParams p = wavkan_params(tc);
            p.algo = n % 4 == 0 ? WavKanAlgo::kUnfused : WavKanAlgo::kFused;
            const WavKanInputs in = random_wavkan_inputs(tc);
            const WavKanResult got =
                wavkan_result_on_host(run_wavkan(ctx, wavkan_inputs_on(in, kCuda), p));
            const std::vector<WavKanError> cond = wavkan_expected_errors(in, p, tc.seed + 1);
            const std::vector<WavKanError> errors = wavkan_errors(got, in, p);
            ASSERT_EQ(errors.size(), cond.size()) << describe(tc);
            for (std::size_t k = 0; k < errors.size(); ++k) {
                const double tol = std::max(8 * u, 6 * cond[k].error);
                EXPECT_LT(errors[k].error, tol)
                    << errors[k].name << ", " << wavkan_algo_name(p.algo) << ", " << describe(tc);
                worst = std::max(worst, errors[k].error);
                worst_ratio = std::max(worst_ratio, errors[k].error / tol);
            }
        }
        std::printf("[ worst    ] %s, %d cases: error %.3g, error / tolerance %.3g\n",
                    dtype_name(dtype), count, worst, worst_ratio);
    }
}

// The forward in a half type at sizes of many slices and tiles (partial tiles of 64; 200 inputs:
// seven slices of 32), both ways it copies: by pairs (even inputs, 4-byte aligned rows:
// asynchronous) and one value at a time (201 inputs), against the unfused composition
// in the same storage (both sum the widened values in float and round once: at most an ulp apart,
// relative L2 well under 2 u).
TEST_F(WavKanCudaStorage, HalfForwardByPairsAndBySinglesMatchesTheUnfused) {
    Context ctx = cuda_test_context();
    Rng rng(71);
    // (batch, outputs): 300 x 70 takes 10 tiles, so the inputs are split (4 ways on an H100) and a
    // block walks at most 2 slices; 1030 x 1030 takes 289 tiles, which walk all 7 slices each, so
    // every copy buffer is refilled after it has been read.
    struct Size {
        std::int64_t batch, outputs;
    };
    for (const DType dtype : {DType::kFloat16, DType::kBFloat16}) {
        for (const std::int64_t inputs : {200, 201}) {
            for (const auto& [wavelet, size] :
                 {std::pair{KanWavelet::kShannon, Size{300, 70}},
                  std::pair{KanWavelet::kMorlet, Size{300, 70}},
                  std::pair{KanWavelet::kShannon, Size{1030, 1030}}}) {
                const Shape edges{size.outputs, inputs};
                const auto normal = [&](const Shape& shape) {
                    return random_normal(rng, shape, DType::kFloat32).to(dtype).to(kCuda);
                };
                const WavKanWeights w{Tensor::full(edges, 1.5, DType::kFloat32).to(dtype).to(kCuda),
                                      normal(edges),
                                      normal(edges),
                                      Tensor(),
                                      Tensor(),
                                      Tensor()};
                const Tensor x = normal({size.batch, inputs});
                WavKanParams fused;
                fused.wavelet = wavelet;
                fused.batchnorm = false;
                WavKanParams unfused = fused;
                unfused.algo = WavKanAlgo::kUnfused;
                const std::vector<double> yf =
                    wavkan_forward(ctx, x, w, fused).to(Device::cpu()).to_vector();
                const std::vector<double> yu =
                    wavkan_forward(ctx, x, w, unfused).to(Device::cpu()).to_vector();
                EXPECT_LT(rel_l2_error(yf, yu), 2 * unit_roundoff(dtype))
                    << dtype_name(dtype) << ", " << inputs << " inputs, "
                    << kan_wavelet_name(wavelet) << ", " << size.batch << " x " << size.outputs;
            }
        }
    }
}

// The fused kernels put the batch (forward, dx) and out_features (edge gradients) on gridDim.y,
// 65535 tiles of 32: past that the op refuses either size with kNotSupported before launching
// anything, and the unfused composition runs.
TEST_F(WavKanCudaStorage, RowsPastTheGridLimitAreRefusedByName) {
    Context ctx = cuda_test_context();
    constexpr std::int64_t kPast = std::int64_t{65535} * 64 + 1;
    WavKanParams p;
    p.batchnorm = false;
    const auto full = [](const Shape& s, double v) {
        return Tensor::full(s, v, DType::kFloat32, kCuda);
    };
    // B past the limit, one input and output
    const WavKanWeights one{full({1, 1}, 1.0), full({1, 1}, 0.0), full({1, 1}, 0.5),
                            Tensor(),          Tensor(),          Tensor()};
    const Tensor x = full({kPast, 1}, 0.25);
    expect_error_all([&] { wavkan_forward(ctx, x, one, p); }, ErrorCode::kNotSupported,
                     {"batch", std::to_string(kPast), "kUnfused"});
    WavKanParams unfused = p;
    unfused.algo = WavKanAlgo::kUnfused;
    const Tensor y = wavkan_forward(ctx, x, one, unfused);
    // w psi(u) at u = 0.25 for every sample: 0.5 C (u^2 - 1) exp(-u^2 / 2), C WAVKAN.md's
    // mexican hat constant
    const double want = 0.5 * 0.8673250705840776 * (0.0625 - 1.0) * std::exp(-0.03125);
    const std::vector<double> got = y.to(Device::cpu()).to_vector();
    EXPECT_NEAR(got.front(), want, 1e-6);
    EXPECT_NEAR(got.back(), want, 1e-6);
}

// out_features has no limit of its own (the tiles of outputs go to gridDim.x, the backward's
// chunks are at most 16): past what used to be refused (65535 tiles of 32), fused and unfused
// agree, forward and backward. In float64: dx sums 2.1 M terms of either sign, whose float32
// rounding (1.6e-5 between the two orders) says nothing about the limit.
TEST_F(WavKanCudaStorage, ManyOutputsMatchTheUnfused) {
    Context ctx = cuda_test_context();
    constexpr std::int64_t kOutputs = std::int64_t{65535} * 32 + 1;
    Rng rng(61);
    const auto normal = [&](const Shape& s) {
        return random_normal(rng, s, DType::kFloat64, kCuda);
    };
    const WavKanWeights wide{Tensor::full({kOutputs, 2}, 0.8, DType::kFloat64, kCuda),
                             normal({kOutputs, 2}),
                             normal({kOutputs, 2}),
                             Tensor(),
                             Tensor(),
                             Tensor()};
    const Tensor x = normal({3, 2});
    const Tensor dy = normal({3, kOutputs});
    WavKanParams fused;
    fused.batchnorm = false;
    WavKanParams unfused = fused;
    unfused.algo = WavKanAlgo::kUnfused;
    WavKanSaved saved_f, saved_u;
    const Tensor yf = wavkan_forward(ctx, x, wide, fused, nullptr, &saved_f);
    const Tensor yu = wavkan_forward(ctx, x, wide, unfused, nullptr, &saved_u);
    EXPECT_LT(rel_l2_error(yf.to(Device::cpu()), to_ref(yu)), 1e-12);
    const WavKanGrads gf = wavkan_backward(ctx, dy, wide, fused, saved_f);
    const WavKanGrads gu = wavkan_backward(ctx, dy, wide, unfused, saved_u);
    EXPECT_LT(rel_l2_error(gf.dx.to(Device::cpu()), to_ref(gu.dx)), 1e-10);
    EXPECT_LT(rel_l2_error(gf.dweights.scale.to(Device::cpu()), to_ref(gu.dweights.scale)), 1e-10);
}

}  // namespace
}  // namespace wtconv::test
