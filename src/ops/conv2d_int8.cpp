// int8 conv2d: argument checks, output allocation and the one dispatch point; kernels in
// cpu/conv2d_int8.cpp and cuda/conv2d_int8.cu.
#include <cmath>
#include <cstdint>
#include <limits>

#include <wtconv/ops/conv2d_int8.h>

#include "common/alloc_output.h"
#include "core/memory.h"
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

// Defined and of dtype; the device is checked apart, against the call's first tensor.
void check_defined(const char* name, const Tensor& t, DType dtype) {
    WTCONV_CHECK(t.defined(), "conv2d_int8: ", name, " must be a tensor, got an undefined one");
    check_dtype("conv2d_int8", name, t, dtype);
}

void check_tensor(const char* name, const Tensor& t, DType dtype, Device device) {
    check_defined(name, t, dtype);
    check_device("conv2d_int8", name, t, device);
}

// The kernels queue on the context's stream, so it must be the tensors' device's context.
void check_context(const Context& ctx, const char* name, const Tensor& t) {
    WTCONV_CHECK(t.device() == ctx.device(), "conv2d_int8: ", name,
                 " must be on the context's device ", ctx.device(), ", got ", t.device());
}

void check_host(const char* name, const Tensor& t, DType dtype) {
    check_defined(name, t, dtype);
    WTCONV_CHECK_CODE(t.device().is_cpu(), ErrorCode::kNotSupported, "conv2d_int8: ", name,
                      " must be on cpu (quantize_conv2d_weights runs on the host; move its result "
                      "with to_device), got ",
                      t.device());
}

// The CUDA kernels index with int32 and mark padding with a row offset of -2^30 (see
// cuda/conv2d_int8_dp4a.cuh). Sizes multiply in double, which cannot overflow: exact below 2^53,
// and rounding is monotone, so a product >= 2^31 never compares below it.
void check_cuda_sizes(const detail::Conv2dGeometry& g, const Tensor& weight) {
    constexpr double kMax = static_cast<double>(std::numeric_limits<std::int32_t>::max());
    const double padded_h = static_cast<double>(g.h) + 2.0 * g.ph;
    const double padded_w = static_cast<double>(g.w) + 2.0 * g.pw;
    const double padded = static_cast<double>(g.n) * static_cast<double>(g.c) * padded_h * padded_w;
    const double y = static_cast<double>(g.n) * static_cast<double>(g.o) *
                     static_cast<double>(g.ho) * static_cast<double>(g.wo);
    WTCONV_CHECK_CODE(padded < kMax && y < kMax && static_cast<double>(weight.numel()) < kMax,
                      ErrorCode::kNotSupported,
                      "conv2d_int8: on cuda, x_q zero-padded, y_q and weight must each have "
                      "fewer than 2^31 elements, got ",
                      padded, ", ", y, " and ", weight.numel());
    WTCONV_CHECK_CODE(padded_h < (1 << 30) && padded_w < (1 << 30), ErrorCode::kNotSupported,
                      "conv2d_int8: on cuda, H + 2 pad_h and W + 2 pad_w must be < 2^30, got ",
                      padded_h, " and ", padded_w);
}

Conv2dInt8Algo choose_algo(Conv2dInt8Algo requested, Device device) {
    if (!conv2d_int8_supports(requested, device)) {
        // the CPU algorithms that need an instruction set
        const char* isa = requested == Conv2dInt8Algo::kAmx    ? "AMX-INT8 (and the OS's leave)"
                          : requested == Conv2dInt8Algo::kVnni ? "AVX-512 VNNI"
                          : requested == Conv2dInt8Algo::kAvx2 ? "AVX2"
                                                               : nullptr;
        if (isa != nullptr && device.is_cpu()) {
            throw Error(
                ErrorCode::kNotSupported,
                detail::concat("conv2d_int8: algo ", conv2d_int8_algo_name(requested), " needs ",
                               isa, " in the CPU and the build, got neither or one"));
        }
        throw Error(
            ErrorCode::kNotSupported,
            detail::concat("conv2d_int8: algo ", conv2d_int8_algo_name(requested),
                           " does not run on ", device.str(), " tensors (cpu: ",
                           "portable, avx2, vnni, amx; cuda: dp4a), got x_q on ", device.str()));
    }
    if (requested != Conv2dInt8Algo::kAuto) {
        return requested;
    }
    switch (device.type) {
        case DeviceType::kCpu:
            if (cpu::conv2d_int8_amx_available()) {
                return Conv2dInt8Algo::kAmx;
            }
            if (cpu::conv2d_int8_vnni_available()) {
                return Conv2dInt8Algo::kVnni;
            }
            return cpu::conv2d_int8_avx2_available() ? Conv2dInt8Algo::kAvx2
                                                     : Conv2dInt8Algo::kPortable;
        case DeviceType::kCuda:
            return Conv2dInt8Algo::kDp4a;
    }
    return Conv2dInt8Algo::kPortable;
}

#if !defined(WTCONV_WITH_CUDA)
// In a build without CUDA no CUDA tensor exists (creating one throws), so the CUDA cases below
// are unreachable there; they only must not name cuda:: functions, which that build lacks.
[[noreturn]] void cuda_not_built() {
    throw Error(ErrorCode::kNotSupported,
                "conv2d_int8: tensors must be on cpu in this build (wtconv was built without "
                "CUDA), got a cuda tensor");
}
#endif

}  // namespace

