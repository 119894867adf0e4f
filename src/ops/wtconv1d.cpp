// wtconv1d: its output size (stride averages) and kernels; checks and dispatch are shared with
// wtconv2d (src/ops/wtconv_common.cpp). Kernels live in cpu/ (and cuda/, #4).
#include <wtconv/ops/wtconv1d.h>

#include "common/shape_math.h"
#include "ops/wtconv_backends.h"
#include "ops/wtconv_common.h"

namespace wtconv {

namespace {
Shape output_shape(const Tensor& x, const WTConvParams& p) {
    return Shape{x.size(0), x.size(1), detail::averaged_size(x.size(2), p.stride)};
}
#if defined(WTCONV_WITH_CUDA)
constexpr detail::WTConvRank kRank{"wtconv1d",
                                   1,
                                   2,
                                   output_shape,
                                   cpu::wtconv1d_forward,
                                   cpu::wtconv1d_backward,
                                   cpu::wtconv1d_forward_direct,
                                   cpu::wtconv1d_backward_direct,
                                   cuda::wtconv1d_forward_direct,
                                   cuda::wtconv1d_backward_direct,
                                   nullptr,
                                   nullptr,
                                   nullptr};  // no fused 1D kernel
#else
constexpr detail::WTConvRank kRank{"wtconv1d",
                                   1,
                                   2,
                                   output_shape,
                                   cpu::wtconv1d_forward,
                                   cpu::wtconv1d_backward,
                                   cpu::wtconv1d_forward_direct,
                                   cpu::wtconv1d_backward_direct,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr};
#endif
}  // namespace

Tensor wtconv1d_forward(Context& ctx,
                        const Tensor& x,
                        const WTConvWeights& w,
                        const WTConvParams& p,
                        WTConvSaved* saved) {
    return detail::wtconv_forward(kRank, ctx, x, w, p, saved);
}

WTConvGrads wtconv1d_backward(Context& ctx,
                              const Tensor& dy,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const WTConvSaved& saved) {
    return detail::wtconv_backward(kRank, ctx, dy, w, p, saved);
}

WTConvWeights wtconv1d_empty_weights(std::int64_t channels,
                                     const WTConvParams& params,
                                     DType dtype,
                                     Device device) {
    return detail::wtconv_empty_weights(kRank, channels, params, dtype, device);
}

bool wtconv1d_supports(WTConvAlgo algo, Device device, DType dtype, const WTConvParams& params) {
    return detail::wtconv_supports(kRank, algo, device, dtype, params);
}

}  // namespace wtconv
