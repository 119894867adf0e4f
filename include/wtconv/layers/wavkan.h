#pragma once
// nn::WavKANLinear: the original Wav-KAN KANLinear (WAVKAN.md) on the wavkan op, with its
// initialisation, parameter names and batch norm modes (train / eval).
#include <cstdint>

#include <wtconv/layer.h>
#include <wtconv/ops/wavkan.h>

namespace wtconv::nn {

class WavKANLinear : public Layer {
public:
    // wavelet, base branch (off in the original) and batch norm (on in the original). Parameters
    // as the original initialises them: scale 1, translation 0, wavelet_weights and base_weight
    // U(-1/sqrt(in), 1/sqrt(in)) (in that order from options.seed), bn weight 1 and bias 0, running
    // mean 0 and variance 1. Starts in training mode.
    WavKANLinear(std::int64_t in_features,
                 std::int64_t out_features,
                 KanWavelet wavelet = KanWavelet::kMexicanHat,
                 bool base = false,
                 bool batchnorm = true,
                 const LayerOptions& options = {});

    Tensor forward(const Tensor& x) override;
    Tensor backward(const Tensor& dy) override;
    // The original's state_dict names: scale, translation, wavelet_weights, weight1 (the base
    // weight), bn.weight, bn.bias.
    std::vector<NamedParameter> named_parameters() override;

    // PyTorch's train() / eval(): batch statistics or running statistics in batch norm.
    void train(bool on = true) { params_.training = on; }
    void eval() { train(false); }
    bool training() const { return params_.training; }

    const WavKanParams& params() const { return params_; }
    WavKanWeights& weights() { return weights_; }
    const WavKanWeights& weights() const { return weights_; }
    WavKanWeights& grads() { return grads_; }
    const WavKanWeights& grads() const { return grads_; }
    // bn.running_mean and bn.running_var (undefined without batch norm).
    WavKanRunningStats& running_stats() { return running_; }
    const WavKanRunningStats& running_stats() const { return running_; }
    std::int64_t in_features() const { return weights_.scale.size(1); }
    std::int64_t out_features() const { return weights_.scale.size(0); }
    // False skips dx in backward (a network's first layer); backward then returns an undefined
    // tensor.
    void set_input_gradient(bool needed) { need_dx_ = needed; }

private:
    WavKanParams params_;
    WavKanWeights weights_;
    WavKanWeights grads_;
    WavKanRunningStats running_;
    WavKanSaved saved_;
    bool need_dx_ = true;
};

}  // namespace wtconv::nn
