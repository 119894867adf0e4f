// test_conv2d_int8_cuda: the CUDA int8 conv (Conv2dInt8Algo::kDp4a) equals the CPU's portable
// kernel and the integer reference byte for byte, on edge shapes and seeded random ones, every run
// with poisoned outputs; quantize/dequantize on CUDA equal the CPU's bit for bit; device and algo
// mismatches throw. Tests that touch the GPU skip without one.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <wtconv/ops/conv2d_int8.h>

#include "reference/conv2d_int8_ref.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

struct Int8CudaCase {
    std::int64_t n, c, h, w, o;
    int kh, kw, sh, sw, ph, pw, dh, dw, groups;
    bool bias, relu;
    int in_min, in_max, out_min, out_max;  // quant ranges; scales and zero points come from seed
    bool ties;  // power-of-two scales and small values: requantisation lands on midpoints
    std::uint64_t seed;
};

std::string describe(const Int8CudaCase& tc) {
    std::ostringstream s;
    s << "x(" << tc.n << "," << tc.c << "," << tc.h << "," << tc.w << ") o" << tc.o << " k" << tc.kh
      << "x" << tc.kw << " s" << tc.sh << "," << tc.sw << " p" << tc.ph << "," << tc.pw << " d"
      << tc.dh << "," << tc.dw << " g" << tc.groups << (tc.bias ? " bias" : "")
      << (tc.relu ? " relu" : "") << " in[" << tc.in_min << "," << tc.in_max << "] out["
      << tc.out_min << "," << tc.out_max << "]" << (tc.ties ? " ties" : "") << " seed " << tc.seed;
    return s.str();
}
void PrintTo(const Int8CudaCase& tc, std::ostream* os) {
    *os << describe(tc);
}

std::int64_t out_size(std::int64_t n, int k, int s, int p, int d) {
    return (n + 2 * p - d * (k - 1) - 1) / s + 1;
}
std::int64_t macs(const Int8CudaCase& tc) {
    return tc.n * tc.o * out_size(tc.h, tc.kh, tc.sh, tc.ph, tc.dh) *
           out_size(tc.w, tc.kw, tc.sw, tc.pw, tc.dw) * (tc.c / tc.groups) * tc.kh * tc.kw;
}

Int8CudaCase square(std::int64_t n,
                    std::int64_t c,
                    std::int64_t h,
                    std::int64_t w,
                    std::int64_t o,
                    int k,
                    int s,
                    int p,
                    int d,
                    int groups,
                    bool bias,
                    bool relu,
                    std::uint64_t seed) {
    return Int8CudaCase{n, c, h,      w,    o,    k, k,   s, s,   p,     p,
                        d, d, groups, bias, relu, 0, 255, 0, 255, false, seed};
}

