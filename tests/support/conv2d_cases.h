#pragma once
// conv2d test cases shared by the CPU and CUDA suites: a case (shapes, params, dtype), the edge
// shapes every backend must get right, seeded random configurations, random inputs and the
// double reference's answer.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <wtconv/ops/conv2d.h>

#include "reference/conv2d_ref.h"

namespace wtconv::test {

struct Conv2dCase {
    std::int64_t n = 1, c = 1, h = 1, w = 1, o = 1;
    int kh = 1, kw = 1;
    Conv2dParams params;  // algo and allow_tf32 included
    DType dtype = DType::kFloat64;
    int threads = 2;  // CPU only
    std::uint64_t seed = 1;

    Shape x_shape() const { return Shape{n, c, h, w}; }
    Shape weight_shape() const { return Shape{o, c / params.groups, kh, kw}; }
};

// One line that reproduces the case (seed included), for failure messages.
std::string describe(const Conv2dCase& tc);
void PrintTo(const Conv2dCase& tc, std::ostream* os);  // gtest prints a case as describe()
// A gtest-safe name: shapes, params, dtype.
std::string case_label(const Conv2dCase& tc);

Conv2dCase make_case(std::int64_t n,
                     std::int64_t c,
                     std::int64_t h,
                     std::int64_t w,
                     std::int64_t o,
                     int kh,
                     int kw,
                     int s,
                     int pad,
                     int dil,
                     int groups,
                     bool bias);

// Hand-picked shapes: 1-pixel images, kernels that exactly fit, one-sided padding, stride larger
// than the kernel (unused rows), depthwise with multipliers, pointwise, and chunked images.
std::vector<Conv2dCase> edge_shapes();

// count (after random_case_count) seeded configurations: sizes 1-23, kernels 1-7, stride 1-3,
// padding 0-3, dilation 1-2, groups dividing both channel counts; empty outputs drawn again.
// Dtype, threads and seed are left for the caller.
std::vector<Conv2dCase> random_shapes(int count, std::uint64_t seed);

struct Conv2dInputs {
    Tensor x, dy;
    Conv2dWeights w;
};
// N(0, 1) inputs of the case's dtype on device, from tc.seed.
Conv2dInputs random_inputs(const Conv2dCase& tc, Device device = Device::cpu());

// The double reference on the same (already rounded) inputs.
struct Conv2dExpected {
    ref::Array y;
    ref::Conv2dGrads grads;
};
Conv2dExpected reference_conv2d(const Conv2dCase& tc, const Conv2dInputs& in);

}  // namespace wtconv::test
