// int8 conv2d reference: acc = sum over taps inside the image of (x_q - z_x) w_q (padding adds
// nothing), then y_q = clamp(rne(fl32(fl32(fl32(acc) fl32(s_x s_w)) + b) fl32(1/s_y)) + z_y).
#include "reference/conv2d_int8_ref.h"

#include <algorithm>
#include <cmath>

namespace wtconv::ref {

int quantize_ref(float x, const QuantRef& q) {
    const float inv = 1.0f / q.scale;
    const float t = x * inv;
    const double r = std::nearbyint(static_cast<double>(t)) + q.zero_point;
    if (std::isnan(r)) {
        return q.zero_point;
    }
    return static_cast<int>(std::clamp(r, double(q.quant_min), double(q.quant_max)));
}

std::vector<int> conv2d_int8_ref(const Int8ConvRef& c) {
    const int64_t n_ = c.x_shape[0], ch = c.x_shape[1], h = c.x_shape[2], w = c.x_shape[3];
    const int64_t o_ = c.w_shape[0], cg = c.w_shape[1], kh = c.w_shape[2], kw = c.w_shape[3];
    const Conv2dConfig& f = c.cfg;
    const int64_t og = o_ / f.groups;
    const int64_t ho = (h + 2 * f.pad_h - f.dilation_h * (kh - 1) - 1) / f.stride_h + 1;
    const int64_t wo = (w + 2 * f.pad_w - f.dilation_w * (kw - 1) - 1) / f.stride_w + 1;
    std::vector<int> y(static_cast<size_t>(n_ * o_ * ho * wo));
    const int lo = c.relu ? c.output.zero_point : c.output.quant_min;
    for (int64_t n = 0; n < n_; ++n) {
        for (int64_t o = 0; o < o_; ++o) {
            for (int64_t p = 0; p < ho; ++p) {
                for (int64_t q = 0; q < wo; ++q) {
                    int64_t acc = 0;
                    for (int64_t ci = 0; ci < cg; ++ci) {
                        const int64_t channel = (o / og) * cg + ci;
                        for (int64_t i = 0; i < kh; ++i) {
                            for (int64_t j = 0; j < kw; ++j) {
                                const int64_t row = p * f.stride_h + i * f.dilation_h - f.pad_h;
                                const int64_t col = q * f.stride_w + j * f.dilation_w - f.pad_w;
                                if (row < 0 || row >= h || col < 0 || col >= w) {
                                    continue;
                                }
                                const int xv = c.x_q[((n * ch + channel) * h + row) * w + col];
                                const int wv = c.w_q[((o * cg + ci) * kh + i) * kw + j];
                                acc += static_cast<int64_t>(xv - c.input.zero_point) * wv;
                            }
                        }
                    }
                    const float m = c.input.scale * c.w_scale[o];
                    const float scaled = static_cast<float>(acc) * m;
                    const float v = scaled + (c.bias.empty() ? 0.0f : c.bias[o]);
                    QuantRef out = c.output;
                    out.quant_min = lo;
                    y[((n * o_ + o) * ho + p) * wo + q] = quantize_ref(v, out);
                }
            }
        }
    }
    return y;
}

}  // namespace wtconv::ref
