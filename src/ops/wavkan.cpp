// wavkan: argument checks, output allocation and the one dispatch point (WAVKAN.md). Kernels live
// in cpu/ and cuda/.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <wtconv/ops/wavkan.h>

#include "common/alloc_output.h"
#include "core/memory.h"
#include "ops/wavkan_backends.h"

namespace wtconv {

namespace {

constexpr const char* kOp = "wavkan";

struct Sizes {
    std::int64_t batch, inputs, outputs;
};

// The first element of a CPU tensor that is not finite (with reciprocal, also one whose reciprocal
// is not: zero, or tinier than 1 / the largest value; with nonnegative, also one below 0), -1 if
// none.
template <class T>
std::int64_t first_bad(const Tensor& t, bool reciprocal, bool nonnegative) {
    const T* p = t.data<T>();
    for (std::int64_t k = 0; k < t.numel(); ++k) {
        if (!std::isfinite(p[k]) || (reciprocal && !std::isfinite(T(1) / p[k])) ||
            (nonnegative && p[k] < T(0))) {
            return k;
        }
    }
    return -1;
}

struct Checked {
    const char* name;
    const Tensor* tensor;
    bool nonnegative = false;  // a variance: below 0, eval mode's sqrt(var + eps) is NaN
};

// The index of the one tensor of the list that must not be negative (the running variance), -1
// if none (for the CUDA search; the CPU reads Checked::nonnegative).
[[maybe_unused]] int nonnegative_index(const std::vector<Checked>& list) {
    for (std::size_t j = 0; j < list.size(); ++j) {
        if (list[j].nonnegative) {
            return static_cast<int>(j);
        }
    }
    return -1;
}

// The scale's place in the list of values to check: its reciprocal must be finite too.
constexpr int kScaleIndex = 1;

// Per checked tensor, its first bad element on the CPU (-1 if none).
std::vector<std::int64_t> cpu_bad_values(const std::vector<Checked>& list) {
    std::vector<std::int64_t> bad(list.size(), -1);
    for (std::size_t j = 0; j < list.size(); ++j) {
        const Tensor& t = *list[j].tensor;
        const bool reciprocal = static_cast<int>(j) == kScaleIndex;
        bad[j] = t.dtype() == DType::kFloat32
                     ? first_bad<float>(t, reciprocal, list[j].nonnegative)
                     : first_bad<double>(t, reciprocal, list[j].nonnegative);
    }
    return bad;
}

// Rejects non-finite values (WAVKAN.md 5: they would poison whole batch-norm channels), a scale
// without a finite reciprocal (the kernels multiply by 1 / scale) and a negative running variance;
// names the first bad index of the first bad tensor.
void throw_if_bad(const std::vector<Checked>& list, const std::vector<std::int64_t>& bad) {
    for (std::size_t j = 0; j < list.size(); ++j) {
        if (bad[j] < 0) {
            continue;
        }
        const Tensor& t = *list[j].tensor;
        WTCONV_CHECK(bad[j] < t.numel(), kOp, ": the value check of ", list[j].name,
                     " reported element ", bad[j], " of ", t.numel());
        const double v = t.to(Device::cpu()).to_vector()[static_cast<std::size_t>(bad[j])];
        const char* what = static_cast<int>(j) == kScaleIndex
                               ? "finite with a finite reciprocal (nonzero, |scale| >= 1 / the "
                                 "largest value of the dtype the kernels compute in)"
                           : list[j].nonnegative ? "finite and >= 0 (a variance)"
                                                 : "finite";
        const Shape& s = t.shape();
        const std::string at = s.rank() == 2
                                   ? detail::concat("[", bad[j] / s[1], ", ", bad[j] % s[1], "]")
                                   : detail::concat("[", bad[j], "]");
        throw Error(ErrorCode::kBadArgument, detail::concat(kOp, ": ", list[j].name, " must be ",
                                                            what, ", got ", v, " at ", at));
    }
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
    kan_wavelet_name(p.wavelet);  // these throw for a value outside the enum
    wavkan_algo_name(p.algo);
    WTCONV_CHECK(std::isfinite(p.bn_eps) && p.bn_eps > 0, kOp,
                 ": params.bn_eps must be finite and > 0, got ", p.bn_eps);
    WTCONV_CHECK(p.bn_momentum >= 0 && p.bn_momentum <= 1, kOp,
                 ": params.bn_momentum must be in [0, 1], got ", p.bn_momentum);
}

// Shapes, dtypes and devices of x and the weights; returns the sizes.
Sizes check_inputs(const Tensor& x, const WavKanWeights& w, const WavKanParams& p) {
    check_params(p);
    WTCONV_CHECK(x.defined(), kOp, ": x must be a tensor, got an undefined one");
    WTCONV_CHECK(x.shape().rank() == 2, kOp, ": x must be (B, in_features), got ", x.shape());
    const bool half = x.dtype() == DType::kFloat16 || x.dtype() == DType::kBFloat16;
    WTCONV_CHECK(x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat64 || half, kOp,
                 ": x must be float32, float64, float16 or bfloat16, got ", dtype_name(x.dtype()));
    // float16 and bfloat16 are storage for the CUDA kernels' float sums (WAVKAN.md 4); the CPU
    // computes in the dtype it stores
    WTCONV_CHECK_CODE(!half || x.device().is_cuda(), ErrorCode::kNotSupported, kOp, ": x of dtype ",
                      dtype_name(x.dtype()), " runs on CUDA only, got it on ", x.device().str());
#if !defined(WTCONV_WITH_CUDA)
    WTCONV_CHECK_CODE(x.device().is_cpu(), ErrorCode::kNotSupported, kOp,
                      ": wtconv was built without CUDA, got x on ", x.device().str());
#endif
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
    if (x.device().is_cuda() && p.algo != WavKanAlgo::kUnfused) {
        WTCONV_CHECK_CODE(batch <= cuda::kWavKanFusedMaxBatch, ErrorCode::kNotSupported, kOp,
                          ": the fused CUDA kernels take a batch (x's rows) up to ",
                          cuda::kWavKanFusedMaxBatch, " (65535 tiles of 64), got ", batch,
                          "; WavKanAlgo::kUnfused has no such limit");
    }
    return Sizes{batch, inputs, outputs};
}

// What the forward checks the values of (scale at kScaleIndex).
std::vector<Checked> values_to_check(const Tensor& x,
                                     const WavKanWeights& w,
                                     const WavKanParams& p,
                                     const WavKanRunningStats* running) {
    std::vector<Checked> list{{"x", &x},
                              {"scale", &w.scale},
                              {"translation", &w.translation},
                              {"wavelet_weights", &w.wavelet_weights}};
    if (p.base) {
        list.push_back({"base_weight", &w.base_weight});
    }
    if (p.batchnorm) {
        list.push_back({"bn_weight", &w.bn_weight});
        list.push_back({"bn_bias", &w.bn_bias});
        list.push_back({"running.mean", &running->mean});
        list.push_back({"running.var", &running->var, true});
    }
    return list;
}

// The forward's further requirements: running statistics, B >= 2 in training.
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
    return s;
}

#if !defined(WTCONV_WITH_CUDA)
[[noreturn]] void cuda_not_built() {
    throw Error(ErrorCode::kNotSupported, "wavkan: wtconv was built without CUDA");
}
#endif

// The one dispatch point: device, and fused or unfused core. On CUDA the fused core leaves its
// split sums to batch norm when that comes next (no base branch between): returned, to be added
// by run_batchnorm_forward (one launch fewer per layer).
cuda::WavKanCoreSums run_core_forward(
    Context& ctx, const WavKanParams& p, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const bool unfused = p.algo == WavKanAlgo::kUnfused;
    cuda::WavKanCoreSums pending;
    if (x.device().is_cpu()) {
        (unfused ? cpu::wavkan_core_forward_unfused : cpu::wavkan_core_forward)(ctx, p.wavelet, x,
                                                                                w, z);
    } else {
#if defined(WTCONV_WITH_CUDA)
        if (unfused) {
            cuda::wavkan_core_forward_unfused(ctx, p.wavelet, x, w, z);
        } else if (p.batchnorm && !p.base) {
            pending = cuda::wavkan_core_forward_sums(ctx, p.wavelet, x, w, z);
        } else {
            cuda::wavkan_core_forward(ctx, p.wavelet, x, w, z);
        }
#else
        cuda_not_built();
#endif
    }
    if (p.base) {
        if (x.device().is_cpu()) {
            cpu::wavkan_base_forward(ctx, x, w.base_weight, z);
        } else {
#if defined(WTCONV_WITH_CUDA)
            cuda::wavkan_base_forward(ctx, x, w.base_weight, z);
#endif
        }
    }
    return pending;
}

void run_batchnorm_forward(Context& ctx,
                           const WavKanParams& p,
                           const cuda::WavKanCoreSums& pending,
                           Tensor& z,
                           const WavKanWeights& w,
                           const Tensor& checks,
                           WavKanRunningStats& running,
                           Tensor& y,
                           Tensor& mean,
                           Tensor& inv_std) {
    if (z.device().is_cpu()) {
        cpu::wavkan_batchnorm_forward(ctx, p, z, w.bn_weight, w.bn_bias, running, y, mean, inv_std);
    } else {
#if defined(WTCONV_WITH_CUDA)
        cuda::wavkan_batchnorm_forward(ctx, p, pending, z, w.bn_weight, w.bn_bias, checks, running,
                                       y, mean, inv_std);
#else
        (void)pending, (void)checks;
        cuda_not_built();
#endif
    }
}

void run_batchnorm_backward(Context& ctx,
                            const WavKanParams& p,
                            const Tensor& dy,
                            const WavKanWeights& w,
                            const WavKanSaved& saved,
                            Tensor& g,
                            WavKanWeights& dw) {
    if (dy.device().is_cpu()) {
        cpu::wavkan_batchnorm_backward(ctx, p, dy, w.bn_weight, saved.z, saved.mean, saved.inv_std,
                                       g, dw.bn_weight, dw.bn_bias);
    } else {
#if defined(WTCONV_WITH_CUDA)
        cuda::wavkan_batchnorm_backward(ctx, p, dy, w.bn_weight, saved.z, saved.mean, saved.inv_std,
                                        g, dw.bn_weight, dw.bn_bias);
#else
        cuda_not_built();
#endif
    }
}

void run_core_backward(Context& ctx,
                       const WavKanParams& p,
                       const Tensor& x,
                       const WavKanWeights& w,
                       const Tensor& g,
                       WavKanWeights& dw,
                       Tensor* dx) {
    const bool unfused = p.algo == WavKanAlgo::kUnfused;
    if (x.device().is_cpu()) {
        (unfused ? cpu::wavkan_core_backward_unfused : cpu::wavkan_core_backward)(ctx, p.wavelet, x,
                                                                                  w, g, dw, dx);
        if (p.base) {
            cpu::wavkan_base_backward(ctx, x, w.base_weight, g, dw.base_weight, dx);
        }
        return;
    }
#if defined(WTCONV_WITH_CUDA)
    (unfused ? cuda::wavkan_core_backward_unfused : cuda::wavkan_core_backward)(ctx, p.wavelet, x,
                                                                                w, g, dw, dx);
    if (p.base) {
        cuda::wavkan_base_backward(ctx, x, w.base_weight, g, dw.base_weight, dx);
    }
#else
    cuda_not_built();
#endif
}

}  // namespace

