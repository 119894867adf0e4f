// conv2d: argument checks, output allocation and the one dispatch point. Kernels live in cpu/ and
// cuda/.
#include <wtconv/ops/conv2d.h>

#include "common/alloc_output.h"
#include "common/conv2d_geometry.h"
#include "core/memory.h"
#include "ops/conv2d_backends.h"

namespace wtconv {

namespace {

constexpr const char* kOp = "conv2d";

void check_params(const Conv2dParams& p) {
    WTCONV_CHECK(p.stride_h >= 1 && p.stride_w >= 1, "conv2d: stride must be >= 1, got (",
                 p.stride_h, ", ", p.stride_w, ")");
    WTCONV_CHECK(p.pad_h >= 0 && p.pad_w >= 0, "conv2d: padding must be >= 0, got (", p.pad_h, ", ",
                 p.pad_w, ")");
    WTCONV_CHECK(p.dilation_h >= 1 && p.dilation_w >= 1, "conv2d: dilation must be >= 1, got (",
                 p.dilation_h, ", ", p.dilation_w, ")");
    WTCONV_CHECK(p.groups >= 1, "conv2d: groups must be >= 1, got ", p.groups);
}

}  // namespace

namespace detail {

Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& weight, const Conv2dParams& p) {
    check_params(p);
    WTCONV_CHECK(x.rank() == 4, "conv2d: x must be (N, C, H, W), got ", x);
    WTCONV_CHECK(weight.rank() == 4, "conv2d: weight must be (O, C / groups, kh, kw), got ",
                 weight);
    Conv2dGeometry g{};
    g.n = x[0];
    g.c = x[1];
    g.h = x[2];
    g.w = x[3];
    g.o = weight[0];
    WTCONV_CHECK(g.c % p.groups == 0, "conv2d: in channels must be divisible by groups ", p.groups,
                 ", got x ", x, " with ", g.c, " channels");
    WTCONV_CHECK(g.o >= 1 && g.o % p.groups == 0,
                 "conv2d: out channels (weight dim 0) must be a positive multiple of groups ",
                 p.groups, ", got weight ", weight);
    WTCONV_CHECK(weight[1] == g.c / p.groups,
                 "conv2d: weight dim 1 must be C / groups = ", g.c / p.groups, ", got weight ",
                 weight, " for x ", x);
    WTCONV_CHECK(weight[2] >= 1 && weight[3] >= 1, "conv2d: kernel must be at least 1x1, got ",
                 weight);
    g.kh = static_cast<int>(weight[2]);
    g.kw = static_cast<int>(weight[3]);
    g.sh = p.stride_h;
    g.sw = p.stride_w;
    g.ph = p.pad_h;
    g.pw = p.pad_w;
    g.dh = p.dilation_h;
    g.dw = p.dilation_w;
    g.groups = p.groups;
    g.ho = conv_output_size(g.h, g.kh, g.sh, g.ph, g.dh);
    g.wo = conv_output_size(g.w, g.kw, g.sw, g.pw, g.dw);
    WTCONV_CHECK(g.ho >= 1 && g.wo >= 1,
                 "conv2d: the dilated kernel must fit the padded input, got kernel (", g.kh, ", ",
                 g.kw, ") dilation (", g.dh, ", ", g.dw, ") over ", g.h, "x", g.w, " padded by (",
                 g.ph, ", ", g.pw, ")");
    return g;
}

}  // namespace detail

