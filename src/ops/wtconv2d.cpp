// wtconv2d: argument checks and the one dispatch point. Kernels live in cpu/ (and cuda/, #4).
#include <wtconv/ops/wtconv2d.h>

#include "common/shape_math.h"
#include "ops/wtconv_backends.h"
#include "ops/wtconv_common.h"

namespace wtconv {

namespace {
constexpr detail::WTConvRank kRank2d{"wtconv2d", 2, 4};

Shape output_shape(const Tensor& x, const WTConvParams& p) {
    return Shape{x.size(0), x.size(1), detail::subsampled_size(x.size(2), p.stride),
                 detail::subsampled_size(x.size(3), p.stride)};
}
}  // namespace

Tensor wtconv2d_forward(Context& ctx,
                        const Tensor& x,
                        const WTConvWeights& w,
                        const WTConvParams& p,
                        WTConvSaved* saved) {
    const detail::WaveletTaps& taps = detail::check_wtconv_forward(kRank2d, ctx, x, w, p);
    detail::choose_wtconv_algo(kRank2d, x.device(), p.algo);
    Tensor y = detail::alloc_output(ctx, output_shape(x, p), x.dtype(), x.device());
    switch (x.device().type) {
        case DeviceType::kCpu:
            cpu::wtconv2d_forward(ctx, x, w, p, taps, y);
            break;
        case DeviceType::kCuda:
            break;  // choose_wtconv_algo has thrown: no CUDA kernels yet (#4)
    }  // no default: with -Wswitch a new DeviceType names every op that must handle it
    if (saved != nullptr) {
        saved->x = x;
    }
    return y;
}

WTConvGrads wtconv2d_backward(Context& ctx,
                              const Tensor& dy,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const WTConvSaved& saved) {
    WTCONV_CHECK(saved.x.defined(), "wtconv2d: saved.x must hold the forward input, got an "
                 "undefined tensor (was forward called with saved?)");
    const Tensor& x = saved.x;
    const detail::WaveletTaps& taps = detail::check_wtconv_forward(kRank2d, ctx, x, w, p);
    detail::choose_wtconv_algo(kRank2d, x.device(), p.algo);
    check_shape("wtconv2d", "dy", dy, output_shape(x, p));
    check_dtype("wtconv2d", "dy", dy, x.dtype());
    check_device("wtconv2d", "dy", dy, x.device());
    WTConvGrads grads = detail::alloc_wtconv_grads(kRank2d, ctx, x, p);
    switch (x.device().type) {
        case DeviceType::kCpu:
            cpu::wtconv2d_backward(ctx, dy, x, w, p, taps, grads);
            break;
        case DeviceType::kCuda:
            break;  // choose_wtconv_algo has thrown: no CUDA kernels yet (#4)
    }
    return grads;
}

WTConvWeights wtconv2d_empty_weights(std::int64_t channels,
                                     const WTConvParams& params,
                                     DType dtype,
                                     Device device) {
    return detail::wtconv_empty_weights(kRank2d, channels, params, dtype, device);
}

}  // namespace wtconv
