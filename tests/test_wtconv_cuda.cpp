// test_wtconv_cuda: the CUDA algorithms (direct and fused) of wtconv2d and wtconv1d against the
// double reference on edge shapes and at least 1000 seeded random configurations, every run with
// poisoned outputs; kAuto on CUDA against kAuto on the CPU. The other aspects live beside it in
// test_wtconv_cuda_*.cpp. Every test that touches the GPU skips without one.
#include <array>
#include <cstdlib>
#include <map>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <wtconv/cuda_memory.h>
#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

// The CPU suites' edge shapes (float64 and float32), plus in float16 and bfloat16 those the fused
// algorithm, the only one for the half types, is promised to run.
std::vector<WTConvCase> cuda_edge_cases(int spatial) {
    std::vector<WTConvCase> cases = wtconv_edge_cases(spatial);
    if (spatial == 2) {
        // Shapes the random sizes (at most 37 but for a few large ones) never give the fused
        // kernels: whole planes with blocks past 256 threads (63x65 K5 L2: 288), and level 2
        // strips that outnumber a band's threads (64x18 K3 L2, 64x36 K7 L3, 33x35 K5 L2); tiles
        // over odd widths, the last ones cut by the image, whose finished rows go out through
        // shared memory: 64x64 with a thread a task (99x101 K5 L2), 32x32 with twice the threads
        // (97x99 K7 L3); a row wider than the block (1x1001 K3 L1: 1001 columns, 128 threads);
        // weight-gradient blocks that walk several whole planes (200 channels: a block a
        // channel, 4 planes each, dy's levels staged with x's and, at L3, one built after); and
        // more channels than a grid's y dimension holds (65537); weight-gradient tiles whose x
        // level 0 is narrowed to the tile plus R (160x164 K5 L3 and 120x124 K3 L4: 64-pixel tiles,
        // the last ones cut by the image; 100x92 K7 L3 at stride 3 and 136x132 K5 L4 at stride 2,
        // dy zero-upsampled).
        std::uint64_t seed = 7000;
        for (const auto& [n, c, h, w, k, levels, stride] :
             {std::array<int, 7>{2, 3, 63, 65, 5, 2, 1}, std::array<int, 7>{2, 3, 64, 18, 3, 2, 1},
              std::array<int, 7>{2, 3, 64, 36, 7, 3, 1}, std::array<int, 7>{2, 3, 33, 35, 5, 2, 1},
              std::array<int, 7>{2, 3, 99, 101, 5, 2, 1}, std::array<int, 7>{2, 3, 97, 99, 7, 3, 1},
              std::array<int, 7>{2, 3, 1, 1001, 3, 1, 1}, std::array<int, 7>{4, 200, 8, 8, 3, 1, 1},
              std::array<int, 7>{4, 200, 16, 16, 3, 3, 1},
              std::array<int, 7>{1, 65537, 2, 2, 3, 1, 1},
              std::array<int, 7>{1, 2, 160, 164, 5, 3, 1},
              std::array<int, 7>{2, 3, 120, 124, 3, 4, 1},
              std::array<int, 7>{1, 2, 100, 92, 7, 3, 3},
              std::array<int, 7>{1, 2, 136, 132, 5, 4, 2}}) {
            WTConvCase tc;
            tc.n = n;
            tc.c = c;
            tc.h = h;
            tc.w = w;
            tc.params.kernel_size = k;
            tc.params.levels = levels;
            tc.params.stride = stride;
            tc.params.wavelet = "db1";
            tc.dtype = DType::kFloat32;
            tc.seed = seed++;
            cases.push_back(tc);
        }
    }
    const std::size_t full = cases.size();
    for (std::size_t i = 0; i < full; ++i) {
        for (const DType half : {DType::kFloat16, DType::kBFloat16}) {
            WTConvCase tc = cases[i];
            tc.dtype = half;
            if (cases[i].dtype == DType::kFloat32 &&
                wtconv_promised(WTConvAlgo::kFused, Device::cuda(0), tc)) {
                cases.push_back(tc);
            }
        }
    }
    return cases;
}

// Each promised algorithm must have run: expect_matches already fails when one reports itself
// unsupported; this also catches algos_on() losing one.
void expect_promised_ran(const WTConvCase& tc, const AlgoRuns& runs) {
    for (const WTConvAlgo algo : {WTConvAlgo::kDirect, WTConvAlgo::kFused}) {
        if (wtconv_promised(algo, Device::cuda(0), tc)) {
            EXPECT_TRUE(runs.ran_algo(algo))
                << wtconv_algo_name(algo) << " did not run " << describe(tc);
        }
    }
    EXPECT_FALSE(runs.ran.empty()) << "no CUDA algorithm ran " << describe(tc);
}

