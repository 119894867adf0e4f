// One comparison of the library against the double reference (see wtconv_check.h).
#include "support/wtconv_check.h"

#include <algorithm>

#include <gtest/gtest.h>

#include <wtconv/ops/wavkan.h>
#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>

namespace wtconv::test {

Shape wtconv_output_shape(const WTConvCase& tc) {
    const int s = tc.params.stride;
    if (tc.spatial == 1) {
        return Shape{tc.n, tc.c, s > 1 ? tc.w / s : tc.w};
    }
    return Shape{tc.n, tc.c, s > 1 ? (tc.h - 1) / s + 1 : tc.h, s > 1 ? (tc.w - 1) / s + 1 : tc.w};
}

Tensor wtconv_forward(Context& ctx,
                      const WTConvCase& tc,
                      const Tensor& x,
                      const WTConvWeights& w,
                      WTConvSaved* saved) {
    return tc.spatial == 2 ? wtconv2d_forward(ctx, x, w, tc.params, saved)
                           : wtconv1d_forward(ctx, x, w, tc.params, saved);
}

WTConvGrads wtconv_backward(Context& ctx,
                            const WTConvCase& tc,
                            const Tensor& dy,
                            const WTConvWeights& w,
                            const WTConvSaved& saved) {
    return tc.spatial == 2 ? wtconv2d_backward(ctx, dy, w, tc.params, saved)
                           : wtconv1d_backward(ctx, dy, w, tc.params, saved);
}

WTConvRun wtconv_run(
    Context& ctx, const WTConvCase& tc, const Tensor& x, const WTConvWeights& w, const Tensor& dy) {
    WTConvSaved saved;
    WTConvRun run;
    run.y = wtconv_forward(ctx, tc, x, w, &saved);
    run.grads = wtconv_backward(ctx, tc, dy, w, saved);
    return run;
}

std::string run_bytes(const WTConvRun& run) {
    const WTConvWeights& d = run.grads.dweights;
    std::string out = host_bytes(run.y) + host_bytes(run.grads.dx) + host_bytes(d.base_weight) +
                      host_bytes(d.base_bias) + host_bytes(d.base_scale);
    for (std::size_t i = 0; i < d.wavelet_weight.size(); ++i) {
        out += host_bytes(d.wavelet_weight[i]) + host_bytes(d.wavelet_scale[i]);
    }
    return out;
}

ref::Array reference_forward(const WTConvCase& tc, const ref::Array& x, const ref::Weights& w) {
    const ref::FilterBank fb = reference_filter_bank(tc.params.wavelet);
    const ref::Config cfg = to_ref_config(tc.params);
    return tc.spatial == 2 ? ref::wtconv2d_forward(x, w, cfg, fb)
                           : ref::wtconv1d_forward(x, w, cfg, fb);
}

ref::Grads reference_backward(const WTConvCase& tc,
                              const ref::Array& x,
                              const ref::Array& dy,
                              const ref::Weights& w) {
    const ref::FilterBank fb = reference_filter_bank(tc.params.wavelet);
    const ref::Config cfg = to_ref_config(tc.params);
    return tc.spatial == 2 ? ref::wtconv2d_backward(x, dy, w, cfg, fb)
                           : ref::wtconv1d_backward(x, dy, w, cfg, fb);
}

std::vector<WTConvAlgo> algos_on(Device device) {
    switch (device.type) {
        case DeviceType::kCpu:
            return {WTConvAlgo::kPlanewise, WTConvAlgo::kDirect};
        case DeviceType::kCuda:
            return {WTConvAlgo::kDirect, WTConvAlgo::kFused};
    }
    return {};
}

bool wtconv_supports(const WTConvCase& tc, WTConvAlgo algo, Device device) {
    return tc.spatial == 2 ? wtconv2d_supports(algo, device, tc.dtype, tc.params)
                           : wtconv1d_supports(algo, device, tc.dtype, tc.params);
}

ReferenceRun make_reference(const WTConvCase& tc) {
    Rng rng(tc.seed);
    ReferenceRun r;
    // Drawn in tc.dtype, so a half case's reference starts from the same rounded values.
    r.x = random_normal(rng, tc.x_shape(), tc.dtype);
    r.w = random_wtconv_weights(rng, tc);
    r.dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype);
    const ref::Array rx = to_ref(r.x);
    const ref::Weights rw = to_ref(r.w);
    r.y = reference_forward(tc, rx, rw);
    r.grads = reference_backward(tc, rx, to_ref(r.dy), rw);
    return r;
}

