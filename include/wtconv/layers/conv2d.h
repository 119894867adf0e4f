#pragma once
// nn::Conv2d: PyTorch's nn.Conv2d (zero padding) on the img2col + GEMM op, with its constructor,
// initialisation and parameter names (weight, bias), and a pruning mask (Prunable).
#include <utility>

#include <wtconv/context.h>
#include <wtconv/layer.h>
#include <wtconv/ops/conv2d.h>

namespace wtconv::nn {

class Conv2d : public Layer, public Prunable {
public:
    using Pair = std::pair<int, int>;  // (height, width)

    Conv2d(std::int64_t in_channels,
           std::int64_t out_channels,
           Pair kernel_size,
           Pair stride = {1, 1},
           Pair padding = {0, 0},
           Pair dilation = {1, 1},
           int groups = 1,
           bool bias = true,
           const LayerOptions& options = {});
    // Square kernel, stride, padding and dilation.
    Conv2d(std::int64_t in_channels,
           std::int64_t out_channels,
           int kernel_size,
           int stride = 1,
           int padding = 0,
           int dilation = 1,
           int groups = 1,
           bool bias = true,
           const LayerOptions& options = {})
        : Conv2d(in_channels,
                 out_channels,
                 Pair{kernel_size, kernel_size},
                 Pair{stride, stride},
                 Pair{padding, padding},
                 Pair{dilation, dilation},
                 groups,
                 bias,
                 options) {}

    Tensor forward(const Tensor& x) override;
    Tensor backward(const Tensor& dy) override;
    std::vector<NamedParameter> named_parameters() override;

    Tensor& prunable_weight() override { return weights_.weight; }
    bool is_convolution() const override { return true; }

    const Conv2dParams& params() const { return params_; }
    Conv2dParams& params() { return params_; }  // e.g. to pick an algorithm
    Conv2dWeights& weights() { return weights_; }
    const Conv2dWeights& weights() const { return weights_; }
    Conv2dWeights& grads() { return grads_; }
    const Conv2dWeights& grads() const { return grads_; }
    std::int64_t in_channels() const { return in_channels_; }
    std::int64_t out_channels() const { return weights_.weight.size(0); }
    // False skips dx in backward (a network's first layer); backward then returns an undefined
    // tensor.
    void set_input_gradient(bool needed) { need_dx_ = needed; }

private:
    std::int64_t in_channels_;
    Conv2dParams params_;
    Conv2dWeights weights_;
    Conv2dWeights grads_;
    Conv2dSaved saved_;
    bool need_dx_ = true;
};

}  // namespace wtconv::nn
