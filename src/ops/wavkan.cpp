// wavkan: argument checks, output allocation and the one dispatch point (WAVKAN.md). Kernels live
// in cpu/ (the CUDA backend is not built yet: CUDA tensors throw kNotSupported).
#include <cmath>
#include <cstdint>

#include <wtconv/ops/wavkan.h>

#include "common/alloc_output.h"
#include "ops/wavkan_backends.h"

namespace wtconv {

namespace {

constexpr const char* kOp = "wavkan";

struct Sizes {
    std::int64_t batch, inputs, outputs;
};

// The first element of a CPU tensor that is not finite (or zero, with nonzero), -1 if none.
template <class T>
std::int64_t first_bad(const Tensor& t, bool nonzero) {
    const T* p = t.data<T>();
    for (std::int64_t k = 0; k < t.numel(); ++k) {
        if (!std::isfinite(p[k]) || (nonzero && p[k] == T(0))) {
            return k;
        }
    }
    return -1;
}

// Rejects non-finite values (WAVKAN.md 5: they would poison whole batch-norm channels) and, for
// scale, zeros; names the first bad index.
void check_values(const char* name, const Tensor& t, bool nonzero = false) {
    std::int64_t bad = -1;
    if (t.dtype() == DType::kFloat32) {
        bad = first_bad<float>(t, nonzero);
    } else {
        bad = first_bad<double>(t, nonzero);
    }
    if (bad < 0) {
        return;
    }
    const double v = t.dtype() == DType::kFloat32 ? static_cast<double>(t.data<float>()[bad])
                                                  : t.data<double>()[bad];
    const Shape& s = t.shape();
    if (s.rank() == 2) {
        throw Error(
            ErrorCode::kBadArgument,
            detail::concat(kOp, ": ", name, " must be finite", nonzero ? " and nonzero" : "",
                           ", got ", v, " at [", bad / s[1], ", ", bad % s[1], "]"));
    }
    throw Error(ErrorCode::kBadArgument,
                detail::concat(kOp, ": ", name, " must be finite", nonzero ? " and nonzero" : "",
                               ", got ", v, " at [", bad, "]"));
}

void check_like(const char* name, const Tensor& t, const Shape& shape, const Tensor& x) {
    WTCONV_CHECK(t.defined(), kOp, ": ", name, " must be a tensor of shape ", shape,
                 ", got an undefined one");
    check_shape(kOp, name, t, shape);
    check_dtype(kOp, name, t, x.dtype());
    check_device(kOp, name, t, x.device());
}

// A saved batch-norm statistic: (O) float64 on x's device.
void check_statistic(const char* name, const Tensor& t, std::int64_t outputs, const Tensor& x) {
    WTCONV_CHECK(t.defined(), kOp, ": ", name, " must be a tensor of shape (", outputs,
                 "), got an undefined one (was the forward called with saved?)");
    check_shape(kOp, name, t, Shape{outputs});
    check_dtype(kOp, name, t, DType::kFloat64);
    check_device(kOp, name, t, x.device());
}

void check_absent(const char* name, const Tensor& t, const char* option) {
    WTCONV_CHECK(!t.defined(), kOp, ": ", name, " must be undefined when params.", option,
                 " is false, got a tensor of shape ", t.shape());
}

void check_params(const WavKanParams& p) {
    kan_wavelet_name(p.wavelet);  // throws for a value outside the enum
    WTCONV_CHECK(std::isfinite(p.bn_eps) && p.bn_eps > 0, kOp,
                 ": params.bn_eps must be finite and > 0, got ", p.bn_eps);
    WTCONV_CHECK(p.bn_momentum >= 0 && p.bn_momentum <= 1, kOp,
                 ": params.bn_momentum must be in [0, 1], got ", p.bn_momentum);
}

// Shapes, dtypes and devices of x and the weights; returns the sizes. CPU float32/float64 only
// until the CUDA backend lands.
Sizes check_inputs(const Tensor& x, const WavKanWeights& w, const WavKanParams& p) {
    check_params(p);
    WTCONV_CHECK(x.defined(), kOp, ": x must be a tensor, got an undefined one");
    WTCONV_CHECK(x.shape().rank() == 2, kOp, ": x must be (B, in_features), got ", x.shape());
    WTCONV_CHECK(x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat64, kOp,
                 ": x must be float32 or float64, got ", dtype_name(x.dtype()));
    WTCONV_CHECK_CODE(x.device().is_cpu(), ErrorCode::kNotSupported, kOp,
                      ": runs on the CPU only so far, got x on ", x.device().str());
    const std::int64_t batch = x.size(0), inputs = x.size(1);
    WTCONV_CHECK(batch >= 1 && inputs >= 1, kOp, ": x must have B >= 1 and in_features >= 1, got ",
                 x.shape());
    WTCONV_CHECK(w.scale.defined(), kOp, ": scale must be a tensor, got an undefined one");
    WTCONV_CHECK(w.scale.shape().rank() == 2 && w.scale.size(0) >= 1 && w.scale.size(1) == inputs,
                 kOp, ": scale must be (out_features, ", inputs, ") with out_features >= 1, got ",
                 w.scale.shape());
    const std::int64_t outputs = w.scale.size(0);
    const Shape edges{outputs, inputs};
    check_like("scale", w.scale, edges, x);
    check_like("translation", w.translation, edges, x);
    check_like("wavelet_weights", w.wavelet_weights, edges, x);
    if (p.base) {
        check_like("base_weight", w.base_weight, edges, x);
    } else {
        check_absent("base_weight", w.base_weight, "base");
    }
    if (p.batchnorm) {
        check_like("bn_weight", w.bn_weight, Shape{outputs}, x);
        check_like("bn_bias", w.bn_bias, Shape{outputs}, x);
    } else {
        check_absent("bn_weight", w.bn_weight, "batchnorm");
        check_absent("bn_bias", w.bn_bias, "batchnorm");
    }
    return Sizes{batch, inputs, outputs};
}

// The forward's further requirements: running statistics, B >= 2 in training, finite values.
Sizes check_forward(const Tensor& x,
                    const WavKanWeights& w,
                    const WavKanParams& p,
                    const WavKanRunningStats* running) {
    const Sizes s = check_inputs(x, w, p);
    if (p.batchnorm) {
        const Shape channels{s.outputs};
        WTCONV_CHECK(running != nullptr, kOp,
                     ": running statistics must be given when params.batchnorm is true");
        check_like("running.mean", running->mean, channels, x);
        check_like("running.var", running->var, channels, x);
        WTCONV_CHECK(!p.training || s.batch >= 2, kOp,
                     ": batch norm in training needs B >= 2 (the variance of one value is "
                     "undefined), got x ",
                     x.shape());
    } else {
        WTCONV_CHECK(running == nullptr, kOp,
                     ": running statistics must be null when params.batchnorm is false");
    }
    check_values("x", x);
    check_values("scale", w.scale, true);
    check_values("translation", w.translation);
    check_values("wavelet_weights", w.wavelet_weights);
    if (p.base) {
        check_values("base_weight", w.base_weight);
    }
    if (p.batchnorm) {
        check_values("bn_weight", w.bn_weight);
        check_values("bn_bias", w.bn_bias);
        check_values("running.mean", running->mean);
        check_values("running.var", running->var);
    }
    return s;
}

}  // namespace

const char* kan_wavelet_name(KanWavelet wavelet) {
    switch (wavelet) {
        case KanWavelet::kMexicanHat:
            return "mexican_hat";
        case KanWavelet::kMorlet:
            return "morlet";
        case KanWavelet::kDog:
            return "dog";
        case KanWavelet::kMeyer:
            return "meyer";
        case KanWavelet::kShannon:
            return "shannon";
    }
    throw Error(ErrorCode::kBadArgument,
                detail::concat(kOp, ": wavelet must be one of mexican_hat, morlet, dog, meyer, ",
                               "shannon, got the value ", static_cast<int>(wavelet)));
}

KanWavelet kan_wavelet_from_name(const std::string& name) {
    for (const KanWavelet w : {KanWavelet::kMexicanHat, KanWavelet::kMorlet, KanWavelet::kDog,
                               KanWavelet::kMeyer, KanWavelet::kShannon}) {
        if (name == kan_wavelet_name(w)) {
            return w;
        }
    }
    throw Error(ErrorCode::kBadArgument,
                detail::concat(kOp, ": wavelet must be one of mexican_hat, morlet, dog, meyer, ",
                               "shannon, got \"", name, "\""));
}

Tensor wavkan_forward(Context& ctx,
                      const Tensor& x,
                      const WavKanWeights& weights,
                      const WavKanParams& params,
                      WavKanRunningStats* running,
                      WavKanSaved* saved) {
    const Sizes s = check_forward(x, weights, params, running);
    const Shape out{s.batch, s.outputs};
    // Every output before any kernel: nothing is half-written (the running statistics included)
    // when an allocation fails.
    Tensor z = detail::alloc_output(ctx, out, x.dtype(), x.device());
    Tensor y, mean, inv_std;
    if (params.batchnorm) {
        y = detail::alloc_output(ctx, out, x.dtype(), x.device());
        mean = detail::alloc_output(ctx, Shape{s.outputs}, DType::kFloat64, x.device());
        inv_std = detail::alloc_output(ctx, Shape{s.outputs}, DType::kFloat64, x.device());
    }
    cpu::wavkan_core_forward(ctx, params.wavelet, x, weights, z);
    if (params.base) {
        cpu::wavkan_base_forward(ctx, x, weights.base_weight, z);
    }
    if (params.batchnorm) {
        cpu::wavkan_batchnorm_forward(ctx, params, z, weights.bn_weight, weights.bn_bias, *running,
                                      y, mean, inv_std);
    } else {
        y = z;
    }
    if (saved != nullptr) {
        *saved = WavKanSaved{x, params.batchnorm ? z : Tensor(), mean, inv_std};
    }
    return y;
}

WavKanGrads wavkan_backward(Context& ctx,
                            const Tensor& dy,
                            const WavKanWeights& weights,
                            const WavKanParams& params,
                            const WavKanSaved& saved,
                            bool need_dx) {
    WTCONV_CHECK(saved.x.defined(), kOp,
                 ": saved.x must be the forward's input, got an undefined tensor (was the forward "
                 "called with saved?)");
    // Shapes only: the values were checked by the forward that saved x.
    const Sizes s = check_inputs(saved.x, weights, params);
    const Tensor& x = saved.x;
    check_like("dy", dy, Shape{s.batch, s.outputs}, x);
    WavKanGrads grads;
    Tensor g = dy;
    if (params.batchnorm) {
        check_like("saved.z", saved.z, Shape{s.batch, s.outputs}, x);
        check_statistic("saved.mean", saved.mean, s.outputs, x);
        check_statistic("saved.inv_std", saved.inv_std, s.outputs, x);
        g = detail::alloc_output(ctx, dy.shape(), x.dtype(), x.device());
        grads.dweights.bn_weight =
            detail::alloc_output(ctx, Shape{s.outputs}, x.dtype(), x.device());
        grads.dweights.bn_bias = detail::alloc_output(ctx, Shape{s.outputs}, x.dtype(), x.device());
    }
    const Shape edges{s.outputs, s.inputs};
    grads.dweights.scale = detail::alloc_output(ctx, edges, x.dtype(), x.device());
    grads.dweights.translation = detail::alloc_output(ctx, edges, x.dtype(), x.device());
    grads.dweights.wavelet_weights = detail::alloc_output(ctx, edges, x.dtype(), x.device());
    if (params.base) {
        grads.dweights.base_weight = detail::alloc_output(ctx, edges, x.dtype(), x.device());
    }
    if (need_dx) {
        grads.dx = detail::alloc_output(ctx, x.shape(), x.dtype(), x.device());
    }
    if (params.batchnorm) {
        cpu::wavkan_batchnorm_backward(ctx, params, dy, weights.bn_weight, saved.z, saved.mean,
                                       saved.inv_std, g, grads.dweights.bn_weight,
                                       grads.dweights.bn_bias);
    }
    Tensor* dx = need_dx ? &grads.dx : nullptr;
    cpu::wavkan_core_backward(ctx, params.wavelet, x, weights, g, grads.dweights, dx);
    if (params.base) {
        cpu::wavkan_base_backward(ctx, x, weights.base_weight, g, grads.dweights.base_weight, dx);
    }
    return grads;
}

}  // namespace wtconv
