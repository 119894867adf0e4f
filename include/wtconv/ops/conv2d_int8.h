#pragma once
// int8 inference Conv2d (COMPRESSION.md 3.5): uint8 activations with a zero point, int8 weights
// symmetric per output channel, int32 accumulation, requantisation to uint8 in float32. What a
// quantisation-aware-trained Conv2d converts to; its outputs equal the fake-quantised model's
// within one quantisation step.
#include <cstdint>

#include <wtconv/context.h>
#include <wtconv/ops/conv2d.h>

namespace wtconv {

// Per-tensor affine quantisation of an activation: q = clamp(rne(fl32(x fl32(1 / scale))) + zero,
// quant_min, quant_max), and back x = (q - zero) scale. quant_max 127 is PyTorch's reduce_range.
struct ActivationQuant {
    float scale = 1.0f;            // > 0, finite
    std::int32_t zero_point = 0;   // in [quant_min, quant_max]
    std::int32_t quant_min = 0;    // >= 0
    std::int32_t quant_max = 255;  // <= 255
};

// x: float32 (any shape, cpu or cuda) -> uint8 of the same shape on x's device, equal on every
// device bit for bit. ctx must be x's device's context.
Tensor quantize_activation(Context& ctx, const Tensor& x, const ActivationQuant& q);
// q: uint8 -> float32, on q's device.
Tensor dequantize_activation(Context& ctx, const Tensor& q, const ActivationQuant& quant);

struct Conv2dInt8Weights {
    Tensor weight;        // int8 (O, C / groups, kh, kw)
    Tensor weight_scale;  // float32 (O): w ~ weight[o] * weight_scale[o]
    Tensor bias;          // float32 (O); undefined when the conv has none
};

// Symmetric per-output-channel int8 weights: q = clamp(rne(fl32(w fl32(1 / scale[o]))), -128,
// 127), the product with the reciprocal exactly as the weights' fake quantiser computes it in
// training (fake_quant.h), so the int8 layer holds the weights QAT simulated. weight_scale:
// float32 (O), every entry > 0. The bias stays float32. Host tensors in and out: move the result
// to a GPU with to_device.
Conv2dInt8Weights quantize_conv2d_weights(const Conv2dWeights& w, const Tensor& weight_scale);
// Every tensor of w copied to device (an undefined bias stays undefined).
Conv2dInt8Weights to_device(const Conv2dInt8Weights& w, Device device);

// Which implementation runs; each runs on one device type, and one the tensors' device cannot run
// throws Error(kNotSupported). Every algorithm gives the same bytes.
enum class Conv2dInt8Algo {
    kAuto,      // by x_q's device: CPU kAmx where the CPU, the build and the OS allow it, else
                // kVnni where the CPU and the build have it, else kAvx2 where they have that,
                // else kPortable; CUDA kDp4a
    kVnni,      // CPU: AVX-512 VNNI (vpdpbusd) micro-kernel
    kPortable,  // CPU: plain int32 loops, any CPU
    kDp4a,      // CUDA: implicit GEMM on __dp4a (four 8-bit products per instruction), int32 sums
    kAvx2,      // CPU: AVX2 micro-kernel on taps widened to int16 pairs (vpmaddwd), exact
    kAmx,       // CPU: AMX tiles (tdpbsud, 16 x 16 int32 sums of 64 taps an instruction)
};
const char* conv2d_int8_algo_name(Conv2dInt8Algo algo);
// True when this build and CPU run algo (the CPU's question; kDp4a is false).
bool conv2d_int8_supports(Conv2dInt8Algo algo);
// True when this build runs algo on tensors of device (whether that GPU is present is not asked).
bool conv2d_int8_supports(Conv2dInt8Algo algo, Device device);
// The algorithm kAuto runs on tensors of device (on the CPU: this build and CPU's best); throws
// Error(kNotSupported) where none runs (CUDA tensors in a build without CUDA).
Conv2dInt8Algo conv2d_int8_auto_algo(Device device = Device::cpu());

struct Conv2dInt8Params {
    Conv2dParams conv;  // stride, padding, dilation, groups, bias; conv.algo is ignored
    ActivationQuant input, output;
    bool relu = false;  // fused ReLU: the output's lower clamp rises to output.zero_point
    Conv2dInt8Algo algo = Conv2dInt8Algo::kAuto;
};

// x_q: uint8 (N, C, H, W) quantised with params.input; returns uint8 (N, O, Ho, Wo) quantised with
// params.output: acc = sum (x_q - z_x) w_q in int32, then
// y_q = clamp(rne(fl32(fl32(acc fl32(s_x s_w[o])) + b[o]) fl32(1 / s_y)) + z_y, lo, quant_max).
// x_q, the weights and ctx on one device (cpu or cuda); y_q on that device. On CUDA the kernels
// index with 32 bits: x_q zero-padded, y_q and the weight must have < 2^31 elements each, and
// H + 2 pad_h, W + 2 pad_w < 2^30; larger calls throw Error(kNotSupported).
Tensor conv2d_int8_forward(Context& ctx,
                           const Tensor& x_q,
                           const Conv2dInt8Weights& w,
                           const Conv2dInt8Params& params);

}  // namespace wtconv