// What each shape targets is noted for an H100 (132 SMs): the tile size and the K split depend
// on the SM count, so on another GPU a few move between paths (every path stays covered).
std::vector<Int8CudaCase> edge_cases() {
    std::vector<Int8CudaCase> v{
        square(1, 1, 1, 1, 1, 1, 1, 0, 1, 1, false, false, 1),     // one output, K one word
        square(2, 3, 1, 1, 5, 3, 1, 1, 1, 1, true, false, 2),      // 1-pixel image, all padding
        square(1, 4, 5, 5, 3, 5, 1, 0, 1, 1, true, true, 3),       // kernel fits exactly: 1x1 out
        square(2, 3, 11, 11, 4, 2, 3, 0, 1, 1, true, false, 4),    // stride 3 > kernel 2
        square(2, 6, 9, 9, 12, 3, 1, 1, 1, 6, true, true, 5),      // depthwise, multiplier 2
        square(1, 40, 6, 7, 40, 3, 2, 1, 1, 40, false, false, 6),  // depthwise, 40 groups
        square(2, 64, 10, 10, 24, 1, 1, 0, 1, 1, true, false, 7),  // pointwise, channel gather
        square(1, 64, 9, 9, 80, 3, 1, 1, 1, 2, true, true, 8),     // 2 groups of 32: channel gather
        square(1, 30, 9, 9, 16, 3, 1, 1, 1, 1, false, false, 9),   // Cg 30: last quad half padding
        square(2, 64, 7, 7, 64, 3, 1, 1, 1, 1, true, false, 10),   // long K at few tiles: split
        square(1, 5, 8, 8, 3, 3, 1, 2, 2, 1, true, false, 11),     // dilation 2
        square(3, 7, 40, 37, 70, 7, 2, 3, 1, 1, true, false, 12),  // 7x7 stride 2, Og > 64
        // 512 channels at 7x7 (ResNet's last stage): Ho Wo odd, K split 16 ways.
        square(4, 512, 7, 7, 512, 3, 1, 1, 1, 1, true, true, 13),
        // Enough pixel tiles for 128-row tiles: channel gather, and the stem's generic one.
        square(2, 32, 96, 96, 256, 3, 1, 1, 1, 1, true, false, 14),
        square(3, 3, 224, 224, 128, 7, 2, 3, 1, 1, true, true, 15),
    };
    // Rectangular: every axis its own kernel, stride, padding and dilation.
    v.push_back(
        {2, 5, 17, 19, 13, 3, 5, 2, 1, 1, 2, 1, 3, 1, true, false, 0, 255, 0, 255, false, 16});
    v.push_back(
        {1, 8, 1, 23, 10, 1, 4, 1, 2, 0, 1, 1, 2, 2, false, true, 0, 255, 0, 255, false, 17});
    // Reduced ranges (PyTorch's reduce_range 0..127) and a quant_min above 0, relu on and off.
    Int8CudaCase r = square(2, 16, 12, 12, 20, 3, 1, 1, 1, 1, true, true, 18);
    r.in_max = r.out_max = 127;
    v.push_back(r);
    r.relu = false;
    r.seed = 19;
    v.push_back(r);
    r = square(1, 33, 13, 11, 65, 3, 1, 1, 1, 1, true, false, 20);
    r.in_min = 10;
    r.in_max = 200;
    r.out_min = 5;
    r.out_max = 250;
    v.push_back(r);
    // Exact midpoints: both rounding steps must tie to even, unfused.
    Int8CudaCase t = square(2, 2, 9, 9, 6, 3, 1, 1, 1, 1, true, false, 21);
    t.ties = true;
    v.push_back(t);
    t.bias = false;
    t.relu = true;
    t.seed = 22;
    v.push_back(t);
    return v;
}

// $WTCONV_CUDA_RANDOM_CASES (compute-sanitizer runs fewer), else $WTCONV_TEST_RANDOM_CASES, else
// 150; small enough that the integer reference judges every one.
std::vector<Int8CudaCase> random_cases() {
    const char* env = std::getenv("WTCONV_CUDA_RANDOM_CASES");
    const int count = env != nullptr && *env != '\0' ? std::atoi(env) : random_case_count(150);
    Rng rng(test_seed() + 0x1d8);
    // Cg values around the quad and 32-channel boundaries the gathers switch on.
    const int cgs[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 29, 31, 32, 33, 64};
    std::vector<Int8CudaCase> out;
    while (static_cast<int>(out.size()) < count) {
        Int8CudaCase tc = square(1, 1, 1, 1, 1, 1, 1, 0, 1, 1, false, false, 0);
        const int kind = rng.uniform_int(0, 9);
        tc.groups = kind < 6 ? 1 : kind < 8 ? rng.uniform_int(2, 3) : rng.uniform_int(2, 16);
        const int cg = kind >= 8 ? 1 : cgs[rng.uniform_int(0, 13)];
        tc.c = tc.groups * cg;
        tc.o = tc.groups * (kind >= 8 ? rng.uniform_int(1, 3) : rng.uniform_int(1, 80));
        tc.n = rng.uniform_int(1, 3);
        tc.h = rng.uniform_int(1, 24);
        tc.w = rng.uniform_int(1, 24);
        tc.kh = rng.uniform_int(1, 5);
        tc.kw = rng.uniform_int(1, 5);
        tc.sh = rng.uniform_int(1, 3);
        tc.sw = rng.uniform_int(1, 3);
        tc.ph = rng.uniform_int(0, 2);
        tc.pw = rng.uniform_int(0, 2);
        tc.dh = rng.uniform_int(1, 2);
        tc.dw = rng.uniform_int(1, 2);
        tc.bias = rng.uniform_int(0, 1) == 1;
        tc.relu = rng.uniform_int(0, 3) == 0;
        if (rng.uniform_int(0, 3) == 0) {
            tc.in_max = tc.out_max = 127;
        }
        tc.ties = rng.uniform_int(0, 9) == 0;
        tc.seed = rng.next();
        const bool fits = tc.h + 2 * tc.ph >= tc.dh * (tc.kh - 1) + 1 &&
                          tc.w + 2 * tc.pw >= tc.dw * (tc.kw - 1) + 1;
        if (fits && macs(tc) <= 20'000'000) {
            out.push_back(tc);
        }
    }
    return out;
}

