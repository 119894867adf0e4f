#pragma once
// Conv2dGeometry: every size of one conv2d call, computed once in src/ops/conv2d.cpp after the
// checks, so that the backends index the same way (host and device code).
#include <cstdint>

namespace wtconv::detail {

struct Conv2dGeometry {
    std::int64_t n, c, h, w;  // input (N, C, H, W)
    std::int64_t o;           // output channels
    int kh, kw;
    int sh, sw, ph, pw, dh, dw;
    int groups;
    std::int64_t ho, wo;  // output (N, O, Ho, Wo)

    std::int64_t cg() const { return c / groups; }     // input channels of a group
    std::int64_t og() const { return o / groups; }     // output channels of a group
    std::int64_t k() const { return cg() * kh * kw; }  // rows of a group's column matrix
    std::int64_t p() const { return ho * wo; }         // columns: output pixels of an image
    std::int64_t hw() const { return h * w; }
    // A 1x1 kernel with unit stride and no padding reads x itself as the column matrix.
    bool pointwise() const {
        return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
    }
};

// Output length of one axis: floor((n + 2 pad - dilation (k - 1) - 1) / stride) + 1, which may be
// < 1 (the caller rejects that).
constexpr std::int64_t conv_output_size(std::int64_t n, int k, int stride, int pad, int dilation) {
    const std::int64_t span =
        n + 2 * static_cast<std::int64_t>(pad) - static_cast<std::int64_t>(dilation) * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

}  // namespace wtconv::detail
