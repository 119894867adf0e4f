// The comparator's self-check (see self_check.h).
#include "cuda/self_check.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <wtconv/context.h>
#include <wtconv/ops/wtconv2d.h>

#include "cuda/bench_check.h"
#include "cuda/bench_inputs.h"
#include "cuda/cudnn_wtconv2d.h"

namespace wtconv::bench {

namespace {

// float32 through ~20 stages against float64: the errors seen are ~1e-7; 1e-5 leaves room for
// long reductions (the scale gradients sum N*H*W products) and still catches a wrong sign, band,
// pad or crop, each of which costs O(1).
constexpr double kTolerance = 1e-5;

struct Case {
    CudnnWTConv2dConfig cfg;
};

// The worst relative L2 difference of one case, with the name of the tensor it came from.
struct Worst {
    double error = 0;
    std::string name;
    void update(const std::string& n, double e) {
        // NaN compares false: treat it as the worst so that it fails.
        if (!(e <= error)) {
            error = e;
            name = n;
        }
    }
};

Worst check_case(const CudnnWTConv2dConfig& cfg,
                 int device,
                 cudaStream_t stream,
                 std::uint64_t seed) {
    WTConvParams params;
    params.kernel_size = cfg.kernel_size;
    params.levels = cfg.levels;
    params.stride = cfg.stride;
    params.bias = cfg.bias;
    params.wavelet = cfg.wavelet;
    std::mt19937_64 rng(seed);
    const Tensor x = random_normal(rng, {cfg.n, cfg.c, cfg.h, cfg.w}, 1.0f);
    const std::int64_t ho = (cfg.h - 1) / cfg.stride + 1;
    const std::int64_t wo = (cfg.w - 1) / cfg.stride + 1;
    const Tensor dy = random_normal(rng, {cfg.n, cfg.c, ho, wo}, 1.0f);
    const WTConvWeights w = random_weights(rng, cfg.c, params);

    // The GPU comparator on the float32 values.
    const Device gpu = Device::cuda(device);
    const Tensor xd = x.to(gpu);
    const Tensor dyd = dy.to(gpu);
    const WTConvWeights wd = weights_to(w, gpu);
    CudnnWTConv2d cudnn(cfg, device, stream);
    const Tensor& y_dev = cudnn.forward(xd, wd);
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::vector<double> y_gpu = host_values(y_dev);
    const WTConvGrads& g_gpu = cudnn.backward(xd, dyd, wd);
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));

    // The library's CPU implementation on the same values widened to float64.
    Context cpu(Device::cpu());
    const Tensor x64 = x.to(DType::kFloat64);
    const WTConvWeights w64 = weights_to(w, DType::kFloat64);
    WTConvSaved saved;
    const Tensor y_cpu = wtconv2d_forward(cpu, x64, w64, params, &saved);
    const WTConvGrads g_cpu = wtconv2d_backward(cpu, dy.to(DType::kFloat64), w64, params, saved);

    Worst worst;
    worst.update("y", rel_l2(y_gpu, host_values(y_cpu)));
    worst.update("dx", rel_l2(host_values(g_gpu.dx), host_values(g_cpu.dx)));
    const auto got = named_tensors(g_gpu.dweights);
    const auto want = named_tensors(g_cpu.dweights);
    if (got.size() != want.size()) {
        worst.update("weight gradient count", std::numeric_limits<double>::quiet_NaN());
        return worst;
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
        worst.update("d" + got[i].first,
                     rel_l2(host_values(*got[i].second), host_values(*want[i].second)));
    }
    return worst;
}

std::string describe(const CudnnWTConv2dConfig& c) {
    return "N" + std::to_string(c.n) + " C" + std::to_string(c.c) + " " + std::to_string(c.h) +
           "x" + std::to_string(c.w) + " K" + std::to_string(c.kernel_size) + " L" +
           std::to_string(c.levels) + " s" + std::to_string(c.stride) + " " + c.wavelet +
           (c.bias ? "" : " no-bias");
}

}  // namespace

bool comparator_self_check(int device,
                           cudaStream_t stream,
                           const SelfCheckShape& extra,
                           std::FILE* out) {
    // Odd sides at every level (9x11 -> 5x6 -> 3x3 -> 2x2), stride, no bias and a longer wavelet
    // (db2: padding p = 1 inside the DWT) exercise every view and pad of the composition; the
    // benchmark's first shape checks it at full size.
    std::vector<CudnnWTConv2dConfig> cases = {
        {2, 3, 9, 11, 5, 2, 1, true, "db1"},
        {2, 3, 9, 11, 7, 3, 2, true, "db1"},
        {1, 2, 9, 11, 5, 3, 1, false, "db1"},
        {2, 3, 9, 11, 5, 2, 1, true, "db2"},
        {extra.n, extra.c, extra.h, extra.w, extra.kernel_size, extra.levels, 1, true, "db1"},
    };
    bool ok = true;
    std::uint64_t seed = 100;
    for (const CudnnWTConv2dConfig& cfg : cases) {
        try {
            const Worst worst = check_case(cfg, device, stream, seed++);
            const bool pass = worst.error < kTolerance;
            ok = ok && pass;
            std::fprintf(
                out,
                "self-check cudnn comparator vs CPU float64, %-28s worst rel L2 %.2e (%s) %s\n",
                describe(cfg).c_str(), worst.error, worst.name.c_str(), pass ? "ok" : "FAILED");
        } catch (const std::exception& e) {
            ok = false;
            std::fprintf(out, "self-check cudnn comparator vs CPU float64, %-28s FAILED: %s\n",
                         describe(cfg).c_str(), e.what());
        }
    }
    std::fflush(out);
    return ok;
}

}  // namespace wtconv::bench