struct Problem {
    Tensor x_q;  // host
    Conv2dInt8Weights w;
    Conv2dInt8Params p;
    ref::Int8ConvRef r;
};

// Uniform bytes over the input's range and int8 weights over theirs, the output scale set so
// most outputs land inside the range (both clamps still occur). ties: unit input and weight
// scales, an output scale of 2 and half-integer biases, small values around the zero point, so
// that t = acc / 2 + b / 2 hits .5 for half the outputs.
Problem make_problem(const Int8CudaCase& tc) {
    Rng rng(tc.seed);
    Problem pr;
    Conv2dParams& cp = pr.p.conv;
    cp.stride_h = tc.sh;
    cp.stride_w = tc.sw;
    cp.pad_h = tc.ph;
    cp.pad_w = tc.pw;
    cp.dilation_h = tc.dh;
    cp.dilation_w = tc.dw;
    cp.groups = tc.groups;
    cp.bias = tc.bias;
    pr.p.relu = tc.relu;
    const std::int64_t taps = tc.c / tc.groups * tc.kh * tc.kw;
    const int spread = tc.in_max - tc.in_min, out_spread = tc.out_max - tc.out_min;
    // acc has a standard deviation near 30 spread sqrt(taps) and the weight scales are near 0.01:
    // outputs spread about 100 steps around the zero point.
    const float s_x = 0.02f;
    const float s_y =
        s_x * 0.01f * 0.3f * static_cast<float>(spread) * std::sqrt(static_cast<float>(taps));
    pr.p.input = {s_x, rng.uniform_int(tc.in_min, tc.in_max), tc.in_min, tc.in_max};
    pr.p.output = {s_y, rng.uniform_int(tc.out_min + out_spread / 4, tc.out_max - out_spread / 4),
                   tc.out_min, tc.out_max};
    if (tc.ties) {
        pr.p.input.scale = 1.0f;
        pr.p.output.scale = 2.0f;
    }
    const int z = pr.p.input.zero_point;
    std::vector<std::uint8_t> x(static_cast<std::size_t>(tc.n * tc.c * tc.h * tc.w));
    for (auto& v : x) {
        v = static_cast<std::uint8_t>(
            tc.ties ? std::clamp(z + rng.uniform_int(-2, 2), tc.in_min, tc.in_max)
                    : rng.uniform_int(tc.in_min, tc.in_max));
    }
    std::vector<std::int8_t> wq(static_cast<std::size_t>(tc.o * taps));
    for (auto& v : wq) {
        v = static_cast<std::int8_t>(tc.ties ? rng.uniform_int(-1, 1) : rng.uniform_int(-128, 127));
    }
    std::vector<float> scale(static_cast<std::size_t>(tc.o)), bias(scale.size());
    for (std::size_t i = 0; i < scale.size(); ++i) {
        scale[i] =
            tc.ties ? 1.0f : 0.01f * (0.5f + static_cast<float>(rng.uniform_int(0, 100)) / 100);
        bias[i] = tc.ties ? 0.5f * static_cast<float>(rng.uniform_int(-7, 7))
                          : static_cast<float>(rng.normal()) * pr.p.output.scale * 20.0f;
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
    pr.r.cfg = ref::Conv2dConfig{tc.sh, tc.sw, tc.ph, tc.pw, tc.dh, tc.dw, tc.groups};
    const ActivationQuant &qi = pr.p.input, &qo = pr.p.output;
    pr.r.input = {qi.scale, qi.zero_point, qi.quant_min, qi.quant_max};
    pr.r.output = {qo.scale, qo.zero_point, qo.quant_min, qo.quant_max};
    pr.r.relu = tc.relu;
    return pr;
}

std::vector<double> run_cuda(Context& ctx, const Problem& pr, Conv2dInt8Algo algo) {
    Conv2dInt8Params p = pr.p;
    p.algo = algo;
    const Device dev = ctx.device();
    const Tensor y = conv2d_int8_forward(ctx, pr.x_q.to(dev), wtconv::to_device(pr.w, dev), p);
    EXPECT_EQ(y.device(), dev);
    EXPECT_EQ(y.dtype(), DType::kUInt8);
    return y.to(Device::cpu()).to_vector();
}

// Byte for byte against the CPU's portable kernel, and against the reference where it is cheap;
// returns a message naming the first difference, empty when equal.
std::string compare(const Int8CudaCase& tc,
                    Context& gpu,
                    Conv2dInt8Algo algo,
                    bool random_case = false) {
    const Problem pr = make_problem(tc);
    Context cpu;
    Conv2dInt8Params p = pr.p;
    p.algo = Conv2dInt8Algo::kPortable;
    const std::vector<double> want = conv2d_int8_forward(cpu, pr.x_q, pr.w, p).to_vector();
    if (macs(tc) <= 20'000'000) {
        const std::vector<int> r = ref::conv2d_int8_ref(pr.r);
        EXPECT_TRUE(std::equal(want.begin(), want.end(), r.begin(), r.end()))
            << "the CPU disagrees with the reference: " << describe(tc);
    }
    int inside = 0;
    for (const double v : want) {
        inside += v != tc.out_min && v != tc.out_max && v != pr.p.output.zero_point;
    }
    // A hand-picked layer of clamped or zero outputs would test little; a random one may read
    // only padding (e.g. H 1 padded by 2 with stride 3), which is a case worth having.
    if (want.size() >= 16 && !random_case) {
        EXPECT_GT(inside, 0) << "all outputs clamped: " << describe(tc);
    }
    const std::vector<double> got = run_cuda(gpu, pr, algo);
    if (got.size() != want.size()) {
        return "size " + std::to_string(got.size()) + " != " + std::to_string(want.size());
    }
    std::size_t wrong = 0, first = got.size();
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i] != want[i]) {
            first = std::min(first, i);
            ++wrong;
        }
    }
    if (wrong == 0) {
        return {};
    }
    std::ostringstream s;
    s << wrong << " of " << got.size() << " outputs differ, first at " << first << ": got "
      << got[first] << ", cpu " << want[first] << "; " << describe(tc);
    return s.str();
}

