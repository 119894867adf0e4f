// nn::WavKANLinear: the original KANLinear's initialisation (Kaiming-uniform with a = sqrt(5) for
// the wavelet and base weights, i.e. bound 1/sqrt(in_features)), forward/backward glue and
// gradient accumulation.
#include <cmath>

#include <wtconv/layers/wavkan.h>

#include "core/memory.h"
#include "layers/init.h"

namespace wtconv::nn {

WavKANLinear::WavKANLinear(std::int64_t in_features,
                           std::int64_t out_features,
                           KanWavelet wavelet,
                           bool base,
                           bool batchnorm,
                           const LayerOptions& options) {
    WTCONV_CHECK(in_features >= 1 && out_features >= 1,
                 "WavKANLinear: in_features and out_features must be >= 1, got ", in_features,
                 " and ", out_features);
    kan_wavelet_name(wavelet);  // throws for a value outside the enum
    params_.wavelet = wavelet;
    params_.base = base;
    params_.batchnorm = batchnorm;
    const Shape edges{out_features, in_features};
    const auto make = [&](const Shape& shape, double value) {
        return Tensor::full(shape, value, options.dtype, options.device);
    };
    weights_.scale = make(edges, 1.0);
    weights_.translation = make(edges, 0.0);
    weights_.wavelet_weights = Tensor::empty(edges, options.dtype, options.device);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    std::mt19937_64 rng(options.seed);
    detail::fill_uniform(weights_.wavelet_weights, bound, rng);
    grads_.scale = make(edges, 0.0);
    grads_.translation = make(edges, 0.0);
    grads_.wavelet_weights = make(edges, 0.0);
    if (base) {
        weights_.base_weight = Tensor::empty(edges, options.dtype, options.device);
        detail::fill_uniform(weights_.base_weight, bound, rng);
        grads_.base_weight = make(edges, 0.0);
    }
    if (batchnorm) {
        const Shape channels{out_features};
        weights_.bn_weight = make(channels, 1.0);
        weights_.bn_bias = make(channels, 0.0);
        grads_.bn_weight = make(channels, 0.0);
        grads_.bn_bias = make(channels, 0.0);
        running_.mean = make(channels, 0.0);
        running_.var = make(channels, 1.0);
    }
}

Tensor WavKANLinear::forward(const Tensor& x) {
    return wavkan_forward(default_context(x.device()), x, weights_, params_,
                          params_.batchnorm ? &running_ : nullptr, &saved_);
}

Tensor WavKANLinear::backward(const Tensor& dy) {
    Context& ctx = default_context(dy.device());
    // the gradients' sums and frees in order with the op's kernels (a non-blocking stream)
    const cuda::OpStreamScope stream_scope(dy.device(), ctx.cuda_stream());
    const WavKanGrads g = wavkan_backward(ctx, dy, weights_, params_, saved_, need_dx_);
    grads_.scale.add_(g.dweights.scale);
    grads_.translation.add_(g.dweights.translation);
    grads_.wavelet_weights.add_(g.dweights.wavelet_weights);
    if (params_.base) {
        grads_.base_weight.add_(g.dweights.base_weight);
    }
    if (params_.batchnorm) {
        grads_.bn_weight.add_(g.dweights.bn_weight);
        grads_.bn_bias.add_(g.dweights.bn_bias);
    }
    return g.dx;
}

std::vector<NamedParameter> WavKANLinear::named_parameters() {
    std::vector<NamedParameter> out{
        {"scale", &weights_.scale, &grads_.scale},
        {"translation", &weights_.translation, &grads_.translation},
        {"wavelet_weights", &weights_.wavelet_weights, &grads_.wavelet_weights}};
    if (params_.base) {
        out.push_back({"weight1", &weights_.base_weight, &grads_.base_weight});
    }
    if (params_.batchnorm) {
        out.push_back({"bn.weight", &weights_.bn_weight, &grads_.bn_weight});
        out.push_back({"bn.bias", &weights_.bn_bias, &grads_.bn_bias});
    }
    return out;
}

}  // namespace wtconv::nn
