#pragma once
// nn::WTConv2d and nn::WTConv1d: the layers of Finder et al. with the reference module's
// constructor, initialisation and parameter names (base_conv.weight, wavelet_convs.0.weight, ...).
#include <string>

#include <wtconv/context.h>
#include <wtconv/layer.h>
#include <wtconv/ops/wtconv.h>

namespace wtconv::nn {

// Shared by both ranks: spatial 2 (WTConv2d, 4 bands a level) or 1 (WTConv1d, 2 bands).
class WTConvLayer : public Layer {
public:
    Tensor forward(const Tensor& x) override;
    Tensor backward(const Tensor& dy) override;
    std::vector<NamedParameter> named_parameters() override;

    const WTConvParams& params() const { return params_; }
    WTConvParams& params() { return params_; }  // e.g. to pick an algorithm
    WTConvWeights& weights() { return weights_; }
    const WTConvWeights& weights() const { return weights_; }
    WTConvWeights& grads() { return grads_; }
    std::int64_t channels() const { return channels_; }

protected:
    WTConvLayer(int spatial,
                std::int64_t in_channels,
                std::int64_t out_channels,
                int kernel_size,
                int stride,
                bool bias,
                int levels,
                const std::string& wavelet,
                const LayerOptions& options);

private:
    int spatial_;
    std::int64_t channels_;
    WTConvParams params_;
    WTConvWeights weights_;
    WTConvWeights grads_;
    WTConvSaved saved_;
    Device device_;
};

class WTConv2d : public WTConvLayer {
public:
    // in_channels must equal out_channels (the layer is depthwise).
    WTConv2d(std::int64_t in_channels,
             std::int64_t out_channels,
             int kernel_size = 5,
             int stride = 1,
             bool bias = true,
             int levels = 1,
             const std::string& wavelet = "db1",
             const LayerOptions& options = {})
        : WTConvLayer(
              2, in_channels, out_channels, kernel_size, stride, bias, levels, wavelet, options) {}
};

class WTConv1d : public WTConvLayer {
public:
    WTConv1d(std::int64_t in_channels,
             std::int64_t out_channels,
             int kernel_size = 5,
             int stride = 1,
             bool bias = true,
             int levels = 1,
             const std::string& wavelet = "db1",
             const LayerOptions& options = {})
        : WTConvLayer(
              1, in_channels, out_channels, kernel_size, stride, bias, levels, wavelet, options) {}
};

}  // namespace wtconv::nn