class Conv2dInt8CudaEdge : public CudaTestWithParam<Int8CudaCase> {};

TEST_P(Conv2dInt8CudaEdge, EqualsTheCpuByteForByte) {
    Context ctx = cuda_test_context();
    const std::string diff = compare(GetParam(), ctx, Conv2dInt8Algo::kDp4a);
    EXPECT_TRUE(diff.empty()) << diff;
}

INSTANTIATE_TEST_SUITE_P(Shapes,
                         Conv2dInt8CudaEdge,
                         testing::ValuesIn(edge_cases()),
                         [](const testing::TestParamInfo<Int8CudaCase>& case_info) {
                             return "case" + std::to_string(case_info.index);
                         });

// Batches, as in test_wtconv_cuda.cpp: one process per case would spend more on CUDA start-up
// than on the case.
constexpr int kCasesPerBatch = 25;
const std::vector<Int8CudaCase>& seeded_cases() {
    static const std::vector<Int8CudaCase> cases = random_cases();
    return cases;
}

class Conv2dInt8CudaRandom : public CudaTestWithParam<int> {};

TEST_P(Conv2dInt8CudaRandom, EqualsTheCpuByteForByte) {
    const std::vector<Int8CudaCase>& all = seeded_cases();
    const std::size_t begin = static_cast<std::size_t>(GetParam()) * kCasesPerBatch;
    const std::size_t end = std::min(all.size(), begin + kCasesPerBatch);
    Context ctx = cuda_test_context();
    for (std::size_t i = begin; i < end; ++i) {
        // kAuto must pick kDp4a on CUDA: every other case goes through it.
        const auto algo = i % 2 == 0 ? Conv2dInt8Algo::kDp4a : Conv2dInt8Algo::kAuto;
        const std::string diff = compare(all[i], ctx, algo, true);
        EXPECT_TRUE(diff.empty()) << "random case " << i << ": " << diff;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Seeded,
    Conv2dInt8CudaRandom,
    testing::Range(0,
                   static_cast<int>((seeded_cases().size() + kCasesPerBatch - 1) / kCasesPerBatch)),
    [](const testing::TestParamInfo<int>& case_info) {
        return "batch" + std::to_string(case_info.param);
    });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conv2dInt8CudaRandom);

