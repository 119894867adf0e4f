// test_wavkan_cuda: the Wav-KAN op on CUDA, fused and unfused, against the double reference
// (tests/reference/wavkan_ref.h) on random configurations, bitwise repeatability, bad input, and
// device memory. Every test skips without a GPU (CudaTest). Tolerances, relative L2: float64
// 1e-10 (sums of up to a few thousand terms; batch norm in training over two samples, whose
// gradient is a difference of nearly equal terms, amplifies rounding to 1.2e-11 in the random
// set); float32 1e-5 (the golden README's float32 bound; float32 inputs are fed to the reference
// as their exact values).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <wtconv/cuda_memory.h>
#include <wtconv/layers/wavkan.h>
#include <wtconv/ops/wavkan.h>

#include "reference/wavkan_ref.h"
#include "support/test_support.h"
#include "support/wavkan_cases.h"
#include "support/wavkan_cuda_cases.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

class WavKanCuda : public CudaTest {};

TEST_F(WavKanCuda, RandomConfigurationsMatchTheReference) {
    Context ctx = cuda_test_context();
    Rng rng(4242);
    const int cases = random_case_count(320);
    double worst32 = 0, worst64 = 0;
    for (int n = 0; n < cases; ++n) {
        const Case c = random_case(rng, 5000 + static_cast<std::uint64_t>(n));
        const Inputs in = make_inputs(c);
        const double e = expect_matches(c, run_on(ctx, c, in), reference_of(c, in));
        (c.dtype == DType::kFloat32 ? worst32 : worst64) =
            std::max(c.dtype == DType::kFloat32 ? worst32 : worst64, e);
        if (HasFailure()) {
            break;  // the first failing case says enough
        }
    }
    std::printf("[ worst    ] %d cases: float32 %.3g, float64 %.3g\n", cases, worst32, worst64);
}

TEST_F(WavKanCuda, FusedEqualsTheCpuWithinRounding) {
    Context gpu = cuda_test_context();
    Context cpu(Device::cpu());
    for (const KanWavelet wavelet : kWavelets) {
        Case c{37, 70, 65, WavKanParams{}, DType::kFloat64, 77};
        c.params.wavelet = wavelet;
        c.params.base = true;
        const Inputs in = make_inputs(c);
        const Outputs a = run_on(gpu, c, in), b = run_on(cpu, c, in);
        EXPECT_LT(rel_l2_error(a.y.to(Device::cpu()), to_ref(b.y)), 1e-13) << describe(c);
        EXPECT_LT(rel_l2_error(a.g.dx.to(Device::cpu()), to_ref(b.g.dx)), 1e-13) << describe(c);
        EXPECT_LT(rel_l2_error(a.g.dweights.scale.to(Device::cpu()), to_ref(b.g.dweights.scale)),
                  1e-13)
            << describe(c);
    }
}

TEST_F(WavKanCuda, RepeatedRunsGiveIdenticalBits) {
    Context ctx = cuda_test_context();
    for (const KanWavelet wavelet : kWavelets) {
        for (const WavKanAlgo algo : {WavKanAlgo::kFused, WavKanAlgo::kUnfused}) {
            Case c{65, 97, 33, WavKanParams{}, DType::kFloat32, 91};
            c.params.wavelet = wavelet;
            c.params.algo = algo;
            c.params.base = true;
            const Inputs in = make_inputs(c);
            const Outputs a = run_on(ctx, c, in), b = run_on(ctx, c, in);
            EXPECT_EQ(host_bytes(a.y), host_bytes(b.y)) << describe(c);
            EXPECT_EQ(host_bytes(a.g.dx), host_bytes(b.g.dx)) << describe(c);
            EXPECT_EQ(host_bytes(a.g.dweights.scale), host_bytes(b.g.dweights.scale));
            EXPECT_EQ(host_bytes(a.g.dweights.translation), host_bytes(b.g.dweights.translation));
            EXPECT_EQ(host_bytes(a.g.dweights.wavelet_weights),
                      host_bytes(b.g.dweights.wavelet_weights));
            EXPECT_EQ(host_bytes(a.g.dweights.base_weight), host_bytes(b.g.dweights.base_weight));
            EXPECT_EQ(host_bytes(a.g.dweights.bn_weight), host_bytes(b.g.dweights.bn_weight));
            EXPECT_EQ(host_bytes(a.g.dweights.bn_bias), host_bytes(b.g.dweights.bn_bias));
        }
    }
}

