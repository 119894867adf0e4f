// Independent reference for int8 conv2d (COMPRESSION.md 3.5): the integer convolution by its
// definition, and the float32 quantisation steps written out with explicit float temporaries.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/conv2d_ref.h"

namespace wtconv::ref {

struct QuantRef {
    float scale;
    int zero_point, quant_min, quant_max;
};

// q = clamp(rne(fl32(x fl32(1/s))) + z, qmin, qmax).
int quantize_ref(float x, const QuantRef& q);

struct Int8ConvRef {
    std::vector<int64_t> x_shape, w_shape;  // (N, C, H, W), (O, C/g, kh, kw)
    std::vector<int> x_q, w_q;              // uint8 and int8 values
    std::vector<float> w_scale, bias;       // (O); bias empty when absent
    Conv2dConfig cfg;
    QuantRef input, output;
    bool relu = false;
};

// The uint8 output values, (N, O, Ho, Wo) row-major.
std::vector<int> conv2d_int8_ref(const Int8ConvRef& c);

}  // namespace wtconv::ref