bool AlgoRuns::ran_algo(WTConvAlgo algo) const {
    return std::find(ran.begin(), ran.end(), algo) != ran.end();
}

AlgoRuns expect_matches(Context& ctx, const WTConvCase& tc, const ReferenceRun& want) {
    const Device dev = ctx.device();
    const Tensor x = dev.is_cpu() ? want.x : want.x.to(dev);
    const Tensor dy = dev.is_cpu() ? want.dy : want.dy.to(dev);
    const WTConvWeights w = dev.is_cpu() ? want.w : to_device(want.w, dev);
    AlgoRuns runs;
    for (const WTConvAlgo algo : algos_on(dev)) {
        WTConvCase run_case = tc;
        run_case.params.algo = algo;
        const std::string where = std::string(" by ") + wtconv_algo_name(algo) + " on " +
                                  dev.str() + " of " + describe(tc);
        if (!wtconv_supports(run_case, algo, dev)) {
            EXPECT_FALSE(wtconv_promised(algo, dev, tc))
                << "the headers promise this case, the library says it is not supported:" << where;
            runs.unsupported.push_back(algo);
            continue;
        }
        runs.ran.push_back(algo);
        const WTConvRun run = wtconv_run(ctx, run_case, x, w, dy);
        EXPECT_LT(rel_l2_error(run.y, want.y), tolerance(tc.dtype)) << "y" << where;
        for (const GradError& e : gradient_errors(run.grads, want.grads, tc)) {
            EXPECT_LT(e.error, tolerance(tc.dtype)) << e.name << where;
        }
    }
    return runs;
}

AlgoRuns expect_matches_reference(Context& ctx, const WTConvCase& tc) {
    return expect_matches(ctx, tc, make_reference(tc));
}

void CudaTest::SetUp() {
    if (!cuda_present()) {
        GTEST_SKIP() << "no CUDA device (cuda_device_count() == 0): this test needs a GPU";
    }
}

Context cuda_test_context(CUstream_st* stream) {
    ContextOptions o;
    o.poison_outputs = true;
    o.cuda_stream = stream;
    return Context(Device::cuda(0), o);
}

std::vector<Tensor> queue_busy_work(Context& ctx) {
    const Device dev = Device::cuda(0);
    constexpr std::int64_t kInputs = std::int64_t{1} << 20;
    const auto full = [&](const Shape& shape, double v) {
        return Tensor::full(shape, v, DType::kFloat32, dev);
    };
    // scale 1, translation 0, weight 1: every term finite
    const WavKanWeights w{full({4, kInputs}, 1.0),
                          full({4, kInputs}, 0.0),
                          full({4, kInputs}, 1.0),
                          Tensor(),
                          Tensor(),
                          Tensor()};
    const Tensor x = full({2, kInputs}, 0.5);
    WavKanParams p;
    p.wavelet = KanWavelet::kMorlet;
    p.batchnorm = false;
    const bool checked = ctx.check_values();
    ctx.set_check_values(false);  // a check would make the call wait for the stream
    const Tensor y = wavkan_forward(ctx, x, w, p);
    ctx.set_check_values(checked);
    return {x, w.scale, w.translation, w.wavelet_weights, y};
}

std::vector<Tensor> fill_blocks(double value) {
    std::vector<Tensor> blocks;
    for (std::int64_t floats = std::int64_t{1} << 16; floats <= (std::int64_t{1} << 22);
         floats *= 2) {
        for (int k = 0; k < 2; ++k) {
            blocks.push_back(Tensor::empty(Shape{floats}, DType::kFloat32, Device::cuda(0)));
            blocks.back().fill(value);
        }
    }
    return blocks;
}

bool blocks_hold(const std::vector<Tensor>& blocks, double value) {
    const float want = static_cast<float>(value);
    for (const Tensor& b : blocks) {
        const Tensor host = b.to(Device::cpu());
        const float* p = host.data<float>();
        if (!std::all_of(p, p + host.numel(), [&](float v) { return v == want; })) {
            return false;
        }
    }
    return true;
}

}  // namespace wtconv::test
