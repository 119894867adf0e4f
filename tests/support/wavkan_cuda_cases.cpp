#include "support/wavkan_cuda_cases.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <gtest/gtest.h>

#include "support/wavkan_cases.h"

namespace wtconv::test {

namespace {

Tensor uniform(Rng& rng, const Shape& shape, double lo, double hi, bool random_sign, DType dtype) {
    std::vector<double> v(static_cast<std::size_t>(shape.numel()));
    for (double& e : v) {
        const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
        e = lo + (hi - lo) * u;
        if (random_sign && (rng.next() & 1) != 0) {
            e = -e;
        }
    }
    return Tensor::from_vector(v, shape).to(dtype);
}

}  // namespace

Inputs make_inputs(const Case& c) {
    Rng rng(c.seed);
    Inputs in;
    const Shape edges{c.outputs, c.inputs}, channels{c.outputs};
    in.x = random_normal(rng, Shape{c.batch, c.inputs}, c.dtype);
    in.dy = random_normal(rng, Shape{c.batch, c.outputs}, c.dtype);
    in.w.scale = uniform(rng, edges, 0.5, 2.0, true, c.dtype);
    in.w.translation = random_normal(rng, edges, c.dtype);
    in.w.wavelet_weights = random_normal(rng, edges, c.dtype);
    if (c.params.base) {
        in.w.base_weight = random_normal(rng, edges, c.dtype);
    }
    if (c.params.batchnorm) {
        in.w.bn_weight = random_normal(rng, channels, c.dtype);
        in.w.bn_bias = random_normal(rng, channels, c.dtype);
        in.running.mean = random_normal(rng, channels, c.dtype);
        in.running.var = uniform(rng, channels, 0.5, 1.5, false, c.dtype);
    }
    return in;
}

WavKanWeights to_device(const WavKanWeights& w, Device d) {
    const auto move = [&](const Tensor& t) { return t.defined() ? t.to(d) : Tensor(); };
    return WavKanWeights{move(w.scale),       move(w.translation), move(w.wavelet_weights),
                         move(w.base_weight), move(w.bn_weight),   move(w.bn_bias)};
}

Outputs run_on(Context& ctx, const Case& c, const Inputs& in) {
    const Device d = ctx.device();
    const WavKanWeights w = to_device(in.w, d);
    WavKanRunningStats running;
    if (c.params.batchnorm) {
        running = {in.running.mean.to(d), in.running.var.to(d)};
    }
    WavKanSaved saved;
    Outputs r;
    r.y = wavkan_forward(ctx, in.x.to(d), w, c.params, c.params.batchnorm ? &running : nullptr,
                         &saved);
    r.g = wavkan_backward(ctx, in.dy.to(d), w, c.params, saved);
    r.mean = running.mean;
    r.var = running.var;
    return r;
}

Reference reference_of(const Case& c, const Inputs& in) {
    ref::WavKanConfig cfg;
    cfg.wavelet = kan_wavelet_name(c.params.wavelet);
    cfg.base = c.params.base;
    cfg.batchnorm = c.params.batchnorm;
    cfg.training = c.params.training;
    ref::WavKanTensors t;
    t.scale = to_ref(in.w.scale);
    t.translation = to_ref(in.w.translation);
    t.wavelet_weights = to_ref(in.w.wavelet_weights);
    if (c.params.base) {
        t.base_weight = to_ref(in.w.base_weight);
    }
    if (c.params.batchnorm) {
        t.bn_weight = to_ref(in.w.bn_weight);
        t.bn_bias = to_ref(in.w.bn_bias);
        t.bn_running_mean = to_ref(in.running.mean);
        t.bn_running_var = to_ref(in.running.var);
    }
    const ref::Array x = to_ref(in.x);
    return Reference{ref::wavkan_forward(x, t, cfg),
                     ref::wavkan_backward(x, to_ref(in.dy), t, cfg)};
}

std::string describe(const Case& c) {
    return std::string(kan_wavelet_name(c.params.wavelet)) + " " + wavkan_algo_name(c.params.algo) +
           " " + dtype_name(c.dtype) + " B" + std::to_string(c.batch) + " I" +
           std::to_string(c.inputs) + " O" + std::to_string(c.outputs) +
           (c.params.base ? " base" : "") +
           (c.params.batchnorm ? (c.params.training ? " bn-train" : " bn-eval") : "") + " seed " +
           std::to_string(c.seed);
}

double expect_matches(const Case& c, const Outputs& got, const Reference& want) {
    // float32 with batch norm in training: the edge gradients sum G f(x_b) over the batch with G
    // orthogonal to 1 and to z, so when f follows z (few inputs) the sum is a residue of
    // cancelling terms and float32's rounding of z shows above 1e-5: dscale of shannon, B 7, I 1,
    // O 2, base on, is 9.8e-5 off on CUDA and 7.5e-5 on the CPU's float32 path (libm math) against
    // the exact reference, the same conditioning: 2e-4 there (the golden cases hold 1e-5).
    const bool normalised = c.params.batchnorm && c.params.training;
    const double tol = c.dtype == DType::kFloat64 ? 1e-10 : (normalised ? 2e-4 : 1e-5);
    double worst = 0;
    const auto check = [&](const char* what, const Tensor& t, const ref::Array& a) {
        ASSERT_TRUE(t.defined()) << what << ": " << describe(c);
        const double e = rel_l2_error(t.to(Device::cpu()), a);
        worst = std::max(worst, e);
        EXPECT_LT(e, tol) << what << ": " << describe(c);
    };
    check("y", got.y, want.fwd.y);
    check("dx", got.g.dx, want.grads.dx);
    check("dscale", got.g.dweights.scale, want.grads.dscale);
    check("dtranslation", got.g.dweights.translation, want.grads.dtranslation);
    check("dwavelet_weights", got.g.dweights.wavelet_weights, want.grads.dwavelet_weights);
    if (c.params.base) {
        check("dbase_weight", got.g.dweights.base_weight, want.grads.dbase_weight);
    }
    if (c.params.batchnorm) {
        check("dbn_weight", got.g.dweights.bn_weight, want.grads.dbn_weight);
        check("dbn_bias", got.g.dweights.bn_bias, want.grads.dbn_bias);
        check("running mean", got.mean, want.fwd.running_mean_out);
        check("running var", got.var, want.fwd.running_var_out);
    }
    return worst;
}

std::vector<std::pair<KanWavelet, std::int64_t>> every_wavelet_with(
    std::initializer_list<std::int64_t> sizes) {
    std::vector<std::pair<KanWavelet, std::int64_t>> all;
    for (const KanWavelet wavelet : kWavelets) {
        for (const std::int64_t size : sizes) {
            all.emplace_back(wavelet, size);
        }
    }
    return all;
}

std::int64_t random_size(Rng& rng) {
    constexpr std::int64_t kSizes[] = {1, 2, 3, 5, 7, 13, 31, 32, 33, 37, 65, 70, 97, 130};
    return kSizes[rng.uniform_int(0, static_cast<int>(std::size(kSizes)) - 1)];
}

Case random_case(Rng& rng, std::uint64_t seed) {
    Case c{};
    c.batch = random_size(rng);
    c.inputs = random_size(rng);
    c.outputs = random_size(rng);
    c.params.wavelet = kWavelets[rng.uniform_int(0, 4)];
    c.params.algo = rng.uniform_int(0, 3) == 0 ? WavKanAlgo::kUnfused : WavKanAlgo::kFused;
    c.params.base = rng.uniform_int(0, 1) == 1;
    const int bn = rng.uniform_int(0, 2);  // off, training, evaluation
    c.params.batchnorm = bn != 0;
    c.params.training = bn != 2;
    c.dtype = rng.uniform_int(0, 1) == 0 ? DType::kFloat64 : DType::kFloat32;
    // Batch norm in training needs two samples, and its gradient is ill-conditioned with few:
    // with two it is a difference of nearly equal terms (zhat = +-(1 - eps / 2 d^2)); with one
    // input and no base branch, dwavelet_weights = (G . z) / w is B m2 eps / (var + eps) scaled,
    // a residue of cancelling O(1) terms. float32 rounding of z then shows at 1e-4 against the
    // exact reference: float32 gets at least four samples and two inputs there (float64, and the
    // golden cases, cover the small ones).
    if (c.params.batchnorm && c.params.training) {
        const bool single = c.dtype == DType::kFloat32;
        c.batch = std::max<std::int64_t>(c.batch, single ? 4 : 2);
        if (single && !c.params.base) {
            c.inputs = std::max<std::int64_t>(c.inputs, 2);
        }
    }
    c.seed = seed;
    return c;
}

}  // namespace wtconv::test