// Every wavelet and both algorithms with batch norm and no base branch: the kernels are all ours,
// so compute-sanitizer's racecheck runs this one (it reports hazards inside cuBLAS's own kernels).
TEST_F(WavKanCuda, KernelsWithoutCublasMatchTheReference) {
    Context ctx = cuda_test_context();
    std::uint64_t seed = 700;
    for (const KanWavelet wavelet : kWavelets) {
        for (const WavKanAlgo algo : {WavKanAlgo::kFused, WavKanAlgo::kUnfused}) {
            Case c{35, 33, 31, WavKanParams{}, DType::kFloat32, seed++};
            c.params.wavelet = wavelet;
            c.params.algo = algo;
            const Inputs in = make_inputs(c);
            expect_matches(c, run_on(ctx, c, in), reference_of(c, in));
        }
    }
}

// A scale so small that |u| overflows: every wavelet at its limit 0 (WAVKAN.md 5), so the edge
// adds nothing and the result equals the same layer with that edge's weight 0.
TEST_F(WavKanCuda, HugeArgumentsGiveTheLimitZero) {
    Context ctx = cuda_test_context();
    // 2 outputs take the thin forward, 70 the tiled one
    for (const auto& [wavelet, outputs] : every_wavelet_with({2, 70})) {
        Case c{5, 3, outputs, WavKanParams{}, DType::kFloat32, 13};
        c.params.wavelet = wavelet;
        c.params.batchnorm = false;
        Inputs in = make_inputs(c);
        std::vector<double> s = in.w.scale.to_vector();
        s[1] = 1e-30;
        in.w.scale = Tensor::from_vector(s, in.w.scale.shape()).to(c.dtype);
        const Outputs tiny = run_on(ctx, c, in);
        std::vector<double> w = in.w.wavelet_weights.to_vector();
        w[1] = 0;
        in.w.wavelet_weights = Tensor::from_vector(w, in.w.scale.shape()).to(c.dtype);
        const Outputs zero = run_on(ctx, c, in);
        EXPECT_EQ(host_bytes(tiny.y), host_bytes(zero.y)) << describe(c);
        for (const double v : tiny.g.dx.to(Device::cpu()).to_vector()) {
            ASSERT_TRUE(std::isfinite(v)) << describe(c);
        }
    }
}

// x and translation large against the scale (|t / s| = 1e5 near u = 0): u must come from
// (x - t) / s as the spec writes it, not from x / s - t / s, whose rounding flipped psi's sign.
TEST_F(WavKanCuda, LargeTranslationsOverScaleKeepTheirDigits) {
    Context ctx = cuda_test_context();
    for (const auto& [wavelet, outputs] : every_wavelet_with({3, 70})) {
        for (const WavKanAlgo algo : {WavKanAlgo::kFused, WavKanAlgo::kUnfused}) {
            Case c{33, 5, outputs, WavKanParams{}, DType::kFloat32, 17};
            c.params.wavelet = wavelet;
            c.params.algo = algo;
            c.params.batchnorm = false;
            Inputs in = make_inputs(c);
            std::vector<double> x = in.x.to_vector(), t = in.w.translation.to_vector();
            for (double& v : x) {
                v = 1e5 + std::round(v * 100) / 128;  // exact in float32, within 1 of t
            }
            for (double& v : t) {
                v = 1e5 + std::round(v * 100) / 128;
            }
            in.x = Tensor::from_vector(x, in.x.shape()).to(c.dtype);
            in.w.translation = Tensor::from_vector(t, in.w.translation.shape()).to(c.dtype);
            std::vector<double> scale = in.w.scale.to_vector();
            for (std::size_t k = 0; k < scale.size(); ++k) {
                scale[k] = k % 2 == 0 ? 1.0 : 0.75;  // |u| up to about 1.3
            }
            in.w.scale = Tensor::from_vector(scale, in.w.scale.shape()).to(c.dtype);
            expect_matches(c, run_on(ctx, c, in), reference_of(c, in));
        }
    }
}

