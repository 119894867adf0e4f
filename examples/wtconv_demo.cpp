// The main example: build a WTConv2d layer, run forward and backward on a random batch, and print
// the shapes, the time of each, and the largest difference from the double-precision reference.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include <wtconv/wtconv.h>

#include "reference/wtconv_ref.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

wtconv::ref::Array as_ref(const wtconv::Tensor& t) {
    wtconv::ref::Array a;
    a.shape = t.shape().sizes();
    a.data = t.to_vector();
    return a;
}

// Largest |got - want| over all elements, and the largest |want| for scale.
void print_difference(const char* name, const wtconv::Tensor& got, const wtconv::ref::Array& want) {
    const std::vector<double> g = got.to_vector();
    double diff = 0.0;
    double scale = 0.0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        diff = std::max(diff, std::abs(g[i] - want.data[i]));
        scale = std::max(scale, std::abs(want.data[i]));
    }
    std::printf("  %-22s max |float32 - double reference| = %.3g (values up to %.3g)\n", name, diff,
                scale);
}

}  // namespace

int main() {
    using namespace wtconv;
    const std::int64_t n = 8, c = 32, h = 64, w = 64;
    const int levels = 2;
    nn::WTConv2d layer(c, c, /*kernel_size=*/5, /*stride=*/1, /*bias=*/true, levels, "db1");
    std::printf("WTConv2d(%lld, %lld, kernel_size=5, levels=%d, wavelet=db1), %d CPU threads\n",
                static_cast<long long>(c), static_cast<long long>(c), levels,
                default_context(Device::cpu()).num_threads());

    std::mt19937 rng(1);
    std::normal_distribution<double> normal;
    std::vector<double> values(static_cast<std::size_t>(n * c * h * w));
    for (double& v : values) {
        v = normal(rng);
    }
    const Tensor x = Tensor::from_vector(values, {n, c, h, w}).to(DType::kFloat32);
    layer.forward(x);  // warm-up: first-touch of memory and thread start-up

    auto start = Clock::now();
    const Tensor y = layer.forward(x);
    const double forward_ms = ms_since(start);
    const Tensor dy = Tensor::full(y.shape(), 1.0, DType::kFloat32);
    start = Clock::now();
    const Tensor dx = layer.backward(dy);
    const double backward_ms = ms_since(start);
    std::printf("x  %s\ny  %s   forward  %.2f ms\ndx %s   backward %.2f ms\n",
                x.shape().str().c_str(), y.shape().str().c_str(), forward_ms,
                dx.shape().str().c_str(), backward_ms);

    // The same layer in plain double-precision loops (tests/reference), for comparison.
    const WaveletFilterBank bank = wavelet_filter_bank("db1");
    const ref::FilterBank fb{bank.dec_lo, bank.dec_hi, bank.rec_lo, bank.rec_hi};
    ref::Weights rw;
    const WTConvWeights& lw = layer.weights();
    rw.base_weight = as_ref(lw.base_weight);
    rw.base_bias = as_ref(lw.base_bias);
    rw.base_scale = as_ref(lw.base_scale);
    for (int i = 0; i < levels; ++i) {
        rw.wavelet_weight.push_back(as_ref(lw.wavelet_weight[i]));
        rw.wavelet_scale.push_back(as_ref(lw.wavelet_scale[i]));
    }
    const ref::Config cfg{5, levels, 1, true};
    start = Clock::now();
    const ref::Array y_ref = ref::wtconv2d_forward(as_ref(x), rw, cfg, fb);
    const ref::Grads g_ref = ref::wtconv2d_backward(as_ref(x), as_ref(dy), rw, cfg, fb);
    std::printf("double reference (plain loops): forward + backward %.0f ms\n", ms_since(start));
    print_difference("y", y, y_ref);
    print_difference("dx", dx, g_ref.dx);
    print_difference("d base_conv.weight", layer.grads().base_weight, g_ref.dweights.base_weight);
    print_difference("d wavelet_convs.0.weight", layer.grads().wavelet_weight[0],
                     g_ref.dweights.wavelet_weight[0]);
    return 0;
}