// Without a GPU this is the random-case test that runs: the generator still covers the gathers'
// boundaries (Cg quads, 32-channel tiles), groups, depthwise, reduced ranges and ties.
TEST(Conv2dInt8CudaRandomCases, CoverTheShapeClasses) {
    const char* env = std::getenv("WTCONV_CUDA_RANDOM_CASES");
    if (env != nullptr && *env != '\0') {
        GTEST_SKIP() << "WTCONV_CUDA_RANDOM_CASES=" << env << " shrinks the set below its coverage";
    }
    const std::vector<Int8CudaCase>& all = seeded_cases();
    ASSERT_GE(all.size(), 100u);
    int channel = 0, quad_padding = 0, grouped = 0, depthwise = 0, reduced = 0, ties = 0;
    for (const Int8CudaCase& tc : all) {
        const std::int64_t cg = tc.c / tc.groups;
        channel += (cg + 3) / 4 % 8 == 0;
        quad_padding += cg % 4 != 0;
        grouped += tc.groups > 1 && cg > 1;
        depthwise += cg == 1 && tc.groups > 1;
        reduced += tc.in_max == 127;
        ties += tc.ties;
    }
    for (const int seen : {channel, quad_padding, grouped, depthwise, reduced, ties}) {
        EXPECT_GE(seen, 5);
    }
}

// A stream of the caller's: the kernels queue there, and the result is the same.
class Conv2dInt8CudaStream : public CudaTest {};

