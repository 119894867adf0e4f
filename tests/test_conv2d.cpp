// test_conv2d: the CPU img2col conv2d against the double reference on edge shapes and seeded
// random configurations (forward, dx, dweight, dbias, 1-3 threads), the reference against
// finite differences, the library's adjoint identities, repeatability, and bad input.
#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include <wtconv/ops/conv2d.h>

#include "reference/conv2d_ref.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {
namespace {

struct Conv2dCase {
    std::int64_t n = 1, c = 1, h = 1, w = 1, o = 1;
    int kh = 1, kw = 1;
    Conv2dParams params;
    DType dtype = DType::kFloat64;
    int threads = 2;
    std::uint64_t seed = 1;

    Shape x_shape() const { return Shape{n, c, h, w}; }
    Shape weight_shape() const { return Shape{o, c / params.groups, kh, kw}; }
};

std::string describe(const Conv2dCase& tc) {
    const Conv2dParams& p = tc.params;
    std::ostringstream out;
    out << "WTCONV_TEST_SEED=" << test_seed() << " conv2d x(" << tc.n << "," << tc.c << "," << tc.h
        << "," << tc.w << ") o" << tc.o << " k" << tc.kh << "x" << tc.kw << " s" << p.stride_h
        << "," << p.stride_w << " p" << p.pad_h << "," << p.pad_w << " d" << p.dilation_h << ","
        << p.dilation_w << " g" << p.groups << (p.bias ? " bias" : "") << " "
        << dtype_name(tc.dtype) << " threads " << tc.threads << " seed " << tc.seed;
    return out.str();
}
void PrintTo(const Conv2dCase& tc, std::ostream* os) {
    *os << describe(tc);
}

ref::Conv2dConfig to_ref_config(const Conv2dParams& p) {
    return ref::Conv2dConfig{p.stride_h,   p.stride_w,   p.pad_h, p.pad_w,
                             p.dilation_h, p.dilation_w, p.groups};
}

// float64: the GEMM and the reference order the same sums differently, a few ulps. float32: K
// products summed in float32 (K <= a few hundred here) stay within ~1e-6; 1e-5 as for WTConv.
double tolerance(DType dtype) {
    return dtype == DType::kFloat64 ? 1e-12 : 1e-5;
}

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
                     bool bias) {
    Conv2dCase tc;
    tc.n = n;
    tc.c = c;
    tc.h = h;
    tc.w = w;
    tc.o = o;
    tc.kh = kh;
    tc.kw = kw;
    tc.params.stride_h = tc.params.stride_w = s;
    tc.params.pad_h = tc.params.pad_w = pad;
    tc.params.dilation_h = tc.params.dilation_w = dil;
    tc.params.groups = groups;
    tc.params.bias = bias;
    return tc;
}

// Hand-picked shapes: 1-pixel images, kernels that exactly fit, one-sided padding, stride larger
// than the kernel (unused rows), depthwise with multipliers, pointwise, and chunked images.
std::vector<Conv2dCase> edge_cases() {
    std::vector<Conv2dCase> cases{
        make_case(1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, false),     // one pixel, 1x1
        make_case(2, 2, 1, 1, 3, 3, 3, 1, 1, 1, 1, true),      // one pixel, 3x3 padded
        make_case(1, 2, 5, 5, 2, 5, 5, 1, 0, 1, 1, true),      // kernel fits exactly: 1x1 out
        make_case(2, 3, 9, 9, 4, 2, 2, 4, 0, 1, 1, true),      // stride > kernel: unused rows
        make_case(1, 4, 7, 6, 8, 3, 3, 1, 1, 1, 4, true),      // depthwise, multiplier 2
        make_case(2, 6, 5, 5, 6, 3, 3, 2, 1, 1, 6, false),     // depthwise, stride 2
        make_case(2, 6, 8, 8, 4, 1, 1, 1, 0, 1, 2, true),      // pointwise, grouped
        make_case(3, 16, 6, 9, 8, 1, 1, 1, 0, 1, 1, false),    // pointwise
        make_case(1, 3, 11, 13, 2, 3, 5, 2, 2, 2, 1, true),    // dilated, padded
        make_case(1, 64, 40, 40, 8, 3, 3, 1, 1, 1, 1, true),   // one image, several chunks
        make_case(4, 32, 20, 20, 16, 3, 3, 1, 1, 1, 1, true),  // several chunks per image
        make_case(1, 128, 9, 9, 4, 1, 1, 1, 0, 1, 1, true),    // pointwise, one image
    };
    Conv2dCase one_sided = make_case(2, 2, 9, 9, 3, 3, 3, 1, 0, 1, 1, true);
    one_sided.params.pad_h = 2;  // (2, 0): the seed's empty-slice bug
    cases.push_back(one_sided);
    Conv2dCase other_side = make_case(1, 3, 8, 10, 2, 3, 3, 1, 0, 1, 1, true);
    other_side.params.pad_w = 3;
    cases.push_back(other_side);
    Conv2dCase anisotropic = make_case(3, 2, 6, 5, 3, 3, 2, 1, 0, 1, 1, true);
    anisotropic.params.stride_w = 2;
    anisotropic.params.pad_h = 1;
    anisotropic.params.dilation_w = 2;
    cases.push_back(anisotropic);
    std::vector<Conv2dCase> out;
    std::uint64_t seed = 100;
    for (Conv2dCase tc : cases) {
        for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
            for (const int threads : {1, 2, 3}) {
                tc.dtype = dtype;
                tc.threads = threads;
                tc.seed = seed++;
                out.push_back(tc);
            }
        }
    }
    return out;
}

