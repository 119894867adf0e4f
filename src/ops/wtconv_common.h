#pragma once
// Argument checks shared by wtconv2d and wtconv1d (they differ in spatial rank and band count),
// and output allocation that honours Context::poison_outputs.
#include <wtconv/context.h>
#include <wtconv/ops/wtconv.h>

#include "common/alloc_output.h"
#include "common/wavelet_filters.h"

namespace wtconv::detail {

using WTConvForwardKernel = void (*)(Context&,
                                     const Tensor& x,
                                     const WTConvWeights&,
                                     const WTConvParams&,
                                     const WaveletTaps&,
                                     Tensor& y);
using WTConvBackwardKernel = void (*)(Context&,
                                      const Tensor& dy,
                                      const Tensor& x,
                                      const WTConvWeights&,
                                      const WTConvParams&,
                                      const WaveletTaps&,
                                      WTConvGrads& grads);

// What tells wtconv2d and wtconv1d apart: names, rank, bands, output size and kernels.
struct WTConvRank {
    const char* op;  // "wtconv2d" or "wtconv1d", the prefix of every message
    int spatial;     // 2 or 1
    int bands;       // 4 or 2
    Shape (*output_shape)(const Tensor& x, const WTConvParams& p);
    WTConvForwardKernel cpu_forward;  // planewise
    WTConvBackwardKernel cpu_backward;
    WTConvForwardKernel cpu_forward_direct;
    WTConvBackwardKernel cpu_backward_direct;
    // CUDA; null in a build without CUDA, and the fused ones null where no fused kernel exists.
    WTConvForwardKernel cuda_forward_direct;
    WTConvBackwardKernel cuda_backward_direct;
    WTConvForwardKernel cuda_forward_fused;
    WTConvBackwardKernel cuda_backward_fused;
    bool (*cuda_fused_supports)(DType, const WTConvParams&);
};

// The one dispatch point of the WTConv family: checks every argument, allocates every output,
// then runs the kernel of x's device.
Tensor wtconv_forward(const WTConvRank& r,
                      Context& ctx,
                      const Tensor& x,
                      const WTConvWeights& w,
                      const WTConvParams& p,
                      WTConvSaved* saved);
WTConvGrads wtconv_backward(const WTConvRank& r,
                            Context& ctx,
                            const Tensor& dy,
                            const WTConvWeights& w,
                            const WTConvParams& p,
                            const WTConvSaved& saved);

// Checks params (kernel size, levels, stride, wavelet), x (rank, sizes, dtype, device) and every
// weight (shape, dtype, device); returns the wavelet's taps.
const WaveletTaps& check_wtconv_forward(const WTConvRank& r,
                                        Context& ctx,
                                        const Tensor& x,
                                        const WTConvWeights& w,
                                        const WTConvParams& p);

// The weights' shapes for C channels.
WTConvWeights wtconv_empty_weights(
    const WTConvRank& r, std::int64_t channels, const WTConvParams& p, DType dtype, Device device);

// Gradients shaped like x and the weights, poisoned when ctx asks for it.
WTConvGrads alloc_wtconv_grads(const WTConvRank& r,
                               Context& ctx,
                               const Tensor& x,
                               const WTConvParams& p);

// The algorithm that runs on device for dtype and p.algo; throws kNotSupported, naming why, for
// a choice the device cannot run.
WTConvAlgo choose_wtconv_algo(const WTConvRank& r,
                              Device device,
                              DType dtype,
                              const WTConvParams& p);
// The public <op>_supports: choose_wtconv_algo without the throw.
bool wtconv_supports(
    const WTConvRank& r, WTConvAlgo algo, Device device, DType dtype, const WTConvParams& p);

}  // namespace wtconv::detail
