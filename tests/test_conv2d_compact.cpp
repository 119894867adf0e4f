// Compacting structured-pruned Conv2d layers: the smaller dense pair computes what the pruned pair
// computes (float64, to 1e-12), the live channels are what the pruner kept, and bad keep lists.
#include <gtest/gtest.h>

#include <wtconv/layers/conv2d_compact.h>
#include <wtconv/ops/prune.h>

#include "support/test_support.h"

namespace wtconv::test {
namespace {

LayerOptions float64(unsigned long long seed) {
    LayerOptions o;
    o.dtype = DType::kFloat64;
    o.seed = seed;
    return o;
}

// Zeroes the bias of every output channel whose weights are all zero: the channel is gone.
void zero_dead_bias(nn::Conv2d& conv) {
    const std::vector<std::int64_t> live = nn::live_output_channels(conv);
    std::vector<double> bias = conv.weights().bias.to_vector();
    std::vector<bool> alive(bias.size(), false);
    for (const std::int64_t o : live) {
        alive[static_cast<std::size_t>(o)] = true;
    }
    for (std::size_t o = 0; o < bias.size(); ++o) {
        bias[o] = alive[o] ? bias[o] : 0.0;
    }
    conv.weights().bias.copy_from(Tensor::from_vector(bias, conv.weights().bias.shape()));
}

TEST(Conv2dCompact, CompactedPairComputesThePrunedPair) {
    for (const double sparsity : {0.3, 0.5, 0.7}) {
        nn::Conv2d first(5, 12, 3, 1, 1, 1, 1, true, float64(1));
        nn::Conv2d second(12, 7, 3, 2, 1, 1, 1, true, float64(2));
        first.set_mask(structured_mask(first.weights().weight, sparsity));
        zero_dead_bias(first);
        const std::vector<std::int64_t> keep = nn::live_output_channels(first);
        ASSERT_EQ(keep.size(), 12u - static_cast<std::size_t>(12 * sparsity)) << sparsity;
        nn::Conv2d small_first = nn::select_output_channels(first, keep);
        nn::Conv2d small_second = nn::select_input_channels(second, keep);
        EXPECT_EQ(small_first.weights().weight.shape(),
                  (Shape{static_cast<std::int64_t>(keep.size()), 5, 3, 3}));
        EXPECT_EQ(small_second.weights().weight.shape(),
                  (Shape{7, static_cast<std::int64_t>(keep.size()), 3, 3}));
        Rng rng(4);
        const Tensor x = random_normal(rng, Shape{2, 5, 9, 8}, DType::kFloat64);
        const Tensor want = second.forward(first.forward(x));
        const Tensor got = small_second.forward(small_first.forward(x));
        EXPECT_LT(rel_l2_error(got, to_ref(want)), 1e-12) << sparsity;
    }
}

TEST(Conv2dCompact, BadKeepListsAndGroupedLayersAreRefused) {
    nn::Conv2d conv(4, 6, 3, 1, 1, 1, 1, true, float64(3));
    expect_error([&] { nn::select_output_channels(conv, {}); }, ErrorCode::kBadArgument,
                 "keep must name at least one channel");
    expect_error(
        [&] {
            nn::select_output_channels(conv, {0, 6});
        },
        ErrorCode::kBadArgument, "keep entries must be in [0, 6), got 6");
    expect_error(
        [&] {
            nn::select_input_channels(conv, {2, 1});
        },
        ErrorCode::kBadArgument, "keep must be ascending and distinct, got 2 before 1");
    nn::Conv2d grouped(4, 6, 3, 1, 1, 1, 2, true, float64(3));
    expect_error([&] { nn::select_output_channels(grouped, {0}); }, ErrorCode::kBadArgument,
                 "select_output_channels: conv must have groups 1, got 2");
}

}  // namespace
}  // namespace wtconv::test