namespace {

void check_tensor(const char* name, const Tensor& t, const Shape& shape, const Tensor& x) {
    check_shape(kOp, name, t, shape);
    check_dtype(kOp, name, t, x.dtype());
    check_device(kOp, name, t, x.device());
}

// x's dtype and device, the weights against x; returns the geometry.
detail::Conv2dGeometry check_forward(const Tensor& x,
                                     const Conv2dWeights& w,
                                     const Conv2dParams& p) {
    WTCONV_CHECK(x.defined(), "conv2d: x must be a tensor, got an undefined one");
    WTCONV_CHECK(w.weight.defined(), "conv2d: weight must be a tensor, got an undefined one");
    WTCONV_CHECK(is_floating(x.dtype()), "conv2d: x must be a floating dtype, got ",
                 dtype_name(x.dtype()));
    const detail::Conv2dGeometry g = detail::conv2d_geometry(x.shape(), w.weight.shape(), p);
    check_tensor("weight", w.weight, w.weight.shape(), x);
    if (p.bias) {
        WTCONV_CHECK(w.bias.defined(), "conv2d: bias must be a tensor of shape (", g.o,
                     ") when params.bias is true, got an undefined one");
        check_tensor("bias", w.bias, Shape{g.o}, x);
    } else {
        WTCONV_CHECK(!w.bias.defined(),
                     "conv2d: bias must be undefined when params.bias is "
                     "false, got a tensor of shape ",
                     w.bias.shape());
    }
    return g;
}

// The algorithm that runs: the requested one when it runs here, the device's choice for kAuto.
// Backward has no implicit GEMM; it runs img2col's kernels.
Conv2dAlgo choose_algo(Device device, DType dtype, Conv2dAlgo requested, bool backward) {
    WTCONV_CHECK_CODE(conv2d_supports(requested, device, dtype), ErrorCode::kNotSupported,
                      "conv2d: algo ", conv2d_algo_name(requested), " does not run on ",
                      device.str(), " for ", dtype_name(dtype));
    if (requested == Conv2dAlgo::kAuto) {
        requested = device.is_cpu() ? Conv2dAlgo::kImg2col : Conv2dAlgo::kImplicitGemm;
    }
    return backward ? Conv2dAlgo::kImg2col : requested;
}

#if !defined(WTCONV_WITH_CUDA)
[[noreturn]] void cuda_not_built() {
    throw Error(ErrorCode::kNotSupported, "conv2d: wtconv was built without CUDA");
}
#endif

void run_forward(Context& ctx,
                 Conv2dAlgo algo,
                 const detail::Conv2dGeometry& g,
                 const Tensor& x,
                 const Conv2dWeights& w,
                 const Conv2dParams& p,
                 Tensor& y) {
    if (x.device().is_cpu()) {
        cpu::conv2d_forward_img2col(ctx, g, x, w, y);
        return;
    }
#if defined(WTCONV_WITH_CUDA)
    if (algo == Conv2dAlgo::kImplicitGemm) {
        cuda::conv2d_forward_implicit_gemm(ctx, g, x, w, p.allow_tf32, y);
    } else {
        cuda::conv2d_forward_img2col(ctx, g, x, w, p.allow_tf32, y);
    }
#else
    (void)algo;
    (void)p;
    cuda_not_built();
#endif
}

void run_backward(Context& ctx,
                  const detail::Conv2dGeometry& g,
                  const Tensor& dy,
                  const Tensor& x,
                  const Conv2dWeights& w,
                  const Conv2dParams& p,
                  Conv2dGrads& grads) {
    if (x.device().is_cpu()) {
        cpu::conv2d_backward_img2col(ctx, g, dy, x, w, grads);
        return;
    }
#if defined(WTCONV_WITH_CUDA)
    cuda::conv2d_backward_img2col(ctx, g, dy, x, w, p.allow_tf32, grads);
#else
    (void)p;
    cuda_not_built();
#endif
}

}  // namespace

const char* conv2d_algo_name(Conv2dAlgo algo) {
    switch (algo) {
        case Conv2dAlgo::kAuto:
            return "auto";
        case Conv2dAlgo::kImg2col:
            return "img2col";
        case Conv2dAlgo::kImplicitGemm:
            return "implicit_gemm";
    }
    return "?";
}

bool conv2d_supports(Conv2dAlgo algo, Device device, DType dtype) {
    switch (device.type) {
        case DeviceType::kCpu:
            return (dtype == DType::kFloat32 || dtype == DType::kFloat64) &&
                   (algo == Conv2dAlgo::kAuto || algo == Conv2dAlgo::kImg2col);
        case DeviceType::kCuda:
#if defined(WTCONV_WITH_CUDA)
            return is_floating(dtype);  // every algo, float32, float64, float16 and bfloat16
#else
            return false;
#endif
    }
    return false;
}

Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dParams& params) {
    const detail::Conv2dGeometry g = detail::conv2d_geometry(x, weight, params);
    return Shape{g.n, g.o, g.ho, g.wo};
}

Tensor conv2d_forward(Context& ctx,
                      const Tensor& x,
                      const Conv2dWeights& w,
                      const Conv2dParams& p,
                      Conv2dSaved* saved) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(x.device(), ctx.cuda_stream());
    const detail::Conv2dGeometry g = check_forward(x, w, p);
    const Conv2dAlgo algo = choose_algo(x.device(), x.dtype(), p.algo, false);
    Tensor y = detail::alloc_output(ctx, Shape{g.n, g.o, g.ho, g.wo}, x.dtype(), x.device());
    run_forward(ctx, algo, g, x, w, p, y);
    if (saved != nullptr) {
        saved->x = x;
    }
    return y;
}

Conv2dGrads conv2d_backward(Context& ctx,
                            const Tensor& dy,
                            const Conv2dWeights& w,
                            const Conv2dParams& p,
                            const Conv2dSaved& saved,
                            bool need_dx) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(dy.device(), ctx.cuda_stream());
    WTCONV_CHECK(saved.x.defined(),
                 "conv2d: saved.x must hold the forward input (pass saved to conv2d_forward), "
                 "got an undefined tensor");
    const Tensor& x = saved.x;
    const detail::Conv2dGeometry g = check_forward(x, w, p);
    WTCONV_CHECK(dy.defined(), "conv2d: dy must be a tensor, got an undefined one");
    check_tensor("dy", dy, Shape{g.n, g.o, g.ho, g.wo}, x);
    choose_algo(x.device(), x.dtype(), p.algo, true);  // throws for an algo that cannot run here
    Conv2dGrads grads;
    if (need_dx) {
        grads.dx = detail::alloc_output(ctx, x.shape(), x.dtype(), x.device());
    }
    grads.dweights.weight = detail::alloc_output(ctx, w.weight.shape(), x.dtype(), x.device());
    if (p.bias) {
        grads.dweights.bias = detail::alloc_output(ctx, Shape{g.o}, x.dtype(), x.device());
    }
    run_backward(ctx, g, dy, x, w, p, grads);
    return grads;
}

}  // namespace wtconv
