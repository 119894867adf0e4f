#pragma once
// Internal: the signatures the backends implement for wtconv2d and wtconv1d. src/ops/wtconv*.cpp
// has checked every argument and allocated every output before calling them; backends trust both.
#include <wtconv/context.h>
#include <wtconv/ops/wtconv.h>

#include "common/wavelet_filters.h"

namespace wtconv::cpu {

// y: (N, C, ceil(H/s), ceil(W/s)), written whole.
void wtconv2d_forward(Context& ctx,
                      const Tensor& x,
                      const WTConvWeights& w,
                      const WTConvParams& p,
                      const detail::WaveletTaps& wavelet,
                      Tensor& y);
// grads: dx and every dweights tensor allocated with their final shapes, written whole.
void wtconv2d_backward(Context& ctx,
                       const Tensor& dy,
                       const Tensor& x,
                       const WTConvWeights& w,
                       const WTConvParams& p,
                       const detail::WaveletTaps& wavelet,
                       WTConvGrads& grads);

void wtconv1d_forward(Context& ctx,
                      const Tensor& x,
                      const WTConvWeights& w,
                      const WTConvParams& p,
                      const detail::WaveletTaps& wavelet,
                      Tensor& y);
void wtconv1d_backward(Context& ctx,
                       const Tensor& dy,
                       const Tensor& x,
                       const WTConvWeights& w,
                       const WTConvParams& p,
                       const detail::WaveletTaps& wavelet,
                       WTConvGrads& grads);

// The same four on the direct algorithm (WTConvAlgo::kDirect): cpu/wtconv2d_direct.cpp and
// cpu/wtconv1d_direct.cpp.
void wtconv2d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const detail::WaveletTaps& wavelet,
                             Tensor& y);
void wtconv2d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const detail::WaveletTaps& wavelet,
                              WTConvGrads& grads);
void wtconv1d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const detail::WaveletTaps& wavelet,
                             Tensor& y);
void wtconv1d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const detail::WaveletTaps& wavelet,
                              WTConvGrads& grads);

}  // namespace wtconv::cpu

namespace wtconv::cuda {

// The CUDA direct algorithm ("baseline", cuda/wtconv_direct.cu): every option, float32 and
// float64, one kernel per stage.
void wtconv2d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const ::wtconv::detail::WaveletTaps& wavelet,
                             Tensor& y);
void wtconv2d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const ::wtconv::detail::WaveletTaps& wavelet,
                              WTConvGrads& grads);
void wtconv1d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const ::wtconv::detail::WaveletTaps& wavelet,
                             Tensor& y);
void wtconv1d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const ::wtconv::detail::WaveletTaps& wavelet,
                              WTConvGrads& grads);

// The fused algorithm (cuda/wtconv2d_fused.cu): what it runs, and its two entry points.
bool wtconv2d_fused_supports(DType dtype, const WTConvParams& p);
void wtconv2d_forward_fused(Context& ctx,
                            const Tensor& x,
                            const WTConvWeights& w,
                            const WTConvParams& p,
                            const ::wtconv::detail::WaveletTaps& wavelet,
                            Tensor& y);
void wtconv2d_backward_fused(Context& ctx,
                             const Tensor& dy,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const ::wtconv::detail::WaveletTaps& wavelet,
                             WTConvGrads& grads);

}  // namespace wtconv::cuda