TEST_F(WavKanCuda, BadInputNamesTheArgument) {
    Context ctx = cuda_test_context();
    Case c{4, 3, 2, WavKanParams{}, DType::kFloat32, 5};
    c.params.batchnorm = false;
    const Inputs in = make_inputs(c);
    const WavKanWeights w = to_device(in.w, kCuda);
    const Tensor x = in.x.to(kCuda);
    WavKanWeights mixed = w;
    mixed.translation = in.w.translation;  // on the CPU
    expect_error([&] { wavkan_forward(ctx, x, mixed, c.params); }, ErrorCode::kBadArgument,
                 "translation");
    std::vector<double> bad = in.x.to_vector();
    bad[7] = std::nan("");
    const Tensor nan_x = Tensor::from_vector(bad, in.x.shape()).to(c.dtype).to(kCuda);
    expect_error([&] { wavkan_forward(ctx, nan_x, w, c.params); }, ErrorCode::kBadArgument,
                 "x must be finite");
    std::vector<double> s = in.w.scale.to_vector();
    s[4] = 0;
    WavKanWeights zero_scale = w;
    zero_scale.scale = Tensor::from_vector(s, in.w.scale.shape()).to(c.dtype).to(kCuda);
    expect_error([&] { wavkan_forward(ctx, x, zero_scale, c.params); }, ErrorCode::kBadArgument,
                 "scale must be finite with a finite reciprocal");
    expect_error([&] { wavkan_forward(ctx, x, zero_scale, c.params); }, ErrorCode::kBadArgument,
                 "[1, 1]");
    // float16 x with float32 parameters: every tensor must have x's dtype
    const Tensor half_x = in.x.to(DType::kFloat16).to(kCuda);
    expect_error_all([&] { wavkan_forward(ctx, half_x, w, c.params); }, ErrorCode::kBadArgument,
                     {"scale", "float16", "float32"});
    const Tensor int_x = in.x.to(DType::kInt32).to(kCuda);
    expect_error([&] { wavkan_forward(ctx, int_x, w, c.params); }, ErrorCode::kBadArgument,
                 "x must be float32, float64, float16 or bfloat16");
    // The value checks in a half type (bfloat16): a NaN in x, a zero scale.
    const auto bf16 = [](const Tensor& t) { return t.to(DType::kBFloat16).to(kCuda); };
    WavKanWeights wb{
        bf16(in.w.scale), bf16(in.w.translation), bf16(in.w.wavelet_weights), Tensor(), Tensor(),
        Tensor()};
    const Tensor xb = bf16(in.x);
    EXPECT_NO_THROW(wavkan_forward(ctx, xb, wb, c.params));
    expect_error(
        [&] { wavkan_forward(ctx, bf16(Tensor::from_vector(bad, in.x.shape())), wb, c.params); },
        ErrorCode::kBadArgument, "x must be finite");
    wb.scale = bf16(Tensor::from_vector(s, in.w.scale.shape()));
    expect_error_all([&] { wavkan_forward(ctx, xb, wb, c.params); }, ErrorCode::kBadArgument,
                     {"scale must be finite with a finite reciprocal", "[1, 1]"});
}

// A rejected training forward on CUDA changes nothing: batch norm reads the check's results on the
// device and leaves the running statistics alone (the host throws only after queueing it). Then,
// in the same living thread, cuda_empty_cache frees the checks' state and the next calls make it
// anew: a clean call passes and a bad one is still caught.
TEST_F(WavKanCuda, ARejectedTrainingForwardLeavesTheRunningStatistics) {
    Context ctx = cuda_test_context();
    Case c{6, 5, 4, WavKanParams{}, DType::kFloat32, 23};
    const Inputs in = make_inputs(c);  // batch norm in training (the default params)
    const WavKanWeights w = to_device(in.w, kCuda);
    std::vector<double> bad = in.x.to_vector();
    bad[13] = std::numeric_limits<double>::infinity();
    const Tensor bad_x = Tensor::from_vector(bad, in.x.shape()).to(c.dtype).to(kCuda);
    WavKanRunningStats running{in.running.mean.to(kCuda), in.running.var.to(kCuda)};
    for (int round = 0; round < 2; ++round) {
        expect_error_all([&] { wavkan_forward(ctx, bad_x, w, c.params, &running); },
                         ErrorCode::kBadArgument, {"x must be finite", "[2, 3]"});
        EXPECT_EQ(host_bytes(running.mean.to(Device::cpu())), host_bytes(in.running.mean));
        EXPECT_EQ(host_bytes(running.var.to(Device::cpu())), host_bytes(in.running.var));
        EXPECT_NO_THROW(wavkan_forward(ctx, in.x.to(kCuda), w, c.params, &running));
        EXPECT_NE(host_bytes(running.mean.to(Device::cpu())), host_bytes(in.running.mean));
        running = {in.running.mean.to(kCuda), in.running.var.to(kCuda)};
        cuda_empty_cache();  // the second round starts without the thread's check state
    }
}

TEST_F(WavKanCuda, LayersGiveTheirMemoryBack) {
    Context ctx = cuda_test_context();
    const Tensor x = Tensor::full(Shape{8, 33}, 0.25, DType::kFloat32, kCuda);
    // one layer first, so that lazily created state (cuBLAS handle, pools) is not counted
    {
        LayerOptions o;
        o.device = kCuda;
        nn::WavKANLinear warm(33, 17, KanWavelet::kMorlet, true, true, o);
        warm.backward(warm.forward(x));
    }
    const std::size_t before = cuda_memory_stats(0).allocated_bytes;
    for (int n = 0; n < 100; ++n) {
        LayerOptions o;
        o.device = kCuda;
        o.seed = static_cast<unsigned long long>(n);
        nn::WavKANLinear layer(33, 17, kWavelets[n % 5], n % 2 == 0, n % 3 != 0, o);
        const Tensor y = layer.forward(x);
        layer.backward(Tensor::full(y.shape(), 1.0, DType::kFloat32, kCuda));
    }
    EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, before);
}

