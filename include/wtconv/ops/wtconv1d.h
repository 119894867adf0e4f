#pragma once
// WTConv1d forward and backward: the one-axis WTConv with two sub-bands per level; its stride
// AVERAGES windows of s samples (2D subsamples). Exact semantics: docs/wtconv.md (from the
// project's WTConv specification).
#include <wtconv/context.h>
#include <wtconv/ops/wtconv.h>

namespace wtconv {

// x: (N, C, L), float32 or float64, weights of the same dtype and device.
// Returns (N, C, L // stride); L < stride throws. Pass saved to train (backward needs it).
// Throws Error naming any argument that does not fit.
Tensor wtconv1d_forward(Context& ctx,
                        const Tensor& x,
                        const WTConvWeights& weights,
                        const WTConvParams& params,
                        WTConvSaved* saved = nullptr);

// dy: the gradient of the loss with respect to the forward's output.
WTConvGrads wtconv1d_backward(Context& ctx,
                              const Tensor& dy,
                              const WTConvWeights& weights,
                              const WTConvParams& params,
                              const WTConvSaved& saved);

// The weights' shapes for C channels, for callers that build their own parameters.
WTConvWeights wtconv1d_empty_weights(std::int64_t channels,
                                     const WTConvParams& params,
                                     DType dtype,
                                     Device device = Device::cpu());

// True when algo runs wtconv1d on device for dtype and params, so that a call would not throw
// kNotSupported; kAuto is always supported for float32 and float64 and picks a supported one.
// CUDA kDirect runs every option in float32 and float64. CUDA kFused runs WTConv2d only, with the
// Haar wavelet (db1 or haar), kernel_size 3, 5 or 7, levels up to what shared memory holds (K3: 5,
// K5: 4, K7: 3), any stride and size, in float32, float16 and bfloat16.
bool wtconv1d_supports(WTConvAlgo algo, Device device, DType dtype, const WTConvParams& params);

}  // namespace wtconv
