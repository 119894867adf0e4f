// wtconv1d: argument checks and the one dispatch point. Kernels live in cpu/ (and cuda/, #4).
#include <wtconv/ops/wtconv1d.h>

#include "common/shape_math.h"
#include "ops/wtconv_backends.h"
#include "ops/wtconv_common.h"

namespace wtconv {

namespace {
constexpr detail::WTConvRank kRank1d{"wtconv1d", 1, 2};

Shape output_shape(const Tensor& x, const WTConvParams& p) {
    return Shape{x.size(0), x.size(1), detail::averaged_size(x.size(2), p.stride)};
}
}  // namespace

Tensor wtconv1d_forward(Context& ctx,
                        const Tensor& x,
                        const WTConvWeights& w,
                        const WTConvParams& p,
                        WTConvSaved* saved) {
    const detail::WaveletTaps& taps = detail::check_wtconv_forward(kRank1d, ctx, x, w, p);
    detail::choose_wtconv_algo(kRank1d, x.device(), p.algo);
    Tensor y = detail::alloc_output(ctx, output_shape(x, p), x.dtype(), x.device());
    switch (x.device().type) {
        case DeviceType::kCpu:
            cpu::wtconv1d_forward(ctx, x, w, p, taps, y);
            break;
        case DeviceType::kCuda:
            break;  // choose_wtconv_algo has thrown: no CUDA kernels yet (#4)
    }  // no default: with -Wswitch a new DeviceType names every op that must handle it
    if (saved != nullptr) {
        saved->x = x;
    }
    return y;
}

WTConvGrads wtconv1d_backward(Context& ctx,
                              const Tensor& dy,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const WTConvSaved& saved) {
    WTCONV_CHECK(saved.x.defined(), "wtconv1d: saved.x must hold the forward input, got an "
                 "undefined tensor (was forward called with saved?)");
    const Tensor& x = saved.x;
    const detail::WaveletTaps& taps = detail::check_wtconv_forward(kRank1d, ctx, x, w, p);
    detail::choose_wtconv_algo(kRank1d, x.device(), p.algo);
    check_shape("wtconv1d", "dy", dy, output_shape(x, p));
    check_dtype("wtconv1d", "dy", dy, x.dtype());
    check_device("wtconv1d", "dy", dy, x.device());
    WTConvGrads grads = detail::alloc_wtconv_grads(kRank1d, ctx, x, p);
    switch (x.device().type) {
        case DeviceType::kCpu:
            cpu::wtconv1d_backward(ctx, dy, x, w, p, taps, grads);
            break;
        case DeviceType::kCuda:
            break;  // choose_wtconv_algo has thrown: no CUDA kernels yet (#4)
    }
    return grads;
}

WTConvWeights wtconv1d_empty_weights(std::int64_t channels,
                                     const WTConvParams& params,
                                     DType dtype,
                                     Device device) {
    return detail::wtconv_empty_weights(kRank1d, channels, params, dtype, device);
}

}  // namespace wtconv
