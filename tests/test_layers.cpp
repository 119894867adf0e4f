// nn::WTConv2d / nn::WTConv1d: the reference module's initialisation and parameter names, and the
// layer's forward/backward glue (gradients accumulate until zero_grad).
#include <cmath>

#include <gtest/gtest.h>

#include <wtconv/layers/wtconv.h>
#include <wtconv/ops/wtconv2d.h>

#include "support/test_support.h"

namespace wtconv::test {
namespace {

std::vector<std::string> names_of(nn::WTConvLayer& layer) {
    std::vector<std::string> names;
    for (const NamedParameter& p : layer.named_parameters()) {
        names.push_back(p.name + " " + p.value->shape().str());
    }
    return names;
}

TEST(WTConvLayerParameters, NamesAndShapesFollowTheReferenceStateDict) {
    nn::WTConv2d layer(3, 3, 5, 1, true, 2, "db1");
    EXPECT_EQ(names_of(layer),
              (std::vector<std::string>{
                  "base_conv.weight (3, 1, 5, 5)", "base_conv.bias (3,)", "base_scale.weight (3,)",
                  "wavelet_convs.0.weight (12, 1, 5, 5)", "wavelet_convs.1.weight (12, 1, 5, 5)",
                  "wavelet_scale.0.weight (12,)", "wavelet_scale.1.weight (12,)"}));
    nn::WTConv1d one_d(2, 2, 3, 1, false, 1, "db2");
    EXPECT_EQ(names_of(one_d),
              (std::vector<std::string>{"base_conv.weight (2, 1, 3)", "base_scale.weight (2,)",
                                        "wavelet_convs.0.weight (4, 1, 3)",
                                        "wavelet_scale.0.weight (4,)"}));
}

// PyTorch's Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = K*K (2D) or K (1D); the
// sample of several hundred values must also spread over most of that interval.
void expect_uniform_within(const Tensor& t, double bound) {
    double lo = 1e9;
    double hi = -1e9;
    for (const double v : t.to_vector()) {
        EXPECT_GE(v, -bound);
        EXPECT_LT(v, bound);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    EXPECT_LT(lo, -0.8 * bound);
    EXPECT_GT(hi, 0.8 * bound);
}

TEST(WTConvLayerInit, MatchesTheReferenceModule) {
    nn::WTConv2d layer(16, 16, 5, 1, true, 2, "db1",
                       LayerOptions{DType::kFloat64, Device::cpu(), 7});
    expect_uniform_within(layer.weights().base_weight, 1.0 / 5);
    expect_uniform_within(layer.weights().wavelet_weight[1], 1.0 / 5);
    expect_uniform_within(layer.weights().base_bias, 1.0 / 5);
    EXPECT_EQ(layer.weights().base_scale.to_vector(), std::vector<double>(16, 1.0));
    EXPECT_EQ(layer.weights().wavelet_scale[0].to_vector(), std::vector<double>(64, 0.1));
    EXPECT_NE(layer.weights().wavelet_weight[0].to_vector(),
              layer.weights().wavelet_weight[1].to_vector());

    nn::WTConv1d one_d(64, 64, 4, 1, true, 1, "db1");
    expect_uniform_within(one_d.weights().base_weight, 1.0 / 2);  // 1/sqrt(4)
    expect_uniform_within(one_d.weights().wavelet_weight[0], 1.0 / 2);
}

TEST(WTConvLayerInit, SameSeedSameWeightsOtherSeedOtherWeights) {
    const LayerOptions a{DType::kFloat32, Device::cpu(), 11};
    const LayerOptions b{DType::kFloat32, Device::cpu(), 12};
    EXPECT_EQ(nn::WTConv2d(4, 4, 3, 1, true, 1, "db1", a).weights().base_weight.to_vector(),
              nn::WTConv2d(4, 4, 3, 1, true, 1, "db1", a).weights().base_weight.to_vector());
    EXPECT_NE(nn::WTConv2d(4, 4, 3, 1, true, 1, "db1", a).weights().base_weight.to_vector(),
              nn::WTConv2d(4, 4, 3, 1, true, 1, "db1", b).weights().base_weight.to_vector());
}

TEST(WTConvLayerTraining, BackwardAccumulatesUntilZeroGrad) {
    nn::WTConv2d layer(2, 2, 3, 2, true, 2, "db2", LayerOptions{DType::kFloat64, Device::cpu(), 3});
    Rng rng(9);
    const Tensor x = random_normal(rng, {2, 2, 9, 7}, DType::kFloat64);
    const Tensor y = layer.forward(x);
    EXPECT_EQ(y.shape(), (Shape{2, 2, 5, 4}));
    const Tensor dy = random_normal(rng, y.shape(), DType::kFloat64);

    Context ctx;
    WTConvSaved saved;
    wtconv2d_forward(ctx, x, layer.weights(), layer.params(), &saved);
    const WTConvGrads direct = wtconv2d_backward(ctx, dy, layer.weights(), layer.params(), saved);

    const Tensor dx = layer.backward(dy);
    EXPECT_EQ(dx.to_vector(), direct.dx.to_vector());
    layer.backward(dy);
    std::vector<double> twice = direct.dweights.wavelet_weight[1].to_vector();
    for (double& v : twice) {
        v *= 2;
    }
    EXPECT_EQ(layer.grads().wavelet_weight[1].to_vector(), twice);
    layer.zero_grad();
    for (const NamedParameter& p : layer.named_parameters()) {
        EXPECT_EQ(p.grad->to_vector(), std::vector<double>(p.grad->numel(), 0.0)) << p.name;
    }
}

}  // namespace
}  // namespace wtconv::test