TEST_F(Conv2dInt8CudaStream, RunsOnTheContextsStream) {
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    {
        Context ctx = cuda_test_context(stream);
        const std::string diff = compare(edge_cases()[9], ctx, Conv2dInt8Algo::kDp4a);
        EXPECT_TRUE(diff.empty()) << diff;
    }
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

// ---- activation quantisation ------------------------------------------------------------------

class Conv2dInt8CudaQuantize : public CudaTestWithParam<ActivationQuant> {};

// Normal values over the whole range, exact midpoints t = k + 0.5, values just beside them,
// infinities, NaN, -0 and subnormals; every byte and every dequantised float's bits equal.
TEST_P(Conv2dInt8CudaQuantize, EqualsTheCpuBitForBit) {
    const ActivationQuant q = GetParam();
    Rng rng(test_seed() + 77);
    std::vector<float> x;
    for (int i = 0; i < 5000; ++i) {
        x.push_back(static_cast<float>(rng.normal()) * q.scale * 100.0f);
    }
    for (int k = -300; k <= 300; ++k) {
        const float mid = (static_cast<float>(k) + 0.5f) * q.scale;
        x.insert(x.end(), {mid, std::nextafter(mid, -INFINITY), std::nextafter(mid, INFINITY)});
    }
    x.insert(x.end(), {INFINITY, -INFINITY, NAN, -0.0f, 1e-40f, -1e-40f, 3e38f, -3e38f});
    const Tensor xt = Tensor::from_vector(x, Shape{static_cast<std::int64_t>(x.size())});
    Context cpu;
    Context gpu = cuda_test_context();
    const Tensor want = quantize_activation(cpu, xt, q);
    const Tensor got = quantize_activation(gpu, xt.to(gpu.device()), q);
    EXPECT_EQ(got.device(), gpu.device());
    EXPECT_EQ(host_bytes(got), host_bytes(want));

    std::vector<std::uint8_t> all(256);
    for (int i = 0; i < 256; ++i) {
        all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    }
    const Tensor qt = Tensor::from_vector(all, Shape{16, 16});
    const Tensor back = dequantize_activation(gpu, qt.to(gpu.device()), q);
    EXPECT_EQ(back.shape(), qt.shape());
    EXPECT_EQ(host_bytes(back), host_bytes(dequantize_activation(cpu, qt, q)));
}

INSTANTIATE_TEST_SUITE_P(Params,
                         Conv2dInt8CudaQuantize,
                         testing::Values(ActivationQuant{0.5f, 10, 0, 255},
                                         ActivationQuant{0.0173f, 128, 0, 255},
                                         ActivationQuant{0.031f, 64, 0, 127},
                                         ActivationQuant{3.7e-3f, 200, 20, 220}),
                         [](const testing::TestParamInfo<ActivationQuant>& case_info) {
                             return "quant" + std::to_string(case_info.index);
                         });

// ---- bad input --------------------------------------------------------------------------------

// Questions answered without a GPU: each device's algorithms.
TEST(Conv2dInt8CudaSupports, EachDeviceItsOwnAlgorithms) {
    EXPECT_TRUE(conv2d_int8_supports(Conv2dInt8Algo::kDp4a, Device::cuda(0)));
    EXPECT_TRUE(conv2d_int8_supports(Conv2dInt8Algo::kAuto, Device::cuda(0)));
    EXPECT_FALSE(conv2d_int8_supports(Conv2dInt8Algo::kPortable, Device::cuda(0)));
    EXPECT_FALSE(conv2d_int8_supports(Conv2dInt8Algo::kVnni, Device::cuda(0)));
    EXPECT_FALSE(conv2d_int8_supports(Conv2dInt8Algo::kAvx2, Device::cuda(0)));
    EXPECT_FALSE(conv2d_int8_supports(Conv2dInt8Algo::kAmx, Device::cuda(0)));
    EXPECT_FALSE(conv2d_int8_supports(Conv2dInt8Algo::kDp4a, Device::cpu()));
    EXPECT_FALSE(conv2d_int8_supports(Conv2dInt8Algo::kDp4a));
    EXPECT_TRUE(conv2d_int8_supports(Conv2dInt8Algo::kPortable, Device::cpu()));
    EXPECT_STREQ(conv2d_int8_algo_name(Conv2dInt8Algo::kDp4a), "dp4a");
    EXPECT_EQ(conv2d_int8_auto_algo(Device::cuda(0)), Conv2dInt8Algo::kDp4a);
}

TEST(Conv2dInt8CudaHostBadInput, Dp4aOnCpuTensorsIsNotSupported) {
    Context ctx;
    Problem pr = make_problem(square(1, 2, 5, 5, 3, 3, 1, 1, 1, 1, true, false, 1));
    pr.p.algo = Conv2dInt8Algo::kDp4a;
    expect_error_all([&] { conv2d_int8_forward(ctx, pr.x_q, pr.w, pr.p); },
                     ErrorCode::kNotSupported, {"algo dp4a", "cpu"});
}

class Conv2dInt8CudaBadInput : public CudaTest {};

TEST_F(Conv2dInt8CudaBadInput, CpuAlgorithmsOnCudaTensorsAreNotSupported) {
    Context ctx = cuda_test_context();
    Problem pr = make_problem(square(1, 2, 5, 5, 3, 3, 1, 1, 1, 1, true, false, 1));
    const Tensor x = pr.x_q.to(ctx.device());
    const Conv2dInt8Weights w = wtconv::to_device(pr.w, ctx.device());
    for (const Conv2dInt8Algo algo : {Conv2dInt8Algo::kPortable, Conv2dInt8Algo::kVnni,
                                      Conv2dInt8Algo::kAvx2, Conv2dInt8Algo::kAmx}) {
        pr.p.algo = algo;
        expect_error_all([&] { conv2d_int8_forward(ctx, x, w, pr.p); }, ErrorCode::kNotSupported,
                         {std::string("algo ") + conv2d_int8_algo_name(algo), "cuda:0"});
    }
}

TEST_F(Conv2dInt8CudaBadInput, MixedDevicesNameTheArgument) {
    Context ctx = cuda_test_context();
    const Problem pr = make_problem(square(1, 2, 5, 5, 3, 3, 1, 1, 1, 1, true, false, 1));
    const Device dev = ctx.device();
    const Tensor x = pr.x_q.to(dev);
    const Conv2dInt8Weights on_gpu = wtconv::to_device(pr.w, dev);
    expect_error_all([&] { conv2d_int8_forward(ctx, x, pr.w, pr.p); }, ErrorCode::kBadArgument,
                     {"weight must be on cuda:0", "got cpu"});
    Conv2dInt8Weights w = on_gpu;
    w.weight_scale = pr.w.weight_scale;
    expect_error_all([&] { conv2d_int8_forward(ctx, x, w, pr.p); }, ErrorCode::kBadArgument,
                     {"weight_scale must be on cuda:0", "got cpu"});
    w = on_gpu;
    w.bias = pr.w.bias;
    expect_error_all([&] { conv2d_int8_forward(ctx, x, w, pr.p); }, ErrorCode::kBadArgument,
                     {"bias must be on cuda:0", "got cpu"});
    // Weights on the GPU, x_q on the host: x_q sets the device, so the weight is named.
    Context cpu;
    expect_error_all([&] { conv2d_int8_forward(cpu, pr.x_q, on_gpu, pr.p); },
                     ErrorCode::kBadArgument, {"weight must be on cpu", "got cuda:0"});
    // The context belongs to another device than the tensors.
    expect_error_all([&] { conv2d_int8_forward(cpu, x, on_gpu, pr.p); }, ErrorCode::kBadArgument,
                     {"x_q", "context's device cpu", "got cuda:0"});
    const Tensor xf = Tensor::full({4}, 1.0, DType::kFloat32, dev);
    expect_error_all([&] { quantize_activation(cpu, xf, pr.p.input); }, ErrorCode::kBadArgument,
                     {"x", "context's device cpu", "got cuda:0"});
    // Weight quantisation stays on the host.
    expect_error_all(
        [&] {
            quantize_conv2d_weights(
                Conv2dWeights{Tensor::full({3, 2, 3, 3}, 1.0, DType::kFloat32, dev), Tensor()},
                Tensor::full({3}, 1.0, DType::kFloat32));
        },
        ErrorCode::kNotSupported, {"weight must be on cpu", "to_device", "cuda:0"});
}

}  // namespace
}  // namespace wtconv::test
