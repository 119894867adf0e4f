#pragma once
// The Wav-KAN benchmarks' networks, shared by bench_wavkan (CPU) and bench_wavkan_cuda: the
// problem description, the layers' initialisation, the whole network's training forward and
// backward, and the fused-against-unfused agreement the rows report (WAVKAN.md 8).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <wtconv/context.h>
#include <wtconv/ops/wavkan.h>

namespace wtconv::bench {

// A network of wavkan layers (core + batch norm each): widths[0] inputs, then each layer's outputs.
struct WavKanProblem {
    std::string name;
    KanWavelet wavelet = KanWavelet::kMexicanHat;
    std::int64_t batch = 0;
    std::vector<std::int64_t> widths;
    DType dtype = DType::kFloat32;  // of every tensor; the half types are storage for float sums

    // Wavelet evaluations of one forward, B sum O I (WAVKAN.md 8); a backward evaluates as many
    // (psi and dpsi together).
    double evaluations() const {
        double sum = 0;
        for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
            sum += static_cast<double>(widths[l]) * static_cast<double>(widths[l + 1]);
        }
        return static_cast<double>(batch) * sum;
    }
    bool network() const { return widths.size() > 2; }
};

struct WavKanLayer {
    WavKanWeights w;
    WavKanRunningStats running;
};

// A float32 host tensor of draw()s.
inline Tensor host_filled(const Shape& shape, const std::function<float()>& draw) {
    Tensor t = Tensor::empty(shape, DType::kFloat32);
    float* p = t.data<float>();
    for (std::int64_t k = 0; k < t.numel(); ++k) {
        p[k] = draw();
    }
    return t;
}

// The layers of a network of `widths`, drawn from rng in layer order (scale, translation, weights)
// in float32 and stored as dtype on device. nn::WavKANLinear's initialisation (wavelet_weights
// U(+-1/sqrt(I)), batch norm gamma 1, beta 0, running mean 0, variance 1), but scale and
// translation moved off 1 and 0 so that the wavelets are not all evaluated at the same few points:
// |scale| uniform in [0.5, 2] with a random sign, translation N(0, 0.5).
inline std::vector<WavKanLayer> make_wavkan_layers(const std::vector<std::int64_t>& widths,
                                                   std::mt19937_64& rng,
                                                   DType dtype,
                                                   Device device) {
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::uniform_real_distribution<float> magnitude(0.5f, 2.0f);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto stored = [&](const Tensor& t) { return t.to(dtype).to(device); };
    std::vector<WavKanLayer> layers;
    for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
        const std::int64_t in = widths[l], out = widths[l + 1];
        const Shape edges{out, in};
        WavKanLayer layer;
        layer.w.scale = stored(host_filled(edges, [&] {
            const float m = magnitude(rng);
            return (rng() & 1u) != 0 ? m : -m;
        }));
        layer.w.translation = stored(host_filled(edges, [&] { return 0.5f * normal(rng); }));
        const float bound = 1.0f / std::sqrt(static_cast<float>(in));
        layer.w.wavelet_weights = stored(host_filled(edges, [&] { return bound * unit(rng); }));
        layer.w.bn_weight = Tensor::full(Shape{out}, 1.0, dtype, device);
        layer.w.bn_bias = Tensor::full(Shape{out}, 0.0, dtype, device);
        layer.running.mean = Tensor::full(Shape{out}, 0.0, dtype, device);
        layer.running.var = Tensor::full(Shape{out}, 1.0, dtype, device);
        layers.push_back(std::move(layer));
    }
    return layers;
}

// Every layer batch norm in training mode: the benchmark never calls eval() (WAVKAN.md 8).
inline WavKanParams training_params(KanWavelet wavelet, WavKanAlgo algo) {
    WavKanParams p;
    p.wavelet = wavelet;
    p.algo = algo;
    p.batchnorm = true;
    p.training = true;
    return p;
}

// The whole network's training forward from x (running statistics updated), saving every layer.
inline Tensor network_forward(Context& ctx,
                              std::vector<WavKanLayer>& layers,
                              const Tensor& x,
                              const WavKanParams& p,
                              std::vector<WavKanSaved>& saved) {
    saved.assign(layers.size(), WavKanSaved{});
    Tensor h = x;
    for (std::size_t l = 0; l < layers.size(); ++l) {
        h = wavkan_forward(ctx, h, layers[l].w, p, &layers[l].running, &saved[l]);
    }
    return h;
}

// Every layer's backward, last to first, from dy. A network's first layer skips dx (its input
// needs no gradient, as in the original's loss.backward()); a lone layer stands for a hidden one
// and computes it.
inline std::vector<WavKanGrads> network_backward(Context& ctx,
                                                 const std::vector<WavKanLayer>& layers,
                                                 const Tensor& dy,
                                                 const WavKanParams& p,
                                                 const std::vector<WavKanSaved>& saved) {
    std::vector<WavKanGrads> grads(layers.size());
    Tensor g = dy;
    for (std::size_t l = layers.size(); l-- > 0;) {
        const bool need_dx = l > 0 || layers.size() == 1;
        grads[l] = wavkan_backward(ctx, g, layers[l].w, p, saved[l], need_dx);
        g = grads[l].dx;
    }
    return grads;
}

// ||got - want|| / ||want|| (the plain norm of the difference when want is 0), on the host.
inline double rel_l2(const Tensor& got, const Tensor& want) {
    const std::vector<double> g = got.to(Device::cpu()).to_vector();
    const std::vector<double> w = want.to(Device::cpu()).to_vector();
    double diff = 0;
    double norm = 0;
    for (std::size_t k = 0; k < g.size(); ++k) {
        diff += (g[k] - w[k]) * (g[k] - w[k]);
        norm += w[k] * w[k];
    }
    return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// The worst rel_l2 over every gradient of every layer (each parameter's and dx where computed).
inline double worst_gradient_difference(const std::vector<WavKanGrads>& a,
                                        const std::vector<WavKanGrads>& b) {
    double worst = 0;
    for (std::size_t l = 0; l < a.size(); ++l) {
        const WavKanWeights& da = a[l].dweights;
        const WavKanWeights& db = b[l].dweights;
        for (const auto& [ta, tb] :
             {std::pair{&da.scale, &db.scale}, std::pair{&da.translation, &db.translation},
              std::pair{&da.wavelet_weights, &db.wavelet_weights},
              std::pair{&da.bn_weight, &db.bn_weight}, std::pair{&da.bn_bias, &db.bn_bias},
              std::pair{&a[l].dx, &b[l].dx}}) {
            if (ta->defined()) {
                worst = std::max(worst, rel_l2(*ta, *tb));
            }
        }
    }
    return worst;
}

}  // namespace wtconv::bench
