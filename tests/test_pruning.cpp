// Network-level pruning on nn::Conv2d layers: one-shot masks at the target sparsity (exact zero
// counts), structured pruning of whole output channels, weights that stay zero through training
// steps, the iterative schedule's re-pruning epochs, the report, and bad input.
#include <cmath>

#include <gtest/gtest.h>

#include <wtconv/layers/conv2d.h>
#include <wtconv/layers/pruning.h>

#include "support/test_support.h"

namespace wtconv::test {
namespace {

struct Net {
    nn::Conv2d a{3, 8, 3, 1, 1, 1, 1, true, options(1)};
    nn::Conv2d b{8, 16, 3, 2, 1, 1, 1, false, options(2)};
    std::vector<NamedLayer> layers() { return {{"a", &a}, {"b", &b}}; }
    static LayerOptions options(unsigned long long seed) {
        LayerOptions o;
        o.seed = seed;
        return o;
    }
};

std::int64_t zeros(const Tensor& t) {
    std::int64_t n = 0;
    for (const double v : t.to_vector()) {
        n += v == 0.0;
    }
    return n;
}

TEST(PruneLayers, MagnitudePruningZeroesFloorOfSparsityTimesNumelPerLayer) {
    Net net;
    MagnitudePruner(0.5).apply(net.layers());
    // Weights drawn from a continuous distribution: no ties, so exactly floor(n s) go per layer.
    EXPECT_EQ(zeros(net.a.weights().weight), 8 * 3 * 9 / 2);
    EXPECT_EQ(zeros(net.b.weights().weight), 16 * 8 * 9 / 2);
    const std::vector<LayerSparsity> report = sparsity_report(net.layers());
    ASSERT_EQ(report.size(), 3u);
    EXPECT_EQ(report[0].name, "a");
    EXPECT_DOUBLE_EQ(report[0].sparsity, 0.5);
    EXPECT_EQ(report[2].name, "global");
    EXPECT_EQ(report[2].zeros, 108 + 576);
    EXPECT_EQ(report[2].numel, 216 + 1152);
}

TEST(PruneLayers, StructuredPruningRemovesWholeOutputChannels) {
    Net net;
    MagnitudePruner(0.3, /*structured=*/true).apply(net.layers());
    const auto count_dead_channels = [](const Tensor& w) {
        const std::vector<double> v = w.to_vector();
        const std::int64_t per = w.numel() / w.size(0);
        int dead = 0;
        for (std::int64_t o = 0; o < w.size(0); ++o) {
            bool all_zero = true;
            for (std::int64_t i = 0; i < per; ++i) {
                all_zero = all_zero && v[o * per + i] == 0.0;
            }
            dead += all_zero;
        }
        return dead;
    };
    EXPECT_EQ(count_dead_channels(net.a.weights().weight), 2);  // floor(8 * 0.3)
    EXPECT_EQ(count_dead_channels(net.b.weights().weight), 4);  // floor(16 * 0.3)
    EXPECT_EQ(zeros(net.a.weights().weight), 2 * 27);
}

TEST(PruneLayers, PrunedWeightsStayZeroThroughTrainingSteps) {
    Rng rng(3);
    Net net;
    MagnitudePruner(0.6).apply(net.layers());
    const std::int64_t pruned = zeros(net.b.weights().weight);
    for (int step = 0; step < 3; ++step) {
        const Tensor x = random_normal(rng, Shape{2, 3, 9, 9}, DType::kFloat32);
        const Tensor h = net.a.forward(x);
        const Tensor y = net.b.forward(h);
        for (auto& l : {&net.a, &net.b}) {
            l->zero_grad();
        }
        net.a.backward(net.b.backward(random_normal(rng, y.shape(), DType::kFloat32)));
        // The masked gradients leave pruned entries alone; an optimiser step that moves every
        // weight (as momentum would) makes them non-zero, and apply_masks zeroes them again.
        EXPECT_GE(zeros(net.b.grads().weight), pruned);
        for (auto& l : {&net.a, &net.b}) {
            const Shape shape = l->weights().weight.shape();
            l->weights().weight.add_(Tensor::full(shape, 0.01, DType::kFloat32));
            l->weights().weight.add_(l->grads().weight);
        }
        EXPECT_LT(zeros(net.b.weights().weight), pruned);
        apply_masks(net.layers());
        EXPECT_EQ(zeros(net.b.weights().weight), pruned) << "step " << step;
    }
    remove_pruning(net.layers());
    EXPECT_FALSE(net.b.pruned());
    EXPECT_EQ(zeros(net.b.weights().weight), pruned);
}

TEST(PruneLayers, IterativePrunerRePrunesOnScheduleEpochs) {
    // COMPRESSION.md 2.5's example: a 0.1, f 0.5, N 8, E 3 -> 0.1 0.1 0.1 0.3 0.3 0.3 0.5 0.5.
    const IterativePruner pruner(0.1, 0.5, 8, 3);
    const double want[] = {0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 0.5, 0.5};
    for (int e = 0; e < 8; ++e) {
        EXPECT_NEAR(pruner.sparsity_at(e), want[e], 1e-12) << "epoch " << e;
    }
    Net net;
    EXPECT_TRUE(pruner.prune_step(net.layers(), 0));
    EXPECT_EQ(zeros(net.b.weights().weight), static_cast<std::int64_t>(1152 * 0.1));
    EXPECT_FALSE(pruner.prune_step(net.layers(), 1));
    EXPECT_TRUE(pruner.prune_step(net.layers(), 3));
    EXPECT_EQ(zeros(net.b.weights().weight), static_cast<std::int64_t>(1152 * 0.3));
}

TEST(PruneLayers, BadInput) {
    expect_error([] { MagnitudePruner(1.0); }, ErrorCode::kBadArgument,
                 "sparsity must be in [0, 1), got 1");
    expect_error([] { IterativePruner(0.1, 0.5, 1, 3); }, ErrorCode::kBadArgument,
                 "(num_iterations + 1) / epochs_per_iteration - 1 must be > 0");
    Net net;
    std::vector<NamedLayer> layers = net.layers();
    layers.push_back({"missing", nullptr});
    expect_error([&] { MagnitudePruner(0.5).apply(layers); }, ErrorCode::kBadArgument,
                 "layer \"missing\" must not be null");
}

}  // namespace
}  // namespace wtconv::test
