#pragma once
// Inputs and comparisons shared by the CUDA benchmark and the comparator's self-check: seeded
// random weights in the library's layout, moving weight sets between devices and dtypes, and the
// relative L2 difference computed in double on the host.
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <wtconv/ops/wtconv.h>
#include <wtconv/tensor.h>

namespace wtconv::bench {

// N(0, stddev) float32 values on the host: never all zero, so no kernel can skip work.
Tensor random_normal(std::mt19937_64& rng, const Shape& shape, float stddev);

// Host float32 weights for C channels: taps N(0, 1/K), which keeps every conv's output near unit
// variance; bias and every scale N(0, 1), so that the wavelet branch weighs as much as the base
// one (the reference's 0.1 initial scales would hide errors in it).
WTConvWeights random_weights(std::mt19937_64& rng, std::int64_t channels, const WTConvParams& p);

WTConvWeights weights_to(const WTConvWeights& w, Device device);
WTConvWeights weights_to(const WTConvWeights& w, DType dtype);  // host tensors only

// Every tensor of a weight (or gradient) set with its name, in a fixed order: base_weight,
// base_bias (when defined), base_scale, then wavelet_weight_i and wavelet_scale_i per level.
std::vector<std::pair<std::string, const Tensor*>> named_tensors(const WTConvWeights& w);

// A tensor's values as doubles, from any device and dtype.
std::vector<double> host_values(const Tensor& t);

// ||got - want|| / ||want||, in double; NaN when the sizes differ, 0 when both are zero.
double rel_l2(const std::vector<double>& got, const std::vector<double>& want);

// True when both tensors hold the same bytes (same dtype and size), read back from any device.
bool same_bytes(const Tensor& a, const Tensor& b);

}  // namespace wtconv::bench
