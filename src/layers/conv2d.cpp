// nn::Conv2d: PyTorch's initialisation (bound 1/sqrt(fan_in), fan_in = C/groups kh kw, for weight
// and bias), forward/backward glue, masked gradient accumulation; and Prunable's mask handling.
#include <cmath>

#include <wtconv/layers/conv2d.h>

#include "core/memory.h"
#include "layers/init.h"

namespace wtconv {

void Prunable::set_mask(const Tensor& mask) {
    Tensor& w = prunable_weight();
    if (mask.defined()) {
        check_shape("prune", "mask", mask, w.shape());
        check_dtype("prune", "mask", mask, w.dtype());
        check_device("prune", "mask", mask, w.device());
    }
    mask_ = mask;
    apply_mask();
}

void Prunable::apply_mask() {
    if (mask_.defined()) {
        prunable_weight().mul_(mask_);
    }
}

void Prunable::mask_gradient(Tensor& dweight) const {
    if (mask_.defined()) {
        dweight.mul_(mask_);
    }
}

namespace nn {

Conv2d::Conv2d(std::int64_t in_channels,
               std::int64_t out_channels,
               Pair kernel_size,
               Pair stride,
               Pair padding,
               Pair dilation,
               int groups,
               bool bias,
               const LayerOptions& options)
    : in_channels_(in_channels) {
    WTCONV_CHECK(in_channels >= 1 && out_channels >= 1,
                 "Conv2d: in_channels and out_channels must be >= 1, got ", in_channels, " and ",
                 out_channels);
    WTCONV_CHECK(groups >= 1 && in_channels % groups == 0 && out_channels % groups == 0,
                 "Conv2d: groups must divide in_channels ", in_channels, " and out_channels ",
                 out_channels, ", got ", groups);
    WTCONV_CHECK(kernel_size.first >= 1 && kernel_size.second >= 1,
                 "Conv2d: kernel_size must be >= 1, got (", kernel_size.first, ", ",
                 kernel_size.second, ")");
    params_.stride_h = stride.first;
    params_.stride_w = stride.second;
    params_.pad_h = padding.first;
    params_.pad_w = padding.second;
    params_.dilation_h = dilation.first;
    params_.dilation_w = dilation.second;
    params_.groups = groups;
    params_.bias = bias;
    // Validates stride, padding and dilation the way every call will (a 1-channel probe input
    // large enough for any kernel).
    const std::int64_t probe = static_cast<std::int64_t>(dilation.first) * kernel_size.first +
                               static_cast<std::int64_t>(dilation.second) * kernel_size.second;
    conv2d_output_shape(
        Shape{1, in_channels, probe, probe},
        Shape{out_channels, in_channels / groups, kernel_size.first, kernel_size.second}, params_);

    const Shape weight_shape{out_channels, in_channels / groups, kernel_size.first,
                             kernel_size.second};
    weights_.weight = Tensor::empty(weight_shape, options.dtype, options.device);
    grads_.weight = Tensor::zeros(weight_shape, options.dtype, options.device);
    const double fan_in =
        static_cast<double>(in_channels / groups) * kernel_size.first * kernel_size.second;
    const double bound = 1.0 / std::sqrt(fan_in);
    std::mt19937_64 rng(options.seed);
    detail::fill_uniform(weights_.weight, bound, rng);
    if (bias) {
        weights_.bias = Tensor::empty(Shape{out_channels}, options.dtype, options.device);
        grads_.bias = Tensor::zeros(Shape{out_channels}, options.dtype, options.device);
        detail::fill_uniform(weights_.bias, bound, rng);
    }
}

Tensor Conv2d::forward(const Tensor& x) {
    return conv2d_forward(default_context(x.device()), x, weights_, params_, &saved_);
}

Tensor Conv2d::backward(const Tensor& dy) {
    Context& ctx = default_context(dy.device());
    // the gradients' sums and frees in order with the op's kernels (a non-blocking stream)
    const cuda::OpStreamScope stream_scope(dy.device(), ctx.cuda_stream());
    Conv2dGrads g = conv2d_backward(ctx, dy, weights_, params_, saved_, need_dx_);
    mask_gradient(g.dweights.weight);
    grads_.weight.add_(g.dweights.weight);
    if (params_.bias) {
        grads_.bias.add_(g.dweights.bias);
    }
    return g.dx;
}

std::vector<NamedParameter> Conv2d::named_parameters() {
    std::vector<NamedParameter> out{{"weight", &weights_.weight, &grads_.weight}};
    if (params_.bias) {
        out.push_back({"bias", &weights_.bias, &grads_.bias});
    }
    return out;
}

}  // namespace nn
}  // namespace wtconv