const char* wavkan_algo_name(WavKanAlgo algo) {
    switch (algo) {
        case WavKanAlgo::kAuto:
            return "auto";
        case WavKanAlgo::kFused:
            return "fused";
        case WavKanAlgo::kUnfused:
            return "unfused";
    }
    throw Error(ErrorCode::kBadArgument,
                detail::concat(kOp, ": algo must be auto, fused or unfused, got the value ",
                               static_cast<int>(algo)));
}

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
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(x.device(), ctx.cuda_stream());
    const Sizes s = check_forward(x, weights, params, running);
    const std::vector<Checked> values = values_to_check(x, weights, params, running);
    // The values: on the CPU before anything runs; on CUDA searched on the device ahead of the
    // kernels and read once at the end (waiting for the search only, the kernels run on), batch
    // norm leaving the running statistics alone when a check failed: either way a rejected call
    // changes nothing.
    Tensor checks;
    if (!ctx.check_values()) {
        // ContextOptions::check_values off: the caller vouches for the values
    } else if (x.device().is_cpu()) {
        throw_if_bad(values, cpu_bad_values(values));
    } else {
#if defined(WTCONV_WITH_CUDA)
        std::vector<const Tensor*> tensors;
        for (const Checked& c : values) {
            tensors.push_back(c.tensor);
        }
        checks =
            cuda::wavkan_check_values_launch(ctx, tensors, kScaleIndex, nonnegative_index(values));
#endif
    }
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
    const cuda::WavKanCoreSums pending = run_core_forward(ctx, params, x, weights, z);
    if (params.batchnorm) {
        run_batchnorm_forward(ctx, params, pending, z, weights, checks, *running, y, mean, inv_std);
    } else {
        y = z;
    }
#if defined(WTCONV_WITH_CUDA)
    if (checks.defined()) {
        throw_if_bad(values, cuda::wavkan_check_values_read(ctx, checks));
    }
#endif
    if (saved != nullptr) {
        *saved = WavKanSaved{x, params.batchnorm ? z : Tensor(), mean, inv_std,
                             params.batchnorm && params.training};
    }
    return y;
}

WavKanGrads wavkan_backward(Context& ctx,
                            const Tensor& dy,
                            const WavKanWeights& weights,
                            const WavKanParams& params,
                            const WavKanSaved& saved,
                            bool need_dx) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(dy.device(), ctx.cuda_stream());
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
        WavKanParams as_saved = params;
        as_saved.training = saved.batch_statistics;
        run_batchnorm_backward(ctx, as_saved, dy, weights, saved, g, grads.dweights);
    }
    run_core_backward(ctx, params, x, weights, g, grads.dweights, need_dx ? &grads.dx : nullptr);
    return grads;
}

}  // namespace wtconv
