// int8 conv2d: argument checks, output allocation and dispatch; kernels in cpu/conv2d_int8.cpp.
#include <cmath>

#include <wtconv/ops/conv2d_int8.h>

#include "common/alloc_output.h"
#include "ops/conv2d_backends.h"

namespace wtconv {

namespace {

void check_quant(const char* name, const ActivationQuant& q) {
    WTCONV_CHECK(std::isfinite(q.scale) && q.scale > 0.0f, "conv2d_int8: ", name,
                 ".scale must be finite and > 0, got ", q.scale);
    WTCONV_CHECK(0 <= q.quant_min && q.quant_min <= q.quant_max && q.quant_max <= 255,
                 "conv2d_int8: ", name,
                 " range must satisfy 0 <= quant_min <= quant_max <= 255, "
                 "got [",
                 q.quant_min, ", ", q.quant_max, "]");
    WTCONV_CHECK(q.quant_min <= q.zero_point && q.zero_point <= q.quant_max, "conv2d_int8: ", name,
                 ".zero_point must be in [", q.quant_min, ", ", q.quant_max, "], got ",
                 q.zero_point);
}

void check_host(const char* name, const Tensor& t, DType dtype) {
    WTCONV_CHECK(t.defined(), "conv2d_int8: ", name, " must be a tensor, got an undefined one");
    check_dtype("conv2d_int8", name, t, dtype);
    WTCONV_CHECK_CODE(t.device().is_cpu(), ErrorCode::kNotSupported, "conv2d_int8: ", name,
                      " must be on cpu (int8 kernels are CPU only), got ", t.device());
}

}  // namespace

const char* conv2d_int8_algo_name(Conv2dInt8Algo algo) {
    switch (algo) {
        case Conv2dInt8Algo::kAuto:
            return "auto";
        case Conv2dInt8Algo::kVnni:
            return "vnni";
        case Conv2dInt8Algo::kPortable:
            return "portable";
    }
    return "?";
}

bool conv2d_int8_supports(Conv2dInt8Algo algo) {
    switch (algo) {
        case Conv2dInt8Algo::kAuto:
        case Conv2dInt8Algo::kPortable:
            return true;
        case Conv2dInt8Algo::kVnni:
            return cpu::conv2d_int8_vnni_available();
    }
    return false;
}

Tensor quantize_activation(Context& ctx, const Tensor& x, const ActivationQuant& q) {
    check_host("x", x, DType::kFloat32);
    check_quant("quant", q);
    Tensor out = detail::alloc_output(ctx, x.shape(), DType::kUInt8, x.device());
    cpu::quantize_activation(x, q, out);
    return out;
}

Tensor dequantize_activation(Context& ctx, const Tensor& q, const ActivationQuant& quant) {
    check_host("q", q, DType::kUInt8);
    check_quant("quant", quant);
    Tensor out = detail::alloc_output(ctx, q.shape(), DType::kFloat32, q.device());
    cpu::dequantize_activation(q, quant, out);
    return out;
}

Conv2dInt8Weights quantize_conv2d_weights(const Conv2dWeights& w, const Tensor& weight_scale) {
    check_host("weight", w.weight, DType::kFloat32);
    WTCONV_CHECK(w.weight.dim() == 4, "conv2d_int8: weight must be (O, C / groups, kh, kw), got ",
                 w.weight.shape());
    check_host("weight_scale", weight_scale, DType::kFloat32);
    check_shape("conv2d_int8", "weight_scale", weight_scale, Shape{w.weight.size(0)});
    for (const double s : weight_scale.to_vector()) {
        WTCONV_CHECK(std::isfinite(s) && s > 0.0,
                     "conv2d_int8: weight_scale entries must be finite and > 0, got ", s);
    }
    Conv2dInt8Weights q;
    q.weight = Tensor::empty(w.weight.shape(), DType::kInt8);
    cpu::quantize_conv2d_weights(w.weight, weight_scale, q.weight);
    q.weight_scale = weight_scale.clone();
    if (w.bias.defined()) {
        check_host("bias", w.bias, DType::kFloat32);
        check_shape("conv2d_int8", "bias", w.bias, Shape{w.weight.size(0)});
        q.bias = w.bias.clone();
    }
    return q;
}

Tensor conv2d_int8_forward(Context& ctx,
                           const Tensor& x_q,
                           const Conv2dInt8Weights& w,
                           const Conv2dInt8Params& p) {
    check_host("x_q", x_q, DType::kUInt8);
    check_host("weight", w.weight, DType::kInt8);
    check_quant("params.input", p.input);
    check_quant("params.output", p.output);
    const detail::Conv2dGeometry g = detail::conv2d_geometry(x_q.shape(), w.weight.shape(), p.conv);
    check_host("weight_scale", w.weight_scale, DType::kFloat32);
    check_shape("conv2d_int8", "weight_scale", w.weight_scale, Shape{g.o});
    if (p.conv.bias) {
        check_host("bias", w.bias, DType::kFloat32);
        check_shape("conv2d_int8", "bias", w.bias, Shape{g.o});
    } else {
        WTCONV_CHECK(!w.bias.defined(),
                     "conv2d_int8: bias must be undefined when "
                     "params.conv.bias is false, got a tensor of shape ",
                     w.bias.shape());
    }
    Conv2dInt8Algo algo = p.algo;
    if (algo == Conv2dInt8Algo::kAuto) {
        algo =
            cpu::conv2d_int8_vnni_available() ? Conv2dInt8Algo::kVnni : Conv2dInt8Algo::kPortable;
    }
    WTCONV_CHECK_CODE(conv2d_int8_supports(algo), ErrorCode::kNotSupported, "conv2d_int8: algo ",
                      conv2d_int8_algo_name(algo),
                      " needs AVX-512 VNNI in the CPU and the build, got neither or one");
    Tensor y = detail::alloc_output(ctx, Shape{g.n, g.o, g.ho, g.wo}, DType::kUInt8, x_q.device());
    cpu::conv2d_int8_forward(ctx, g, x_q, w, p, algo, y);
    return y;
}

}  // namespace wtconv
