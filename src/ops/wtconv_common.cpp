// Checks shared by wtconv2d and wtconv1d: every rule of the spec's section 7, once, before any
// allocation or kernel, so every backend rejects the same inputs with the same words.
#include "ops/wtconv_common.h"

#include <limits>
#include <string>

#include <wtconv/wavelets.h>

#include "core/memory.h"

namespace wtconv::detail {

namespace {

Shape kernel_shape(const WTConvRank& r, std::int64_t rows, int k) {
    return r.spatial == 2 ? Shape{rows, 1, k, k} : Shape{rows, 1, k};
}

void check_param(
    const WTConvRank& r, const char* name, const Tensor& t, const Shape& shape, const Tensor& x) {
    check_shape(r.op, name, t, shape);
    check_dtype(r.op, name, t, x.dtype());
    check_device(r.op, name, t, x.device());
}

}  // namespace

const WaveletTaps& check_wtconv_forward(const WTConvRank& r,
                                        Context& ctx,
                                        const Tensor& x,
                                        const WTConvWeights& w,
                                        const WTConvParams& p) {
    WTCONV_CHECK(p.kernel_size >= 1, r.op, ": kernel_size must be >= 1, got ", p.kernel_size);
    WTCONV_CHECK(p.levels >= 0, r.op, ": levels must be >= 0, got ", p.levels);
    WTCONV_CHECK(p.stride >= 1, r.op, ": stride must be >= 1, got ", p.stride);
    const WaveletTaps* taps = find_wavelet(p.wavelet);
    WTCONV_CHECK(taps != nullptr, r.op,
                 ": wavelet must be a discrete pywt wavelet such as db1, "
                 "db2, sym3, coif1 or bior2.2 (see wavelet_names()), got \"",
                 p.wavelet, "\"");

    WTCONV_CHECK(x.defined(), r.op, ": x must be a tensor, got an undefined tensor");
    const char* layout = r.spatial == 2 ? "(N, C, H, W)" : "(N, C, L)";
    WTCONV_CHECK(x.dim() == r.spatial + 2, r.op, ": x must have rank ", r.spatial + 2, " ", layout,
                 ", got shape ", x.shape());
    WTCONV_CHECK(x.size(0) >= 1 && x.size(1) >= 1, r.op,
                 ": x must have N >= 1 and C >= 1, got shape ", x.shape());
    for (int d = 2; d < x.dim(); ++d) {
        WTCONV_CHECK(x.size(d) >= 1, r.op, ": x must have spatial sizes >= 1, got shape ",
                     x.shape());
    }
    // Kernels index planes with int: every plane and the per-plane scratch must fit.
    WTCONV_CHECK(x.numel() < std::numeric_limits<std::int32_t>::max(), r.op,
                 ": x must have fewer than 2^31 elements, got ", x.numel());
    WTCONV_CHECK(x.device() == ctx.device(), r.op, ": x must be on the context's device ",
                 ctx.device(), ", got ", x.device());
    if (r.spatial == 1) {
        WTCONV_CHECK(x.size(2) >= p.stride, r.op, ": x length must be >= stride ", p.stride,
                     " (the averaging window), got shape ", x.shape());
    }

    const std::int64_t c = x.size(1);
    check_param(r, "base_weight", w.base_weight, kernel_shape(r, c, p.kernel_size), x);
    if (p.bias) {
        check_param(r, "base_bias", w.base_bias, Shape{c}, x);
    } else {
        WTCONV_CHECK(!w.base_bias.defined(), r.op,
                     ": base_bias must be undefined when params.bias is false, got shape ",
                     w.base_bias.shape());
    }
    check_param(r, "base_scale", w.base_scale, Shape{c}, x);
    WTCONV_CHECK(static_cast<int>(w.wavelet_weight.size()) == p.levels, r.op,
                 ": wavelet_weight must hold one tensor per level (", p.levels, "), got ",
                 w.wavelet_weight.size());
    WTCONV_CHECK(static_cast<int>(w.wavelet_scale.size()) == p.levels, r.op,
                 ": wavelet_scale must hold one tensor per level (", p.levels, "), got ",
                 w.wavelet_scale.size());
    for (int i = 0; i < p.levels; ++i) {
        const std::string wi = "wavelet_weight[" + std::to_string(i) + "]";
        const std::string si = "wavelet_scale[" + std::to_string(i) + "]";
        check_param(r, wi.c_str(), w.wavelet_weight[i], kernel_shape(r, r.bands * c, p.kernel_size),
                    x);
        check_param(r, si.c_str(), w.wavelet_scale[i], Shape{r.bands * c}, x);
    }
    return *taps;
}

WTConvWeights wtconv_empty_weights(
    const WTConvRank& r, std::int64_t channels, const WTConvParams& p, DType dtype, Device device) {
    WTCONV_CHECK(channels >= 1, r.op, ": channels must be >= 1, got ", channels);
    WTCONV_CHECK(p.kernel_size >= 1, r.op, ": kernel_size must be >= 1, got ", p.kernel_size);
    WTCONV_CHECK(p.levels >= 0, r.op, ": levels must be >= 0, got ", p.levels);
    WTConvWeights w;
    w.base_weight = Tensor::empty(kernel_shape(r, channels, p.kernel_size), dtype, device);
    if (p.bias) {
        w.base_bias = Tensor::empty(Shape{channels}, dtype, device);
    }
    w.base_scale = Tensor::empty(Shape{channels}, dtype, device);
    for (int i = 0; i < p.levels; ++i) {
        w.wavelet_weight.push_back(
            Tensor::empty(kernel_shape(r, r.bands * channels, p.kernel_size), dtype, device));
        w.wavelet_scale.push_back(Tensor::empty(Shape{r.bands * channels}, dtype, device));
    }
    return w;
}

WTConvGrads alloc_wtconv_grads(const WTConvRank& r,
                               Context& ctx,
                               const Tensor& x,
                               const WTConvParams& p) {
    WTConvGrads g;
    g.dx = alloc_output(ctx, x.shape(), x.dtype(), x.device());
    g.dweights = wtconv_empty_weights(r, x.size(1), p, x.dtype(), x.device());
    if (ctx.poison_outputs()) {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        g.dweights.base_weight.fill(nan);
        g.dweights.base_scale.fill(nan);
        if (p.bias) {
            g.dweights.base_bias.fill(nan);
        }
        for (int i = 0; i < p.levels; ++i) {
            g.dweights.wavelet_weight[i].fill(nan);
            g.dweights.wavelet_scale[i].fill(nan);
        }
    }
    return g;
}

namespace {

bool is_half(DType dtype) {
    return dtype == DType::kFloat16 || dtype == DType::kBFloat16;
}

// Why algo cannot run (op, device, dtype, params), or nullptr when it can. Messages name the
// argument, what is supported and what came.
std::string why_not(
    const WTConvRank& r, WTConvAlgo algo, Device device, DType dtype, const WTConvParams& p) {
    const std::string got = concat(", got ", wtconv_algo_name(algo));
    switch (algo) {
        case WTConvAlgo::kAuto:
        case WTConvAlgo::kPlanewise:
        case WTConvAlgo::kDirect:
        case WTConvAlgo::kFused:
            break;
        default:  // a value outside the enum (a cast): name it rather than run something
            return concat(r.op, ": algo must be auto, planewise, direct or fused, got ",
                          static_cast<int>(algo));
    }
    if (!is_floating(dtype)) {
        return concat(r.op,
                      ": x must be a floating dtype (float32, float64, float16 or bfloat16), "
                      "got ",
                      dtype_name(dtype));
    }
    switch (device.type) {
        case DeviceType::kCpu:
            if (algo == WTConvAlgo::kFused) {
                return concat(r.op, ": algo must be auto, planewise or direct on the CPU", got);
            }
            if (is_half(dtype)) {
                return concat(r.op, ": x must be float32 or float64 on the CPU, got ",
                              dtype_name(dtype));
            }
            return {};
        case DeviceType::kCuda:
            break;
    }
    if (r.cuda_forward_direct == nullptr) {
        return concat(r.op, ": x is on ", device, " but the library was built without CUDA");
    }
    if (algo == WTConvAlgo::kPlanewise) {
        return concat(r.op, ": algo must be auto, direct or fused on CUDA", got);
    }
    const bool fused_ok = r.cuda_fused_supports != nullptr && r.cuda_fused_supports(dtype, p);
    if (algo == WTConvAlgo::kFused && !fused_ok) {
        return concat(
            r.op,
            ": algo fused runs WTConv2d with wavelet db1 (haar), kernel_size 3, 5 or 7 and "
            "float32, float16 or bfloat16 (levels as far as shared memory allows), got ",
            r.op, " with wavelet ", p.wavelet, ", kernel_size ", p.kernel_size, ", levels ",
            p.levels, ", ", dtype_name(dtype));
    }
    if (algo != WTConvAlgo::kFused && is_half(dtype) && !(algo == WTConvAlgo::kAuto && fused_ok)) {
        return concat(r.op, ": x of dtype ", dtype_name(dtype),
                      " runs only on the fused algorithm (WTConv2d, db1, kernel_size 3, 5 or 7); "
                      "algo ",
                      wtconv_algo_name(algo), " runs float32 and float64");
    }
    return {};
}

}  // namespace

WTConvAlgo choose_wtconv_algo(const WTConvRank& r,
                              Device device,
                              DType dtype,
                              const WTConvParams& p) {
    const std::string reason = why_not(r, p.algo, device, dtype, p);
    if (!reason.empty()) {
        throw Error(ErrorCode::kNotSupported, reason);
    }
    if (p.algo != WTConvAlgo::kAuto) {
        return p.algo;
    }
    switch (device.type) {
        case DeviceType::kCpu:
            return WTConvAlgo::kPlanewise;
        case DeviceType::kCuda:
            break;
    }
    const bool fused_ok = r.cuda_fused_supports != nullptr && r.cuda_fused_supports(dtype, p);
    return fused_ok ? WTConvAlgo::kFused : WTConvAlgo::kDirect;
}

bool wtconv_supports(
    const WTConvRank& r, WTConvAlgo algo, Device device, DType dtype, const WTConvParams& p) {
    return why_not(r, algo, device, dtype, p).empty();
}

Tensor wtconv_forward(const WTConvRank& r,
                      Context& ctx,
                      const Tensor& x,
                      const WTConvWeights& w,
                      const WTConvParams& p,
                      WTConvSaved* saved) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(x.device(), ctx.cuda_stream());
    const WaveletTaps& taps = check_wtconv_forward(r, ctx, x, w, p);
    const WTConvAlgo algo = choose_wtconv_algo(r, x.device(), x.dtype(), p);
    Tensor y = alloc_output(ctx, r.output_shape(x, p), x.dtype(), x.device());
    WTConvForwardKernel kernel = nullptr;
    switch (x.device().type) {
        case DeviceType::kCpu:
            kernel = algo == WTConvAlgo::kDirect ? r.cpu_forward_direct : r.cpu_forward;
            break;
        case DeviceType::kCuda:
            kernel = algo == WTConvAlgo::kFused ? r.cuda_forward_fused : r.cuda_forward_direct;
            break;
    }  // no default: with -Wswitch a new DeviceType names every dispatch that must handle it
    kernel(ctx, x, w, p, taps, y);
    if (saved != nullptr) {
        saved->x = x;
    }
    return y;
}