// Seeded random configurations: sizes 1-23, kernels 1-7, stride 1-3, padding 0-3, dilation 1-2,
// groups dividing both channel counts; shapes whose output would be empty are drawn again.
std::vector<Conv2dCase> random_cases(int count) {
    count = random_case_count(count);
    Rng rng(test_seed() + 5);
    std::vector<Conv2dCase> cases;
    while (static_cast<int>(cases.size()) < count) {
        const int groups = rng.uniform_int(1, 4) == 4 ? rng.uniform_int(2, 4) : 1;
        Conv2dCase tc =
            make_case(rng.uniform_int(1, 3), groups * rng.uniform_int(1, 4), rng.uniform_int(1, 23),
                      rng.uniform_int(1, 23), groups * rng.uniform_int(1, 4), rng.uniform_int(1, 7),
                      rng.uniform_int(1, 7), 1, 0, 1, groups, rng.uniform_int(0, 1) == 1);
        Conv2dParams& p = tc.params;
        p.stride_h = rng.uniform_int(1, 3);
        p.stride_w = rng.uniform_int(1, 3);
        p.pad_h = rng.uniform_int(0, 3);
        p.pad_w = rng.uniform_int(0, 3);
        p.dilation_h = rng.uniform_int(1, 2);
        p.dilation_w = rng.uniform_int(1, 2);
        if (tc.h + 2 * p.pad_h < p.dilation_h * (tc.kh - 1) + 1 ||
            tc.w + 2 * p.pad_w < p.dilation_w * (tc.kw - 1) + 1) {
            continue;
        }
        tc.dtype = cases.size() % 2 == 0 ? DType::kFloat64 : DType::kFloat32;
        tc.threads = rng.uniform_int(1, 3);
        tc.seed = rng.next();
        cases.push_back(tc);
    }
    return cases;
}

struct Conv2dInputs {
    Tensor x, dy;
    Conv2dWeights w;
};

Conv2dInputs random_inputs(const Conv2dCase& tc) {
    Rng rng(tc.seed);
    Conv2dInputs in;
    in.x = random_normal(rng, tc.x_shape(), tc.dtype);
    in.w.weight = random_normal(rng, tc.weight_shape(), tc.dtype);
    if (tc.params.bias) {
        in.w.bias = random_normal(rng, Shape{tc.o}, tc.dtype);
    }
    in.dy = random_normal(rng, conv2d_output_shape(tc.x_shape(), tc.weight_shape(), tc.params),
                          tc.dtype);
    return in;
}

Context test_context(int threads) {
    ContextOptions options;
    options.num_threads = threads;
    options.poison_outputs = true;
    return Context(Device::cpu(), options);
}

class Conv2dAgainstReference : public testing::TestWithParam<Conv2dCase> {};

TEST_P(Conv2dAgainstReference, ForwardAndEveryGradientMatch) {
    const Conv2dCase& tc = GetParam();
    const Conv2dInputs in = random_inputs(tc);
    Context ctx = test_context(tc.threads);
    Conv2dSaved saved;
    const Tensor y = conv2d_forward(ctx, in.x, in.w, tc.params, &saved);
    const Conv2dGrads g = conv2d_backward(ctx, in.dy, in.w, tc.params, saved);

    const ref::Conv2dConfig cfg = to_ref_config(tc.params);
    const ref::Array bias = tc.params.bias ? to_ref(in.w.bias) : ref::Array();
    const ref::Array want_y = ref::conv2d_forward(to_ref(in.x), to_ref(in.w.weight), bias, cfg);
    const ref::Conv2dGrads want =
        ref::conv2d_backward(to_ref(in.dy), to_ref(in.x), to_ref(in.w.weight), cfg);
    const double tol = tolerance(tc.dtype);
    EXPECT_LT(rel_l2_error(y, want_y), tol) << "y, " << describe(tc);
    EXPECT_LT(rel_l2_error(g.dx, want.dx), tol) << "dx, " << describe(tc);
    EXPECT_LT(rel_l2_error(g.dweights.weight, want.dweight), tol) << "dweight, " << describe(tc);
    if (tc.params.bias) {
        EXPECT_LT(rel_l2_error(g.dweights.bias, want.dbias), tol) << "dbias, " << describe(tc);
    } else {
        EXPECT_FALSE(g.dweights.bias.defined()) << describe(tc);
    }
}

std::string case_name(const testing::TestParamInfo<Conv2dCase>& info) {
    const Conv2dCase& tc = info.param;
    const Conv2dParams& p = tc.params;
    std::ostringstream out;
    out << info.index << "_n" << tc.n << "c" << tc.c << "_" << tc.h << "x" << tc.w << "_o" << tc.o
        << "_k" << tc.kh << "x" << tc.kw << "_s" << p.stride_h << p.stride_w << "_p" << p.pad_h
        << p.pad_w << "_d" << p.dilation_h << p.dilation_w << "_g" << p.groups
        << (p.bias ? "_b" : "") << (tc.dtype == DType::kFloat64 ? "_f64" : "_f32") << "_t"
        << tc.threads;
    return out.str();
}

INSTANTIATE_TEST_SUITE_P(Edge, Conv2dAgainstReference, testing::ValuesIn(edge_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Random,
                         Conv2dAgainstReference,
                         testing::ValuesIn(random_cases(300)),
                         case_name);

}  // namespace
}  // namespace wtconv::test
