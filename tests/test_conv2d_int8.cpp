// int8 conv2d: both products (VNNI where present, portable) equal the reference exactly on edge
// and random shapes; activation and weight quantisation round ties to even; the int8 conv equals
// the fake-quantised float model within one output step; bad input.
#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include <wtconv/ops/conv2d_int8.h>

#include "reference/conv2d_int8_ref.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {
namespace {

struct Int8Case {
    std::int64_t n, c, h, w, o;
    int kh, kw, stride, pad, dilation, groups;
    bool bias, relu;
    std::uint64_t seed;
};

std::string describe(const Int8Case& tc) {
    std::ostringstream out;
    out << "x(" << tc.n << "," << tc.c << "," << tc.h << "," << tc.w << ") o" << tc.o << " k"
        << tc.kh << "x" << tc.kw << " s" << tc.stride << " p" << tc.pad << " d" << tc.dilation
        << " g" << tc.groups << (tc.bias ? " bias" : "") << (tc.relu ? " relu" : "") << " seed "
        << tc.seed;
    return out.str();
}

void PrintTo(const Int8Case& tc, std::ostream* os) {
    *os << describe(tc);
}

std::vector<Int8Case> cases() {
    // O not a multiple of 8 and K not of 4 (the VNNI padding), pixels past 32 and 256 (blocks and
    // chunks), 1-pixel images with padding, depthwise, dilation, stride.
    std::vector<Int8Case> out{
        {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, false, false, 1},
        {2, 3, 1, 1, 5, 3, 3, 1, 1, 1, 1, true, false, 2},
        {2, 3, 17, 19, 13, 3, 3, 1, 1, 1, 1, true, true, 3},
        {1, 16, 23, 23, 9, 5, 3, 2, 2, 1, 1, true, false, 4},
        {3, 8, 9, 11, 16, 3, 3, 1, 2, 2, 2, false, false, 5},
        {2, 6, 12, 12, 12, 3, 3, 1, 1, 1, 6, true, true, 6},
        {1, 64, 20, 20, 24, 1, 1, 1, 0, 1, 1, true, false, 7},
        {1, 7, 40, 37, 3, 7, 7, 2, 3, 1, 1, true, false, 8},
    };
    Rng rng(test_seed() + 8);
    const int count = random_case_count(60);
    while (static_cast<int>(out.size()) < count + 8) {
        Int8Case tc{};
        tc.groups = rng.uniform_int(1, 4) == 4 ? 2 : 1;
        tc.n = rng.uniform_int(1, 3);
        tc.c = tc.groups * rng.uniform_int(1, 12);
        tc.o = tc.groups * rng.uniform_int(1, 12);
        tc.h = rng.uniform_int(1, 30);
        tc.w = rng.uniform_int(1, 30);
        tc.kh = rng.uniform_int(1, 5);
        tc.kw = rng.uniform_int(1, 5);
        tc.stride = rng.uniform_int(1, 3);
        tc.pad = rng.uniform_int(0, 2);
        tc.dilation = rng.uniform_int(1, 2);
        tc.bias = rng.uniform_int(0, 1) == 1;
        tc.relu = rng.uniform_int(0, 3) == 0;
        tc.seed = rng.next();
        if (tc.h + 2 * tc.pad >= tc.dilation * (tc.kh - 1) + 1 &&
            tc.w + 2 * tc.pad >= tc.dilation * (tc.kw - 1) + 1) {
            out.push_back(tc);
        }
    }
    return out;
}

struct Int8Problem {
    Tensor x_q;
    Conv2dInt8Weights w;
    Conv2dInt8Params p;
    ref::Int8ConvRef r;
};

// Uniform random uint8 inputs and int8 weights over their whole ranges, scales that keep the
// output inside its range for most elements (both clamps still occur).
Int8Problem make_problem(const Int8Case& tc) {
    Rng rng(tc.seed);
    Int8Problem pr;
    pr.p.conv.stride_h = pr.p.conv.stride_w = tc.stride;
    pr.p.conv.pad_h = pr.p.conv.pad_w = tc.pad;
    pr.p.conv.dilation_h = pr.p.conv.dilation_w = tc.dilation;
    pr.p.conv.groups = tc.groups;
    pr.p.conv.bias = tc.bias;
    pr.p.relu = tc.relu;
    pr.p.input = ActivationQuant{0.02f, rng.uniform_int(0, 255), 0, 255};
    const std::int64_t taps = tc.c / tc.groups * tc.kh * tc.kw;
    pr.p.output = ActivationQuant{0.02f * 0.01f * 40.0f * std::sqrt(float(taps)),
                                  rng.uniform_int(60, 190), 0, 255};
    std::vector<std::uint8_t> x(static_cast<std::size_t>(tc.n * tc.c * tc.h * tc.w));
    for (auto& v : x) {
        v = static_cast<std::uint8_t>(rng.uniform_int(0, 255));
    }
    std::vector<std::int8_t> wq(static_cast<std::size_t>(tc.o * taps));
    for (auto& v : wq) {
        v = static_cast<std::int8_t>(rng.uniform_int(-128, 127));
    }
    std::vector<float> scale(static_cast<std::size_t>(tc.o));
    std::vector<float> bias(static_cast<std::size_t>(tc.o));
    for (std::size_t i = 0; i < scale.size(); ++i) {
        scale[i] = 0.01f * (0.5f + static_cast<float>(rng.uniform_int(0, 100)) / 100.0f);
        bias[i] = static_cast<float>(rng.normal());
    }
    pr.x_q = Tensor::from_vector(x, Shape{tc.n, tc.c, tc.h, tc.w});
    pr.w.weight = Tensor::from_vector(wq, Shape{tc.o, tc.c / tc.groups, tc.kh, tc.kw});
    pr.w.weight_scale = Tensor::from_vector(scale, Shape{tc.o});
    if (tc.bias) {
        pr.w.bias = Tensor::from_vector(bias, Shape{tc.o});
        pr.r.bias = bias;
    }
    pr.r.x_shape = pr.x_q.shape().sizes();
    pr.r.w_shape = pr.w.weight.shape().sizes();
    pr.r.x_q.assign(x.begin(), x.end());
    pr.r.w_q.assign(wq.begin(), wq.end());
    pr.r.w_scale = scale;
    pr.r.cfg = ref::Conv2dConfig{tc.stride,   tc.stride,   tc.pad,   tc.pad,
                                 tc.dilation, tc.dilation, tc.groups};
    pr.r.input = {pr.p.input.scale, pr.p.input.zero_point, 0, 255};
    pr.r.output = {pr.p.output.scale, pr.p.output.zero_point, 0, 255};
    pr.r.relu = tc.relu;
    return pr;
}

std::vector<Conv2dInt8Algo> algos_here() {
    std::vector<Conv2dInt8Algo> algos{Conv2dInt8Algo::kPortable};
    for (const Conv2dInt8Algo algo :
         {Conv2dInt8Algo::kVnni, Conv2dInt8Algo::kAvx2, Conv2dInt8Algo::kAmx}) {
        if (conv2d_int8_supports(algo)) {
            algos.push_back(algo);
        }
    }
    return algos;
}

// kAuto takes the most capable product this build and CPU have: AMX, VNNI, AVX2, then loops.
TEST(Conv2dInt8Algos, AutoIsTheBestSupportedCpuProduct) {
    Conv2dInt8Algo want = Conv2dInt8Algo::kPortable;
    for (const Conv2dInt8Algo algo :
         {Conv2dInt8Algo::kAvx2, Conv2dInt8Algo::kVnni, Conv2dInt8Algo::kAmx}) {
        if (conv2d_int8_supports(algo)) {
            want = algo;
        }
    }
    EXPECT_EQ(conv2d_int8_auto_algo(), want) << conv2d_int8_algo_name(conv2d_int8_auto_algo());
    EXPECT_EQ(conv2d_int8_auto_algo(Device::cpu()), want);
}

class Conv2dInt8AgainstReference : public testing::TestWithParam<Int8Case> {};

TEST_P(Conv2dInt8AgainstReference, EveryOutputEqualsTheReference) {
    const Int8Case& tc = GetParam();
    Int8Problem pr = make_problem(tc);
    const std::vector<int> want = ref::conv2d_int8_ref(pr.r);
    int clamped = 0;
    for (const int v : want) {
        clamped += v == 0 || v == 255;
    }
    if (want.size() >= 8) {  // a single output may well clamp; a whole layer must not
        EXPECT_LT(clamped, static_cast<int>(want.size())) << "all clamped: " << describe(tc);
    }
    for (const Conv2dInt8Algo algo : algos_here()) {
        for (const int threads : {1, 2}) {
            ContextOptions options;
            options.num_threads = threads;
            options.poison_outputs = true;
            Context ctx(Device::cpu(), options);
            pr.p.algo = algo;
            const std::vector<double> got =
                conv2d_int8_forward(ctx, pr.x_q, pr.w, pr.p).to_vector();
            ASSERT_EQ(got.size(), want.size());
            std::size_t wrong = 0;
            for (std::size_t i = 0; i < got.size(); ++i) {
                wrong += got[i] != want[i];
            }
            EXPECT_EQ(wrong, 0u) << conv2d_int8_algo_name(algo) << ", " << threads << " threads, "
                                 << describe(tc);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Cases,
                         Conv2dInt8AgainstReference,
                         testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Int8Case>& param) {
                             return "case" + std::to_string(param.index);
                         });

TEST(Conv2dInt8Quantize, ActivationsRoundTiesToEvenAndClamp) {
    Context ctx;
    const ActivationQuant q{0.5f, 10, 0, 255};
    // t = x / 0.5: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2, 2.5 -> 2; then + 10, clamped to [0, 255].
    const Tensor x = Tensor::from_vector(
        std::vector<float>{0.25f, 0.75f, -1.25f, 1.25f, -100.0f, 1000.0f, NAN}, {7});
    EXPECT_EQ(quantize_activation(ctx, x, q).to_vector(),
              (std::vector<double>{10, 12, 8, 12, 0, 255, 10}));
    const Tensor back = dequantize_activation(ctx, quantize_activation(ctx, x, q), q);
    EXPECT_EQ(back.to_vector(), (std::vector<double>{0, 1, -1, 1, -5, 122.5, 0}));
}

TEST(Conv2dInt8Quantize, WeightsAreSymmetricPerOutputChannel) {
    Conv2dWeights w{
        Tensor::from_vector(
            std::vector<float>{0.5f, 1.5f, -2.5f, 300.0f, 0.1f, -0.1f, -0.3f, 0.25f}, {2, 1, 2, 2}),
        Tensor()};
    const Tensor scale = Tensor::from_vector(std::vector<float>{1.0f, 0.1f}, {2});
    const Conv2dInt8Weights q = quantize_conv2d_weights(w, scale);
    // Channel 0: ties to even, 300 clamps to 127; channel 1: w / 0.1 in float32.
    EXPECT_EQ(q.weight.to_vector(), (std::vector<double>{0, 2, -2, 127, 1, -1, -3, 2}));
    EXPECT_EQ(q.weight.dtype(), DType::kInt8);
}

// The claim: the int8 layer computes what the fake-quantised float layer computes,
// within one output quantisation step (the float conv rounds its sums in float32).
TEST(Conv2dInt8Quantize, MatchesTheFakeQuantisedFloatConvWithinOneStep) {
    Rng rng(21);
    Context ctx;
    const Int8Case tc{2, 8, 15, 13, 12, 3, 3, 1, 1, 1, 1, true, false, 99};
    Int8Problem pr = make_problem(tc);
    const Tensor x = random_normal(rng, pr.x_q.shape(), DType::kFloat32);
    const Tensor x_q = quantize_activation(ctx, x, pr.p.input);
    // The fake-quantised model: dequantised input and weights through the float conv, then the
    // output quantised with the same parameters.
    const Tensor x_fq = dequantize_activation(ctx, x_q, pr.p.input);
    std::vector<double> w_fq = pr.w.weight.to_vector();
    const std::vector<double> s = pr.w.weight_scale.to_vector();
    const std::size_t per = w_fq.size() / s.size();
    for (std::size_t i = 0; i < w_fq.size(); ++i) {
        w_fq[i] *= s[i / per];
    }
    Conv2dWeights fw{Tensor::from_vector(w_fq, pr.w.weight.shape()).to(DType::kFloat32), pr.w.bias};
    const Tensor y_float = conv2d_forward(ctx, x_fq, fw, pr.p.conv);
    const std::vector<double> want = quantize_activation(ctx, y_float, pr.p.output).to_vector();
    const std::vector<double> got = conv2d_int8_forward(ctx, x_q, pr.w, pr.p).to_vector();
    int off_by_one = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_LE(std::abs(got[i] - want[i]), 1.0) << "element " << i;
        off_by_one += got[i] != want[i];
    }
    EXPECT_LT(off_by_one, static_cast<int>(got.size()) / 10) << "mostly identical";
}

TEST(Conv2dInt8BadInput, NamesTheArgument) {
    Context ctx;
    Int8Problem pr = make_problem({1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, true, false, 1});
    expect_error_all([&] { conv2d_int8_forward(ctx, pr.x_q.to(DType::kFloat32), pr.w, pr.p); },
                     ErrorCode::kBadArgument, {"x_q", "uint8", "float32"});
    Conv2dInt8Params bad = pr.p;
    bad.input.scale = 0.0f;
    expect_error_all([&] { conv2d_int8_forward(ctx, pr.x_q, pr.w, bad); }, ErrorCode::kBadArgument,
                     {"params.input.scale", "> 0", "got 0"});
    bad = pr.p;
    bad.output.zero_point = 300;
    expect_error_all([&] { conv2d_int8_forward(ctx, pr.x_q, pr.w, bad); }, ErrorCode::kBadArgument,
                     {"params.output.zero_point", "[0, 255]", "300"});
    bad = pr.p;
    bad.conv.bias = false;
    expect_error_all([&] { conv2d_int8_forward(ctx, pr.x_q, pr.w, bad); }, ErrorCode::kBadArgument,
                     {"bias must be undefined"});
    Conv2dInt8Weights w = pr.w;
    w.weight_scale = Tensor::full({2}, 1.0, DType::kFloat32);
    expect_error_all([&] { conv2d_int8_forward(ctx, pr.x_q, w, pr.p); }, ErrorCode::kBadArgument,
                     {"weight_scale", "(3,)", "(2,)"});
    expect_error_all(
        [&] {
            quantize_conv2d_weights(
                Conv2dWeights{Tensor::full({3, 2, 3, 3}, 1.0, DType::kFloat32), Tensor()},
                Tensor::full({3}, -1.0, DType::kFloat32));
        },
        ErrorCode::kBadArgument, {"weight_scale entries", "> 0", "-1"});
    if (!conv2d_int8_supports(Conv2dInt8Algo::kVnni)) {
        bad = pr.p;
        bad.algo = Conv2dInt8Algo::kVnni;
        expect_error([&] { conv2d_int8_forward(ctx, pr.x_q, pr.w, bad); }, ErrorCode::kNotSupported,
                     "needs AVX-512 VNNI");
    }
    if (!conv2d_int8_supports(Conv2dInt8Algo::kAvx2)) {
        bad = pr.p;
        bad.algo = Conv2dInt8Algo::kAvx2;
        expect_error([&] { conv2d_int8_forward(ctx, pr.x_q, pr.w, bad); }, ErrorCode::kNotSupported,
                     "needs AVX2");
    }
    if (!conv2d_int8_supports(Conv2dInt8Algo::kAmx)) {
        bad = pr.p;
        bad.algo = Conv2dInt8Algo::kAmx;
        expect_error([&] { conv2d_int8_forward(ctx, pr.x_q, pr.w, bad); }, ErrorCode::kNotSupported,
                     "needs AMX-INT8");
    }
}

}  // namespace
}  // namespace wtconv::test
