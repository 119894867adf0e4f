// nn::QatConv2d: fake-quantised weight and output around the float conv, the straight-through
// gradients, and conversion to the int8 conv.
#include <wtconv/layers/qat_conv2d.h>

#include "core/memory.h"

namespace wtconv::nn {

QatConv2d::QatConv2d(const Conv2d& conv, bool reduce_range)
    : conv_(conv),
      weight_fq_(ObserverParams::weight()),
      output_fq_(ObserverParams::activation(reduce_range)) {
    // A copy shares storage with the float layer: the QAT layer gets its own parameters.
    conv_.weights().weight = conv.weights().weight.clone();
    conv_.grads().weight = conv.grads().weight.clone();
    if (conv.params().bias) {
        conv_.weights().bias = conv.weights().bias.clone();
        conv_.grads().bias = conv.grads().bias.clone();
    }
}

void QatConv2d::enable_observers(bool enabled) {
    weight_fq_.enable_observer(enabled);
    output_fq_.enable_observer(enabled);
}

Tensor QatConv2d::forward(const Tensor& x) {
    Context& ctx = default_context(x.device());
    // the quantisers' tensor work in order with the op's kernels (a non-blocking stream)
    const cuda::OpStreamScope stream_scope(x.device(), ctx.cuda_stream());
    weight_fq_value_ = weight_fq_.forward(ctx, conv_.weights().weight);
    const Conv2dWeights w{weight_fq_value_, conv_.weights().bias};
    return output_fq_.forward(ctx, conv2d_forward(ctx, x, w, conv_.params(), &saved_));
}

Tensor QatConv2d::backward(const Tensor& dy) {
    Context& ctx = default_context(dy.device());
    // the gradients' sums and frees in order with the op's kernels (a non-blocking stream)
    const cuda::OpStreamScope stream_scope(dy.device(), ctx.cuda_stream());
    const Tensor d_out = output_fq_.backward(ctx, dy);
    const Conv2dWeights w{weight_fq_value_, conv_.weights().bias};
    Conv2dGrads g = conv2d_backward(ctx, d_out, w, conv_.params(), saved_);
    // Straight through the weight's fake quantiser (its clipping mask applied).
    conv_.grads().weight.add_(weight_fq_.backward(ctx, g.dweights.weight));
    if (conv_.params().bias) {
        conv_.grads().bias.add_(g.dweights.bias);
    }
    return g.dx;
}

QatConv2d::Int8 QatConv2d::convert(const ActivationQuant& input) const {
    WTCONV_CHECK(weight_fq_.has_qparams() && output_fq_.has_qparams(),
                 "QatConv2d: convert needs observed weights and outputs (run forward first), "
                 "got none");
    const QuantParams& wq = weight_fq_.qparams();
    const QuantParams& oq = output_fq_.qparams();
    Int8 out;
    const Tensor scale =
        Tensor::from_vector(wq.scale, Shape{static_cast<std::int64_t>(wq.scale.size())});
    out.weights = quantize_conv2d_weights(conv_.weights(), scale);
    out.params.conv = conv_.params();
    out.params.input = input;
    out.params.output =
        ActivationQuant{oq.scale.at(0), oq.zero_point.at(0), oq.quant_min, oq.quant_max};
    return out;
}

}  // namespace wtconv::nn