// The value checks keep per-thread state (generation-tagged slots, a block counter, mapped host
// memory): threads on their own streams, each alternating clean calls with calls that have a NaN
// at an index of its own (x, or translation), must each see exactly their own results, and a clean
// call after a rejected one must pass; twice, new threads after cuda_empty_cache (a living
// thread's state freed and made anew: ARejectedTrainingForwardLeavesTheRunningStatistics).
TEST_F(WavKanCuda, ValueChecksKeepEachThreadsResults) {
    Case c{9, 7, 5, WavKanParams{}, DType::kFloat32, 17};
    c.params.wavelet = KanWavelet::kMorlet;
    const Inputs in = make_inputs(c);
    const WavKanWeights w = to_device(in.w, kCuda);
    Tensor want;
    {
        Context ctx = cuda_test_context();
        WavKanRunningStats running{in.running.mean.to(kCuda), in.running.var.to(kCuda)};
        c.params.training = false;  // the running statistics stay, so every call is the same
        want = wavkan_forward(ctx, in.x.to(kCuda), w, c.params, &running).to(Device::cpu());
    }
    constexpr int kThreads = 4, kRounds = 12;
    for (int pass = 0; pass < 2; ++pass) {
        std::vector<std::string> failures(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                try {
                    cudaStream_t stream = nullptr;
                    if (cudaStreamCreate(&stream) != cudaSuccess) {
                        failures[t] = "no stream";
                        return;
                    }
                    Context ctx = cuda_test_context(stream);
                    WavKanRunningStats running{in.running.mean.to(kCuda), in.running.var.to(kCuda)};
                    for (int r = 0; r < kRounds && failures[t].empty(); ++r) {
                        const std::int64_t at = t + 9 * (r % 5);  // < 63 = B I = O I + ...
                        std::vector<double> bad_x = in.x.to_vector();
                        std::vector<double> bad_t = in.w.translation.to_vector();
                        WavKanWeights wr = w;
                        Tensor x = in.x.to(kCuda);
                        std::string expect;
                        if (r % 3 == 1) {
                            bad_x[static_cast<std::size_t>(at)] = std::nan("");
                            x = Tensor::from_vector(bad_x, in.x.shape()).to(c.dtype).to(kCuda);
                            expect = "x must be finite";
                        } else if (r % 3 == 2) {
                            const std::int64_t k = at % (c.outputs * c.inputs);
                            bad_t[static_cast<std::size_t>(k)] =
                                -std::numeric_limits<double>::infinity();
                            wr.translation = Tensor::from_vector(bad_t, in.w.translation.shape())
                                                 .to(c.dtype)
                                                 .to(kCuda);
                            expect = "translation must be finite";
                        }
                        try {
                            const Tensor y = wavkan_forward(ctx, x, wr, c.params, &running);
                            if (!expect.empty()) {
                                failures[t] = "round " + std::to_string(r) + ": no error";
                            } else if (host_bytes(y.to(Device::cpu())) != host_bytes(want)) {
                                failures[t] = "round " + std::to_string(r) + ": y differs";
                            }
                        } catch (const Error& e) {
                            const std::string what = e.what();
                            // x (B, I) and translation (O, I) both have I columns
                            const std::int64_t k = r % 3 == 1 ? at : at % (c.outputs * c.inputs);
                            const std::string index = "[" + std::to_string(k / c.inputs) + ", " +
                                                      std::to_string(k % c.inputs) + "]";
                            if (expect.empty() || what.find(expect) == std::string::npos ||
                                what.find(index) == std::string::npos) {
                                failures[t] = "round " + std::to_string(r) + ": " + what +
                                              " (wanted " + expect + " at " + index + ")";
                            }
                        }
                    }
                    cudaStreamSynchronize(stream);
                    cudaStreamDestroy(stream);
                } catch (const std::exception& e) {
                    failures[t] = e.what();
                }
            });
        }
        for (std::thread& th : threads) {
            th.join();
        }
        for (int t = 0; t < kThreads; ++t) {
            EXPECT_EQ(failures[t], "") << "pass " << pass << ", thread " << t;
        }
        cuda_empty_cache();  // frees every thread's check state; the second pass makes it anew
    }
}

}  // namespace
}  // namespace wtconv::test