WTConvGrads wtconv_backward(const WTConvRank& r,
                            Context& ctx,
                            const Tensor& dy,
                            const WTConvWeights& w,
                            const WTConvParams& p,
                            const WTConvSaved& saved) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(dy.device(), ctx.cuda_stream());
    WTCONV_CHECK(saved.x.defined(), r.op,
                 ": saved.x must hold the forward input, got an undefined tensor (was forward "
                 "called with saved?)");
    const Tensor& x = saved.x;
    const WaveletTaps& taps = check_wtconv_forward(r, ctx, x, w, p);
    const WTConvAlgo algo = choose_wtconv_algo(r, x.device(), x.dtype(), p);
    check_shape(r.op, "dy", dy, r.output_shape(x, p));
    check_dtype(r.op, "dy", dy, x.dtype());
    check_device(r.op, "dy", dy, x.device());
    WTConvGrads grads = alloc_wtconv_grads(r, ctx, x, p);
    WTConvBackwardKernel kernel = nullptr;
    switch (x.device().type) {
        case DeviceType::kCpu:
            kernel = algo == WTConvAlgo::kDirect ? r.cpu_backward_direct : r.cpu_backward;
            break;
        case DeviceType::kCuda:
            kernel = algo == WTConvAlgo::kFused ? r.cuda_backward_fused : r.cuda_backward_direct;
            break;
    }
    kernel(ctx, dy, x, w, p, taps, grads);
    return grads;
}

}  // namespace wtconv::detail

namespace wtconv {
const char* wtconv_algo_name(WTConvAlgo algo) {
    switch (algo) {
        case WTConvAlgo::kAuto:
            return "auto";
        case WTConvAlgo::kPlanewise:
            return "planewise";
        case WTConvAlgo::kDirect:
            return "direct";
        case WTConvAlgo::kFused:
            return "fused";
    }
    return "?";
}

}  // namespace wtconv
