// wtconv2d: its output size and kernels; checks and dispatch are shared with wtconv1d
// (src/ops/wtconv_common.cpp). Kernels live in cpu/ (and cuda/, #4).
#include <wtconv/ops/wtconv2d.h>

#include "common/shape_math.h"
#include "ops/wtconv_backends.h"
#include "ops/wtconv_common.h"

namespace wtconv {

namespace {
Shape output_shape(const Tensor& x, const WTConvParams& p) {
    return Shape{x.size(0), x.size(1), detail::subsampled_size(x.size(2), p.stride),
                 detail::subsampled_size(x.size(3), p.stride)};
}
#if defined(WTCONV_WITH_CUDA)
constexpr detail::WTConvRank kRank{"wtconv2d",
                                   2,
                                   4,
                                   output_shape,
                                   cpu::wtconv2d_forward,
                                   cpu::wtconv2d_backward,
                                   cpu::wtconv2d_forward_direct,
                                   cpu::wtconv2d_backward_direct,
                                   cuda::wtconv2d_forward_direct,
                                   cuda::wtconv2d_backward_direct,
                                   cuda::wtconv2d_forward_fused,
                                   cuda::wtconv2d_backward_fused,
                                   cuda::wtconv2d_fused_supports};
#else
constexpr detail::WTConvRank kRank{"wtconv2d",
                                   2,
                                   4,
                                   output_shape,
                                   cpu::wtconv2d_forward,
                                   cpu::wtconv2d_backward,
                                   cpu::wtconv2d_forward_direct,
                                   cpu::wtconv2d_backward_direct,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr};
#endif
}  // namespace

Tensor wtconv2d_forward(Context& ctx,
                        const Tensor& x,
                        const WTConvWeights& w,
                        const WTConvParams& p,
                        WTConvSaved* saved) {
    return detail::wtconv_forward(kRank, ctx, x, w, p, saved);
}

WTConvGrads wtconv2d_backward(Context& ctx,
                              const Tensor& dy,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const WTConvSaved& saved) {
    return detail::wtconv_backward(kRank, ctx, dy, w, p, saved);
}

WTConvWeights wtconv2d_empty_weights(std::int64_t channels,
                                     const WTConvParams& params,
                                     DType dtype,
                                     Device device) {
    return detail::wtconv_empty_weights(kRank, channels, params, dtype, device);
}

bool wtconv2d_supports(WTConvAlgo algo, Device device, DType dtype, const WTConvParams& params) {
    return detail::wtconv_supports(kRank, algo, device, dtype, params);
}

}  // namespace wtconv
