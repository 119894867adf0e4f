#pragma once
// Parameter initialisation the layers share: PyTorch's default for convolutions and linear maps
// (kaiming_uniform with a = sqrt(5), i.e. U[-1/sqrt(fan_in), 1/sqrt(fan_in)), bias alike), drawn
// from one seeded stream so the same seed gives the same parameters on every platform.
#include <random>
#include <vector>

#include <wtconv/tensor.h>

namespace wtconv::nn::detail {

// U[-bound, bound) from 53 random bits per value, rounded once to t's dtype, copied to t's device.
inline void fill_uniform(Tensor& t, double bound, std::mt19937_64& rng) {
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (double& e : v) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        e = (2.0 * u - 1.0) * bound;
    }
    const Tensor host = Tensor::from_vector(v, t.shape()).to(t.dtype());
    t.copy_from(t.device().is_cpu() ? host : host.to(t.device()));
}

}  // namespace wtconv::nn::detail
