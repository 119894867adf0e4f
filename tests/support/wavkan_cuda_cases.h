#pragma once
// What the CUDA Wav-KAN tests share (tests/test_wavkan_cuda*.cpp): a case (sizes, parameters,
// dtype, seed), its random host inputs, a run of forward and backward on a context, the double
// reference's results and the comparison against them.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <wtconv/ops/wavkan.h>

#include "reference/wavkan_ref.h"
#include "support/test_support.h"

namespace wtconv::test {

inline const Device kCuda = Device::cuda(0);
inline constexpr KanWavelet kWavelets[] = {KanWavelet::kMexicanHat, KanWavelet::kMorlet,
                                           KanWavelet::kDog, KanWavelet::kMeyer,
                                           KanWavelet::kShannon};

struct Case {
    std::int64_t batch, inputs, outputs;
    WavKanParams params;
    DType dtype;
    std::uint64_t seed;
};
// Host inputs of a case: x and translation N(0, 1), scale of either sign in [0.5, 2], weights
// N(0, 1), running variance in [0.5, 1.5].
struct Inputs {
    Tensor x, dy;
    WavKanWeights w;
    WavKanRunningStats running;
};
struct Outputs {
    Tensor y, mean, var;
    WavKanGrads g;
};
struct Reference {
    ref::WavKanForwardRef fwd;
    ref::WavKanGradsRef grads;
};
Inputs make_inputs(const Case& c);
WavKanWeights to_device(const WavKanWeights& w, Device d);
// Forward (with the case's batch norm and running statistics) and backward on ctx's device.
Outputs run_on(Context& ctx, const Case& c, const Inputs& in);
Reference reference_of(const Case& c, const Inputs& in);
std::string describe(const Case& c);
// Every output against the reference; returns the worst error.
double expect_matches(const Case& c, const Outputs& got, const Reference& want);
// Every wavelet with each of the sizes (of out_features: the thin forward below 16, the tiled one
// from 16).
std::vector<std::pair<KanWavelet, std::int64_t>> every_wavelet_with(
    std::initializer_list<std::int64_t> sizes);
// Sizes: 1, small primes and odd sizes, tile edges (31, 32, 33, 65) and a few larger ones.
std::int64_t random_size(Rng& rng);
Case random_case(Rng& rng, std::uint64_t seed);

}  // namespace wtconv::test
