// Shared inputs and comparisons of the CUDA benchmark (see bench_inputs.h).
#include "cuda/bench_inputs.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <wtconv/ops/wtconv2d.h>

namespace wtconv::bench {

namespace {

template <class F>
WTConvWeights map_weights(const WTConvWeights& w, F&& f) {
    WTConvWeights out;
    out.base_weight = f(w.base_weight);
    if (w.base_bias.defined()) {
        out.base_bias = f(w.base_bias);
    }
    out.base_scale = f(w.base_scale);
    for (const Tensor& t : w.wavelet_weight) {
        out.wavelet_weight.push_back(f(t));
    }
    for (const Tensor& t : w.wavelet_scale) {
        out.wavelet_scale.push_back(f(t));
    }
    return out;
}

}  // namespace

Tensor random_normal(std::mt19937_64& rng, const Shape& shape, float stddev) {
    Tensor t = Tensor::empty(shape, DType::kFloat32);
    std::normal_distribution<float> normal(0.0f, stddev);
    float* data = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        data[i] = normal(rng);
    }
    return t;
}

WTConvWeights random_weights(std::mt19937_64& rng, std::int64_t channels, const WTConvParams& p) {
    const WTConvWeights like = wtconv2d_empty_weights(channels, p, DType::kFloat32);
    const float tap_std = 1.0f / static_cast<float>(p.kernel_size);
    WTConvWeights w;
    w.base_weight = random_normal(rng, like.base_weight.shape(), tap_std);
    if (like.base_bias.defined()) {
        w.base_bias = random_normal(rng, like.base_bias.shape(), 1.0f);
    }
    w.base_scale = random_normal(rng, like.base_scale.shape(), 1.0f);
    for (std::size_t i = 0; i < like.wavelet_weight.size(); ++i) {
        w.wavelet_weight.push_back(random_normal(rng, like.wavelet_weight[i].shape(), tap_std));
        w.wavelet_scale.push_back(random_normal(rng, like.wavelet_scale[i].shape(), 1.0f));
    }
    return w;
}

WTConvWeights weights_to(const WTConvWeights& w, Device device) {
    return map_weights(w, [&](const Tensor& t) { return t.to(device); });
}

WTConvWeights weights_to(const WTConvWeights& w, DType dtype) {
    return map_weights(w, [&](const Tensor& t) { return t.to(dtype); });
}

std::vector<std::pair<std::string, const Tensor*>> named_tensors(const WTConvWeights& w) {
    std::vector<std::pair<std::string, const Tensor*>> out;
    out.emplace_back("base_weight", &w.base_weight);
    if (w.base_bias.defined()) {
        out.emplace_back("base_bias", &w.base_bias);
    }
    out.emplace_back("base_scale", &w.base_scale);
    for (std::size_t i = 0; i < w.wavelet_weight.size(); ++i) {
        out.emplace_back("wavelet_weight_" + std::to_string(i), &w.wavelet_weight[i]);
        out.emplace_back("wavelet_scale_" + std::to_string(i), &w.wavelet_scale[i]);
    }
    return out;
}

std::vector<double> host_values(const Tensor& t) {
    return t.device().is_cpu() ? t.to_vector() : t.to(Device::cpu()).to_vector();
}

double rel_l2(const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size()) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    double diff = 0;
    double norm = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        diff += (got[i] - want[i]) * (got[i] - want[i]);
        norm += want[i] * want[i];
    }
    if (norm == 0) {
        return diff == 0 ? 0.0 : std::numeric_limits<double>::infinity();
    }
    return std::sqrt(diff / norm);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    if (a.dtype() != b.dtype() || a.numel() != b.numel()) {
        return false;
    }
    const Tensor ha = a.device().is_cpu() ? a : a.to(Device::cpu());
    const Tensor hb = b.device().is_cpu() ? b : b.to(Device::cpu());
    return std::memcmp(ha.raw_data(), hb.raw_data(), ha.nbytes()) == 0;
}

}  // namespace wtconv::bench
