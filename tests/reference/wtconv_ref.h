// Independent double-precision reference for WTConv2d / WTConv1d, written from WTCONV.md alone
// with plain loops and the standard library only, so that it shares no code with the library.
// Tests compare the library against it; the golden files remain the first authority.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace wtconv::ref {

// Row-major (C-contiguous) double array.
struct Array {
    std::vector<int64_t> shape;
    std::vector<double> data;

    Array() = default;
    explicit Array(std::vector<int64_t> shape_in) : shape(std::move(shape_in)) {
        data.assign(static_cast<size_t>(numel()), 0.0);
    }

    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape) {
            n *= d;
        }
        return n;
    }
    bool empty() const { return data.empty() && shape.empty(); }
};

// pywt's four 1D filters in pywt's order (not reversed).
struct FilterBank {
    std::vector<double> dec_lo, dec_hi, rec_lo, rec_hi;
};

// One layer's options. levels <= 0 means base branch only; stride <= 1 means no striding.
struct Config {
    int kernel_size = 5;
    int levels = 1;
    int stride = 1;
    bool bias = true;
};

// Shapes are 2D | 1D; the 4C / 2C tensors use channel 4c + k / 2c + k (band k of channel c).
struct Weights {
    Array base_weight;                  // (C,1,K,K) | (C,1,K)
    Array base_bias;                    // (C); empty when !bias
    Array base_scale;                   // (C)
    std::vector<Array> wavelet_weight;  // level i: (4C,1,K,K) | (2C,1,K)
    std::vector<Array> wavelet_scale;   // level i: (4C) | (2C)
};

// dweights.base_bias is empty when !bias.
struct Grads {
    Array dx;
    Weights dweights;
};

// x: (N,C,H,W); returns (N,C,ceil(H/s),ceil(W/s)). dy has the forward output's shape.
Array wtconv2d_forward(const Array& x, const Weights& w, const Config& cfg, const FilterBank& fb);
Grads wtconv2d_backward(
    const Array& x, const Array& dy, const Weights& w, const Config& cfg, const FilterBank& fb);

// x: (N,C,L); returns (N,C,L//s) (stride averages windows of s, the tail is dropped).
Array wtconv1d_forward(const Array& x, const Weights& w, const Config& cfg, const FilterBank& fb);
Grads wtconv1d_backward(
    const Array& x, const Array& dy, const Weights& w, const Config& cfg, const FilterBank& fb);

// Building blocks, exposed for adjoint and perfect-reconstruction tests.
// dwt2d: (N,C,H,W) with even H, W -> (N,4C,H/2,W/2); idwt2d: (N,4C,h,w) -> (N,C,2h,2w).
// dwt1d: (N,C,L) with even L -> (N,2C,L/2); idwt1d: (N,2C,l) -> (N,C,2l).
Array dwt2d(const Array& p, const FilterBank& fb);
Array idwt2d(const Array& t, const FilterBank& fb);
Array dwt1d(const Array& p, const FilterBank& fb);
Array idwt1d(const Array& t, const FilterBank& fb);

}  // namespace wtconv::ref
