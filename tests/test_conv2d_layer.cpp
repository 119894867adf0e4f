// nn::Conv2d: PyTorch's initialisation bounds and parameter names, the layer against the op,
// gradient accumulation, and the pruning mask (weights zeroed, gradients masked, re-applied).
#include <cmath>

#include <gtest/gtest.h>

#include <wtconv/layers/conv2d.h>

#include "support/test_support.h"

namespace wtconv::test {
namespace {

TEST(Conv2dLayer, InitialisesLikePyTorchWithinOneOverSqrtFanIn) {
    LayerOptions options;
    options.dtype = DType::kFloat64;
    options.seed = 3;
    nn::Conv2d conv(6, 8, {3, 2}, {1, 1}, {0, 0}, {1, 1}, /*groups=*/2, true, options);
    const double bound = 1.0 / std::sqrt(3.0 * 3 * 2);  // fan_in = C/groups kh kw = 18
    for (const NamedParameter& p : conv.named_parameters()) {
        double largest = 0.0;
        for (const double v : p.value->to_vector()) {
            largest = std::max(largest, std::abs(v));
        }
        EXPECT_LT(largest, bound) << p.name;
        EXPECT_GT(largest, 0.8 * bound) << p.name << ": values should fill the range";
    }
    ASSERT_EQ(conv.named_parameters().size(), 2u);
    EXPECT_EQ(conv.named_parameters()[0].name, "weight");
    EXPECT_EQ(conv.named_parameters()[1].name, "bias");
    EXPECT_EQ(conv.weights().weight.shape(), (Shape{8, 3, 3, 2}));
    nn::Conv2d same(6, 8, {3, 2}, {1, 1}, {0, 0}, {1, 1}, 2, true, options);
    EXPECT_EQ(host_bytes(same.weights().weight), host_bytes(conv.weights().weight));
}

TEST(Conv2dLayer, RejectsGroupsThatDoNotDivideTheChannels) {
    expect_error([] { nn::Conv2d(6, 8, 3, 1, 0, 1, 4); }, ErrorCode::kBadArgument,
                 "groups must divide in_channels 6 and out_channels 8, got 4");
    expect_error([] { nn::Conv2d(6, 8, 3, 0); }, ErrorCode::kBadArgument, "stride must be >= 1");
}

TEST(Conv2dLayer, ForwardIsTheOpAndBackwardAccumulates) {
    Rng rng(5);
    LayerOptions options;
    options.dtype = DType::kFloat64;
    nn::Conv2d conv(3, 4, 3, 2, 1, 1, 1, true, options);
    const Tensor x = random_normal(rng, Shape{2, 3, 7, 7}, DType::kFloat64);
    Context ctx;
    Conv2dSaved saved;
    const Tensor want = conv2d_forward(ctx, x, conv.weights(), conv.params(), &saved);
    const Tensor y = conv.forward(x);
    EXPECT_EQ(host_bytes(y), host_bytes(want));
    const Tensor dy = random_normal(rng, y.shape(), DType::kFloat64);
    const Conv2dGrads g = conv2d_backward(ctx, dy, conv.weights(), conv.params(), saved);
    conv.zero_grad();
    EXPECT_EQ(host_bytes(conv.backward(dy)), host_bytes(g.dx));
    conv.backward(dy);
    std::vector<double> twice = g.dweights.weight.to_vector();
    for (double& v : twice) {
        v *= 2;
    }
    EXPECT_LT(rel_l2_error(conv.grads().weight.to_vector(), twice), 1e-15);
}

TEST(Conv2dLayer, AMaskZeroesWeightsAndTheirGradientsAndIsReapplied) {
    Rng rng(6);
    LayerOptions options;
    options.dtype = DType::kFloat32;
    nn::Conv2d conv(2, 3, 3, 1, 1, 1, 1, false, options);
    std::vector<float> keep(static_cast<std::size_t>(conv.weights().weight.numel()));
    for (std::size_t i = 0; i < keep.size(); ++i) {
        keep[i] = i % 3 == 0 ? 0.0f : 1.0f;
    }
    const Tensor mask = Tensor::from_vector(keep, conv.weights().weight.shape());
    conv.set_mask(mask);
    EXPECT_TRUE(conv.pruned());
    const auto pruned_entries_are_zero = [&](const Tensor& t) {
        const std::vector<double> v = t.to_vector();
        for (std::size_t i = 0; i < v.size(); i += 3) {
            if (v[i] != 0.0) {
                return false;
            }
        }
        return true;
    };
    EXPECT_TRUE(pruned_entries_are_zero(conv.weights().weight));
    const Tensor x = random_normal(rng, Shape{1, 2, 5, 5}, DType::kFloat32);
    const Tensor y = conv.forward(x);
    conv.zero_grad();
    conv.backward(random_normal(rng, y.shape(), DType::kFloat32));
    EXPECT_TRUE(pruned_entries_are_zero(conv.grads().weight));
    // An optimiser step that moves every weight (as weight decay or momentum would) ...
    conv.weights().weight.add_(Tensor::full(mask.shape(), 0.25, DType::kFloat32));
    EXPECT_FALSE(pruned_entries_are_zero(conv.weights().weight));
    conv.apply_mask();  // ... is undone on the pruned entries only.
    EXPECT_TRUE(pruned_entries_are_zero(conv.weights().weight));
    expect_error_all(
        [&] {
            conv.set_mask(Tensor::full(Shape{3, 2, 3}, 1.0, DType::kFloat32));
        },
        ErrorCode::kBadArgument, {"prune", "mask", "(3, 2, 3, 3)"});
    conv.set_mask(Tensor());
    EXPECT_FALSE(conv.pruned());
}

}  // namespace
}  // namespace wtconv::test
