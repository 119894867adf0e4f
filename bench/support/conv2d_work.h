#pragma once
// The conv2d benchmark problems (ResNet-18's convolutions) and their work: FLOPs counted as
// 2 per multiply-add of the direct definition, bytes as one read of every input and one write of
// every output (the memory floor).
#include <cstdint>
#include <string>

namespace wtconv::bench {

struct Conv2dProblem {
    const char* name;  // what the layer is in ResNet-18
    std::int64_t n, c, h, w, o;
    int k, stride, pad;

    std::int64_t ho() const { return (h + 2 * pad - k) / stride + 1; }
    std::int64_t wo() const { return (w + 2 * pad - k) / stride + 1; }
    // Multiply-adds of one pass: every output element sums C k k products.
    double macs() const { return static_cast<double>(n) * o * ho() * wo() * c * k * k; }
    double forward_flops() const { return 2 * macs(); }
    // Forward, then dx and dW (each as many multiply-adds as the forward); the bias gradient's
    // N O Ho Wo additions are negligible and not counted.
    double forward_backward_flops() const { return 6 * macs(); }
    double forward_bytes() const {
        return 4.0 * (n * c * h * w + o * c * k * k + o + n * o * ho() * wo());
    }
    // Forward's bytes, then dy, x, W read and dx, dW written.
    double forward_backward_bytes() const {
        return forward_bytes() +
               4.0 * (2 * n * o * ho() * wo() + 2 * n * c * h * w + 2 * o * c * k * k);
    }
    std::string shape_name() const {
        return "N" + std::to_string(n) + "_C" + std::to_string(c) + "_" + std::to_string(h) + "x" +
               std::to_string(w) + "_O" + std::to_string(o) + "_K" + std::to_string(k) + "_S" +
               std::to_string(stride);
    }
};

}  // namespace wtconv::bench
