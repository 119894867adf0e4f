// conv2d test cases shared by the CPU and CUDA suites (support/conv2d_cases.h).
#include "support/conv2d_cases.h"

#include <sstream>

#include "support/test_support.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {

std::string describe(const Conv2dCase& tc) {
    const Conv2dParams& p = tc.params;
    std::ostringstream out;
    out << "WTCONV_TEST_SEED=" << test_seed() << " conv2d x(" << tc.n << "," << tc.c << "," << tc.h
        << "," << tc.w << ") o" << tc.o << " k" << tc.kh << "x" << tc.kw << " s" << p.stride_h
        << "," << p.stride_w << " p" << p.pad_h << "," << p.pad_w << " d" << p.dilation_h << ","
        << p.dilation_w << " g" << p.groups << (p.bias ? " bias" : "") << " "
        << dtype_name(tc.dtype) << (p.allow_tf32 ? " tf32" : "") << " algo "
        << conv2d_algo_name(p.algo) << " threads " << tc.threads << " seed " << tc.seed;
    return out.str();
}

void PrintTo(const Conv2dCase& tc, std::ostream* os) {
    *os << describe(tc);
}

std::string case_label(const Conv2dCase& tc) {
    const Conv2dParams& p = tc.params;
    std::ostringstream out;
    out << "n" << tc.n << "c" << tc.c << "_" << tc.h << "x" << tc.w << "_o" << tc.o << "_k" << tc.kh
        << "x" << tc.kw << "_s" << p.stride_h << p.stride_w << "_p" << p.pad_h << p.pad_w << "_d"
        << p.dilation_h << p.dilation_w << "_g" << p.groups << (p.bias ? "_b" : "") << "_"
        << dtype_name(tc.dtype) << (p.allow_tf32 ? "_tf32" : "");
    return out.str();
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

std::vector<Conv2dCase> edge_shapes() {
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
        make_case(2, 3, 33, 31, 70, 7, 7, 2, 3, 1, 1, true),   // stem-like, odd O past a tile
        make_case(2, 40, 9, 7, 136, 3, 3, 1, 1, 1, 1, false),  // O past two 64-row tiles
        // Deep and small: one output tile, K long enough for the implicit GEMM to split it.
        make_case(1, 96, 6, 5, 40, 3, 3, 1, 1, 1, 1, true),
        make_case(2, 130, 5, 5, 48, 3, 3, 1, 1, 1, 2, false),  // grouped, split past a K tile
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
    return cases;
}

std::vector<Conv2dCase> random_shapes(int count, std::uint64_t seed) {
    count = random_case_count(count);
    Rng rng(seed);
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
        tc.seed = rng.next();
        tc.threads = rng.uniform_int(1, 3);
        cases.push_back(tc);
    }
    return cases;
}

Conv2dInputs random_inputs(const Conv2dCase& tc, Device device) {
    Rng rng(tc.seed);
    Conv2dInputs in;
    in.x = random_normal(rng, tc.x_shape(), tc.dtype, device);
    in.w.weight = random_normal(rng, tc.weight_shape(), tc.dtype, device);
    if (tc.params.bias) {
        in.w.bias = random_normal(rng, Shape{tc.o}, tc.dtype, device);
    }
    in.dy = random_normal(rng, conv2d_output_shape(tc.x_shape(), tc.weight_shape(), tc.params),
                          tc.dtype, device);
    return in;
}

Conv2dExpected reference_conv2d(const Conv2dCase& tc, const Conv2dInputs& in) {
    const Conv2dParams& p = tc.params;
    const ref::Conv2dConfig cfg{p.stride_h,   p.stride_w,   p.pad_h, p.pad_w,
                                p.dilation_h, p.dilation_w, p.groups};
    const ref::Array bias = p.bias ? to_ref(in.w.bias) : ref::Array();
    Conv2dExpected e;
    e.y = ref::conv2d_forward(to_ref(in.x), to_ref(in.w.weight), bias, cfg);
    e.grads = ref::conv2d_backward(to_ref(in.dy), to_ref(in.x), to_ref(in.w.weight), cfg);
    return e;
}

}  // namespace wtconv::test
