// Independent double-precision reference for conv2d (COMPRESSION.md 1.1 and 1.4): the direct
// definition as plain loops, nothing from the library.
#pragma once

#include "reference/wtconv_ref.h"

namespace wtconv::ref {

struct Conv2dConfig {
    int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
    int groups = 1;
};

// x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O) or empty. Returns (N, O, Ho, Wo).
Array conv2d_forward(const Array& x, const Array& weight, const Array& bias, const Conv2dConfig& c);

struct Conv2dGrads {
    Array dx, dweight, dbias;  // dbias: (O), always computed
};
Conv2dGrads conv2d_backward(const Array& dy,
                            const Array& x,
                            const Array& weight,
                            const Conv2dConfig& c);

}  // namespace wtconv::ref
