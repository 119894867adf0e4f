// nn::WTConv2d / nn::WTConv1d: the reference module's initialisation (PyTorch's default conv init,
// bound 1/sqrt(fan_in), scales 1.0 and 0.1), forward/backward glue, gradient accumulation.
#include <cmath>

#include <wtconv/layers/wtconv.h>
#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>
#include <wtconv/wavelets.h>

#include "core/memory.h"
#include "layers/init.h"

namespace wtconv {

void Layer::zero_grad() {
    for (NamedParameter& p : named_parameters()) {
        p.grad->fill(0.0);
    }
}

namespace nn {

namespace {

WTConvWeights empty_weights(
    int spatial, std::int64_t c, const WTConvParams& p, DType dtype, Device device) {
    return spatial == 2 ? wtconv2d_empty_weights(c, p, dtype, device)
                        : wtconv1d_empty_weights(c, p, dtype, device);
}

}  // namespace

WTConvLayer::WTConvLayer(int spatial,
                         std::int64_t in_channels,
                         std::int64_t out_channels,
                         int kernel_size,
                         int stride,
                         bool bias,
                         int levels,
                         const std::string& wavelet,
                         const LayerOptions& options)
    : spatial_(spatial), channels_(in_channels), device_(options.device) {
    const char* op = spatial == 2 ? "WTConv2d" : "WTConv1d";
    WTCONV_CHECK(in_channels == out_channels, op,
                 ": out_channels must equal in_channels (the layer is depthwise), got in_channels ",
                 in_channels, " and out_channels ", out_channels);
    WTCONV_CHECK(stride >= 1, op, ": stride must be >= 1, got ", stride);
    WTCONV_CHECK(is_wavelet(wavelet), op,
                 ": wavelet must be a discrete pywt wavelet such as db1, "
                 "db2, sym3, coif1 or bior2.2 (see wavelet_names()), got \"",
                 wavelet, "\"");
    params_.kernel_size = kernel_size;
    params_.stride = stride;
    params_.bias = bias;
    params_.levels = levels;
    params_.wavelet = wavelet;
    weights_ = empty_weights(spatial, in_channels, params_, options.dtype, device_);
    grads_ = empty_weights(spatial, in_channels, params_, options.dtype, device_);

    // PyTorch's Conv default: bound 1/sqrt(fan_in) with fan_in = K*K (2D) or K (1D) for weight
    // and bias alike; every level's weight is drawn independently.
    const double bound = 1.0 / std::sqrt(std::pow(static_cast<double>(kernel_size), spatial));
    std::mt19937_64 rng(options.seed);
    detail::fill_uniform(weights_.base_weight, bound, rng);
    if (bias) {
        detail::fill_uniform(weights_.base_bias, bound, rng);
    }
    weights_.base_scale.fill(1.0);
    for (int i = 0; i < levels; ++i) {
        detail::fill_uniform(weights_.wavelet_weight[i], bound, rng);
        weights_.wavelet_scale[i].fill(0.1);
    }
    zero_grad();
}

Tensor WTConvLayer::forward(const Tensor& x) {
    Context& ctx = default_context(x.device());
    return spatial_ == 2 ? wtconv2d_forward(ctx, x, weights_, params_, &saved_)
                         : wtconv1d_forward(ctx, x, weights_, params_, &saved_);
}

Tensor WTConvLayer::backward(const Tensor& dy) {
    Context& ctx = default_context(dy.device());
    // the gradients' sums and frees in order with the op's kernels (a non-blocking stream)
    const cuda::OpStreamScope stream_scope(dy.device(), ctx.cuda_stream());
    WTConvGrads g = spatial_ == 2 ? wtconv2d_backward(ctx, dy, weights_, params_, saved_)
                                  : wtconv1d_backward(ctx, dy, weights_, params_, saved_);
    grads_.base_weight.add_(g.dweights.base_weight);
    if (params_.bias) {
        grads_.base_bias.add_(g.dweights.base_bias);
    }
    grads_.base_scale.add_(g.dweights.base_scale);
    for (int i = 0; i < params_.levels; ++i) {
        grads_.wavelet_weight[i].add_(g.dweights.wavelet_weight[i]);
        grads_.wavelet_scale[i].add_(g.dweights.wavelet_scale[i]);
    }
    return g.dx;
}

std::vector<NamedParameter> WTConvLayer::named_parameters() {
    std::vector<NamedParameter> out;
    out.push_back({"base_conv.weight", &weights_.base_weight, &grads_.base_weight});
    if (params_.bias) {
        out.push_back({"base_conv.bias", &weights_.base_bias, &grads_.base_bias});
    }
    out.push_back({"base_scale.weight", &weights_.base_scale, &grads_.base_scale});
    for (int i = 0; i < params_.levels; ++i) {
        const std::string level = std::to_string(i);
        out.push_back({"wavelet_convs." + level + ".weight", &weights_.wavelet_weight[i],
                       &grads_.wavelet_weight[i]});
    }
    for (int i = 0; i < params_.levels; ++i) {
        out.push_back({"wavelet_scale." + std::to_string(i) + ".weight", &weights_.wavelet_scale[i],
                       &grads_.wavelet_scale[i]});
    }
    return out;
}

}  // namespace nn
}  // namespace wtconv