const char* conv2d_int8_algo_name(Conv2dInt8Algo algo) {
    switch (algo) {
        case Conv2dInt8Algo::kAuto:
            return "auto";
        case Conv2dInt8Algo::kVnni:
            return "vnni";
        case Conv2dInt8Algo::kPortable:
            return "portable";
        case Conv2dInt8Algo::kDp4a:
            return "dp4a";
        case Conv2dInt8Algo::kAvx2:
            return "avx2";
        case Conv2dInt8Algo::kAmx:
            return "amx";
    }
    return "?";
}

Conv2dInt8Algo conv2d_int8_auto_algo(Device device) {
    return choose_algo(Conv2dInt8Algo::kAuto, device);
}

bool conv2d_int8_supports(Conv2dInt8Algo algo, Device device) {
    switch (device.type) {
        case DeviceType::kCpu:
            switch (algo) {
                case Conv2dInt8Algo::kAuto:
                case Conv2dInt8Algo::kPortable:
                    return true;
                case Conv2dInt8Algo::kVnni:
                    return cpu::conv2d_int8_vnni_available();
                case Conv2dInt8Algo::kAvx2:
                    return cpu::conv2d_int8_avx2_available();
                case Conv2dInt8Algo::kAmx:
                    return cpu::conv2d_int8_amx_available();
                case Conv2dInt8Algo::kDp4a:
                    return false;
            }
            return false;
        case DeviceType::kCuda:
            return cuda_built() && (algo == Conv2dInt8Algo::kAuto || algo == Conv2dInt8Algo::kDp4a);
    }
    return false;
}

bool conv2d_int8_supports(Conv2dInt8Algo algo) {
    return conv2d_int8_supports(algo, Device::cpu());
}

Tensor quantize_activation(Context& ctx, const Tensor& x, const ActivationQuant& q) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(x.device(), ctx.cuda_stream());
    check_defined("x", x, DType::kFloat32);
    check_context(ctx, "x", x);
    check_quant("quant", q);
    Tensor out = detail::alloc_output(ctx, x.shape(), DType::kUInt8, x.device());
    switch (x.device().type) {
        case DeviceType::kCpu:
            cpu::quantize_activation(x, q, out);
            break;
        case DeviceType::kCuda:
#if defined(WTCONV_WITH_CUDA)
            cuda::quantize_activation(ctx, x, q, out);
            break;
#else
            cuda_not_built();
#endif
    }
    return out;
}

Tensor dequantize_activation(Context& ctx, const Tensor& q, const ActivationQuant& quant) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(q.device(), ctx.cuda_stream());
    check_defined("q", q, DType::kUInt8);
    check_context(ctx, "q", q);
    check_quant("quant", quant);
    Tensor out = detail::alloc_output(ctx, q.shape(), DType::kFloat32, q.device());
    switch (q.device().type) {
        case DeviceType::kCpu:
            cpu::dequantize_activation(q, quant, out);
            break;
        case DeviceType::kCuda:
#if defined(WTCONV_WITH_CUDA)
            cuda::dequantize_activation(ctx, q, quant, out);
            break;
#else
            cuda_not_built();
#endif
    }
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

Conv2dInt8Weights to_device(const Conv2dInt8Weights& w, Device device) {
    Conv2dInt8Weights out;
    out.weight = w.weight.defined() ? w.weight.to(device) : Tensor();
    out.weight_scale = w.weight_scale.defined() ? w.weight_scale.to(device) : Tensor();
    out.bias = w.bias.defined() ? w.bias.to(device) : Tensor();
    return out;
}

Tensor conv2d_int8_forward(Context& ctx,
                           const Tensor& x_q,
                           const Conv2dInt8Weights& w,
                           const Conv2dInt8Params& p) {
    // the whole call's memory work on ctx's stream (temporaries freed after their kernels)
    const cuda::OpStreamScope stream_scope(x_q.device(), ctx.cuda_stream());
    check_defined("x_q", x_q, DType::kUInt8);
    check_context(ctx, "x_q", x_q);
    const Device device = x_q.device();
    check_tensor("weight", w.weight, DType::kInt8, device);
    check_quant("params.input", p.input);
    check_quant("params.output", p.output);
    const detail::Conv2dGeometry g = detail::conv2d_geometry(x_q.shape(), w.weight.shape(), p.conv);
    check_tensor("weight_scale", w.weight_scale, DType::kFloat32, device);
    check_shape("conv2d_int8", "weight_scale", w.weight_scale, Shape{g.o});
    if (p.conv.bias) {
        check_tensor("bias", w.bias, DType::kFloat32, device);
        check_shape("conv2d_int8", "bias", w.bias, Shape{g.o});
    } else {
        WTCONV_CHECK(!w.bias.defined(),
                     "conv2d_int8: bias must be undefined when "
                     "params.conv.bias is false, got a tensor of shape ",
                     w.bias.shape());
    }
    const Conv2dInt8Algo algo = choose_algo(p.algo, device);
    if (device.is_cuda()) {
        check_cuda_sizes(g, w.weight);
    }
    Tensor y = detail::alloc_output(ctx, Shape{g.n, g.o, g.ho, g.wo}, DType::kUInt8, device);
    switch (device.type) {
        case DeviceType::kCpu:
            cpu::conv2d_int8_forward(ctx, g, x_q, w, p, algo, y);
            break;
        case DeviceType::kCuda:
#if defined(WTCONV_WITH_CUDA)
            cuda::conv2d_int8_forward(ctx, g, x_q, w, p, y);
            break;
#else
            cuda_not_built();
#endif
    }  // no default: with -Wswitch a new DeviceType names every dispatch that must handle it
    return y;
}

}  // namespace wtconv
