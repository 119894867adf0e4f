#pragma once
// nn::QatConv2d: Conv2d trained with int8 quantisation simulated (COMPRESSION.md 3.2): its weight
// fake-quantised per output channel (symmetric qint8) in every forward, its output fake-quantised
// per tensor (affine quint8, reduce_range by default), observers updating while enabled; and its
// conversion to the int8 inference conv, which computes what training simulated.
#include <wtconv/layers/conv2d.h>
#include <wtconv/ops/conv2d_int8.h>
#include <wtconv/ops/fake_quant.h>

namespace wtconv::nn {

class QatConv2d : public Layer {
public:
    // Starts from a float layer's configuration and parameters (copied).
    explicit QatConv2d(const Conv2d& conv, bool reduce_range = true);

    Tensor forward(const Tensor& x) override;
    Tensor backward(const Tensor& dy) override;
    std::vector<NamedParameter> named_parameters() override { return conv_.named_parameters(); }

    Conv2d& conv() { return conv_; }
    FakeQuantize& weight_fake_quant() { return weight_fq_; }
    FakeQuantize& output_fake_quant() { return output_fq_; }
    // Observers on or off together (off for evaluation and before conversion).
    void enable_observers(bool enabled);

    // The int8 layer: weights quantised with the weight observer's per-channel scales, the output
    // with the output observer's; input: how the previous layer's output (or the network input)
    // is quantised. Throws Error before any forward has set the observers.
    struct Int8 {
        Conv2dInt8Weights weights;
        Conv2dInt8Params params;
    };
    Int8 convert(const ActivationQuant& input) const;

private:
    Conv2d conv_;
    FakeQuantize weight_fq_;
    FakeQuantize output_fq_;
    Tensor weight_fq_value_;  // the fake-quantised weight of the last forward
    Conv2dSaved saved_;
};

}  // namespace wtconv::nn
