#pragma once
// Structured pruning made real: output channels whose weights are all zero (what
// MagnitudePruner(s, structured = true) leaves) are cut out of a Conv2d, and the matching input
// channels out of the layer that reads them, giving smaller dense layers that run faster.
//
//   std::vector<std::int64_t> keep = live_output_channels(conv1);
//   nn::Conv2d small1 = select_output_channels(conv1, keep);
//   nn::Conv2d small2 = select_input_channels(conv2, keep);
//
// A pruned channel's bias goes with it: the compacted pair computes what the pruned pair computes
// once that channel's bias is zero too (what structured pruning means: the channel is gone).
// Whatever sits between the two layers must be per channel (ReLU, a folded batch norm) and be cut
// the same way.
#include <cstdint>
#include <vector>

#include <wtconv/layers/conv2d.h>

namespace wtconv::nn {

// The output channels of conv whose weight slice holds a non-zero, ascending.
std::vector<std::int64_t> live_output_channels(const Conv2d& conv);

// A Conv2d with conv's params, dtype and device holding only output channels keep (ascending,
// distinct, in range; weights and bias copied, gradients zero, no mask). Throws Error naming keep
// when it is not, or when conv has groups > 1 (a group's channels cannot be cut alone).
Conv2d select_output_channels(const Conv2d& conv, const std::vector<std::int64_t>& keep);

// The same for input channels: weight columns keep, bias whole.
Conv2d select_input_channels(const Conv2d& conv, const std::vector<std::int64_t>& keep);

}  // namespace wtconv::nn