class WTConvCudaEdge : public CudaTestWithParam<WTConvCase> {};

TEST_P(WTConvCudaEdge, EveryCudaAlgorithmMatchesForwardAndEveryGradient) {
    Context ctx = cuda_test_context();
    expect_promised_ran(GetParam(), expect_matches_reference(ctx, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(WTConv2d,
                         WTConvCudaEdge,
                         testing::ValuesIn(cuda_edge_cases(2)),
                         param_name);
INSTANTIATE_TEST_SUITE_P(WTConv1d,
                         WTConvCudaEdge,
                         testing::ValuesIn(cuda_edge_cases(1)),
                         param_name);

// The random configurations run in batches: ctest starts one process per test, and one per case
// would spend far more on CUDA start-up than on the case (a few ms on the GPU, about 1 ms of host
// reference on average, 50 ms at most at 128x128). A batch builds its references on every core,
// then runs the GPU from the test's thread.
constexpr int kRandomCases = 1000;
constexpr int kCasesPerBatch = 25;

const std::vector<WTConvCase>& random_cases() {
    static const std::vector<WTConvCase> cases = wtconv_cuda_random_cases(kRandomCases);
    return cases;
}

int random_batches() {
    const int n = static_cast<int>(random_cases().size());
    return (n + kCasesPerBatch - 1) / kCasesPerBatch;
}

class WTConvCudaRandom : public CudaTestWithParam<int> {};

TEST_P(WTConvCudaRandom, EveryCudaAlgorithmMatchesForwardAndEveryGradient) {
    const std::vector<WTConvCase>& all = random_cases();
    const std::size_t begin = static_cast<std::size_t>(GetParam()) * kCasesPerBatch;
    const std::size_t end = std::min(all.size(), begin + kCasesPerBatch);
    const int count = static_cast<int>(end - begin);

    // An exception may not leave an OpenMP region: each is kept and reported on this thread.
    std::vector<ReferenceRun> refs(static_cast<std::size_t>(count));
    std::vector<std::string> failures(static_cast<std::size_t>(count));
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < count; ++i) {
        try {
            refs[static_cast<std::size_t>(i)] = make_reference(all[begin + i]);
        } catch (const std::exception& e) {
            failures[static_cast<std::size_t>(i)] = e.what();
        }
    }

    Context ctx = cuda_test_context();
    std::map<WTConvAlgo, int> ran;
    for (int i = 0; i < count; ++i) {
        const WTConvCase& tc = all[begin + i];
        if (!failures[static_cast<std::size_t>(i)].empty()) {
            ADD_FAILURE() << "reference failed: " << failures[static_cast<std::size_t>(i)]
                          << " for " << describe(tc);
            continue;
        }
        const AlgoRuns runs = expect_matches(ctx, tc, refs[static_cast<std::size_t>(i)]);
        expect_promised_ran(tc, runs);
        for (const WTConvAlgo algo : runs.ran) {
            ++ran[algo];
        }
    }
    // Recorded in the XML report, so that a run shows how much each algorithm was exercised.
    RecordProperty("cases", count);
    RecordProperty("direct_runs", ran[WTConvAlgo::kDirect]);
    RecordProperty("fused_runs", ran[WTConvAlgo::kFused]);
}

std::string batch_name(const testing::TestParamInfo<int>& batch) {
    return "batch" + std::to_string(batch.param);
}

INSTANTIATE_TEST_SUITE_P(Seeded, WTConvCudaRandom, testing::Range(0, random_batches()), batch_name);
// WTCONV_CUDA_RANDOM_CASES=0 leaves no batch, which is no error.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(WTConvCudaRandom);

// The generator itself: without a GPU this is the one random-case test that runs, so a change
// that starves an algorithm, a dtype or a shape class of cases shows on any machine.
TEST(WTConvCudaRandomCases, CoverEveryAlgorithmDtypeAndShapeClass) {
    const std::vector<WTConvCase>& all = random_cases();
    const char* env = std::getenv("WTCONV_CUDA_RANDOM_CASES");
    if (env != nullptr && *env != '\0') {
        GTEST_SKIP() << "WTCONV_CUDA_RANDOM_CASES=" << env << " shrinks the set below its coverage";
    }
    ASSERT_GE(all.size(), 1000u);
    std::map<std::string, int> seen;
    for (const WTConvCase& tc : all) {
        ++seen[std::string(dtype_name(tc.dtype)) + (is_haar(tc) ? " haar" : " other")];
        seen["haar name"] += tc.params.wavelet == "haar" ? 1 : 0;
        ++seen[std::to_string(tc.spatial) + "d"];
        seen["large"] += tc.h * tc.w >= 4096 || tc.w >= 1000 ? 1 : 0;
        seen["1x1"] += tc.h == 1 && tc.w == 1 && tc.spatial == 2 ? 1 : 0;
        seen["1xW"] += tc.h == 1 && tc.w > 1 && tc.spatial == 2 ? 1 : 0;
        seen["Hx1"] += tc.h > 1 && tc.w == 1 ? 1 : 0;
        seen["even K"] += tc.params.kernel_size % 2 == 0 ? 1 : 0;
        seen["K8"] += tc.params.kernel_size == 8 ? 1 : 0;
        seen["L0"] += tc.params.levels == 0 ? 1 : 0;
        seen["L5"] += tc.params.levels == 5 ? 1 : 0;
        seen["stride4"] += tc.params.stride == 4 ? 1 : 0;
        seen["no bias"] += tc.params.bias ? 0 : 1;
        const bool fused = wtconv_promised(WTConvAlgo::kFused, Device::cuda(0), tc);
        seen["fused"] += fused;
        // rows no multiple of 8 bytes: staged by address-aligned 16-byte chunks (x, dx's input and
        // the weight gradients' dy at stride 1; fused runs WTConv2d only)
        const bool odd_rows = tc.params.stride == 1 &&
                              tc.w * static_cast<std::int64_t>(dtype_size(tc.dtype)) % 8 != 0;
        seen[std::string("fused odd rows ") + dtype_name(tc.dtype)] += fused && odd_rows;
        seen["direct"] += wtconv_promised(WTConvAlgo::kDirect, Device::cuda(0), tc);
    }
    for (const char* key :
         {"float32 haar", "float64 haar", "float16 haar", "bfloat16 haar", "float32 other",
          "float64 other", "haar name", "2d", "1d", "large", "1x1", "1xW", "Hx1", "even K", "K8",
          "L0", "L5", "stride4", "no bias"}) {
        EXPECT_GE(seen[key], 5) << key;
    }
    EXPECT_GE(seen["fused"], 150);
    for (const char* key :
         {"fused odd rows float32", "fused odd rows float16", "fused odd rows bfloat16"}) {
        EXPECT_GE(seen[key], 5) << key;
    }
    EXPECT_GE(seen["direct"], 500);
}

// kAuto picks each device's own algorithm; the two must agree as closely as each agrees with the
// reference (both are within about 1e-6 of it in float32 at these sizes).
class WTConvCudaAuto : public CudaTest {};

TEST_F(WTConvCudaAuto, AgreesWithCpuAutoOnForwardAndEveryGradient) {
    const struct {
        int spatial;
        std::int64_t n, c, h, w;
        int k, levels, stride;
        const char* wavelet;
        DType dtype;
    } shapes[] = {
        {2, 2, 3, 19, 23, 5, 2, 1, "db1", DType::kFloat32},
        {2, 1, 2, 128, 128, 5, 4, 1, "db1", DType::kFloat32},
        {2, 2, 2, 17, 12, 4, 3, 2, "db1", DType::kFloat64},
        {2, 1, 3, 15, 9, 3, 2, 3, "db2", DType::kFloat32},
        {1, 2, 3, 1, 301, 5, 3, 1, "db1", DType::kFloat32},
        {1, 1, 2, 1, 97, 6, 2, 2, "coif1", DType::kFloat64},
    };
    std::uint64_t seed = 900;
    for (const auto& s : shapes) {
        WTConvCase tc;
        tc.spatial = s.spatial;
        tc.n = s.n;
        tc.c = s.c;
        tc.h = s.h;
        tc.w = s.w;
        tc.params.kernel_size = s.k;
        tc.params.levels = s.levels;
        tc.params.stride = s.stride;
        tc.params.wavelet = s.wavelet;
        tc.params.algo = WTConvAlgo::kAuto;
        tc.dtype = s.dtype;
        tc.seed = seed++;
        ASSERT_TRUE(wtconv_supports(tc, WTConvAlgo::kAuto, Device::cuda(0))) << describe(tc);
        Rng rng(tc.seed);
        const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype);
        const WTConvWeights w = random_wtconv_weights(rng, tc);
        const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype);
        Context cpu;
        const WTConvRun want = wtconv_run(cpu, tc, x, w, dy);

        Context gpu = cuda_test_context();
        const Device dev = Device::cuda(0);
        const WTConvRun got = wtconv_run(gpu, tc, x.to(dev), to_device(w, dev), dy.to(dev));

        EXPECT_LT(rel_l2_error(got.y, to_ref(want.y)), tolerance(tc.dtype)) << "y " << describe(tc);
        for (const GradError& e : gradient_errors(got.grads, to_ref(want.grads), tc)) {
            EXPECT_LT(e.error, tolerance(tc.dtype)) << e.name << ", " << describe(tc);
        }
    }
}

}  // namespace
}  // namespace wtconv::test
