// test_fake_quant: the CPU fake_quant against the reference on edge and seeded random shapes
// (float32 bit for bit, float64 within 1e-12), ties to even, clamping, NaN and Inf, the STE
// backward, the observers' statistics and both qparams rules, FakeQuantize, and bad input.
#include <cmath>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

#include <wtconv/ops/fake_quant.h>

#include "reference/fake_quant_ref.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Range {
    const char* name;
    std::int32_t qmin, qmax;
};
constexpr Range kRanges[] = {
    {"qint8", -128, 127}, {"quint8", 0, 255}, {"reduce", 0, 127}, {"int4", -8, 7}};

struct FakeQuantCase {
    std::vector<std::int64_t> shape;
    int axis = 0;  // the channel dim; ignored per tensor
    bool per_channel = false;
    Range range = kRanges[0];
    DType dtype = DType::kFloat32;
    int threads = 2;
    std::uint64_t seed = 1;
};

std::string describe(const FakeQuantCase& tc) {
    std::ostringstream out;
    out << "WTCONV_TEST_SEED=" << test_seed() << " fake_quant x" << Shape(tc.shape) << " "
        << (tc.per_channel ? "per_channel axis " + std::to_string(tc.axis) : "per_tensor") << " "
        << tc.range.name << " " << dtype_name(tc.dtype) << " threads " << tc.threads << " seed "
        << tc.seed;
    return out.str();
}
void PrintTo(const FakeQuantCase& tc, std::ostream* os) {
    *os << describe(tc);
}

Tensor tensor_of(const std::vector<double>& v, const Shape& shape, DType dtype = DType::kFloat32) {
    return Tensor::from_vector(v, shape).to(dtype);
}

// "" when got equals want in every element, sign of zero included (NaN never equals), else the
// first difference: a gtest diff of two 300000-element vectors would not fit in memory.
std::string first_difference(const Tensor& got, const std::vector<double>& want) {
    const std::vector<double> g = got.to_vector();
    for (std::size_t i = 0; i < g.size(); ++i) {
        if (!(g[i] == want.at(i)) || std::signbit(g[i]) != std::signbit(want[i])) {
            return "[" + std::to_string(i) + "] = " + std::to_string(g[i]) + " vs " +
                   std::to_string(want[i]);
        }
    }
    return g.size() == want.size() ? "" : "sizes differ";
}

Context test_context(int threads = 2) {
    ContextOptions options;
    options.num_threads = threads;
    options.poison_outputs = true;  // an element a kernel skips stays NaN and fails the checks
    return Context(Device::cpu(), options);
}

// Random float32 scales around 0.05 (or 1/16) and zero points anywhere in the range; x ~ N(0,
// spread) with about a tenth of the elements clamped, and one in 16 a multiple of 1/16 plus 1/32.
struct CaseData {
    QuantParams q;
    ref::FakeQuantConfig cfg;
    Tensor x;
};
CaseData make_data(const FakeQuantCase& tc) {
    Rng rng(tc.seed);
    const Shape shape(tc.shape);
    const int rank = shape.rank();
    const std::int64_t channels = tc.per_channel ? shape[(tc.axis + rank) % rank] : 1;
    std::vector<float> scale;
    std::vector<std::int32_t> zero;
    const bool pow2 = tc.seed % 3 == 0;  // then (j + 0.5) / 16 below are exact level midpoints
    for (std::int64_t c = 0; c < channels; ++c) {
        scale.push_back(pow2 ? 0.0625f : static_cast<float>(0.05 * std::exp(0.5 * rng.normal())));
        zero.push_back(rng.uniform_int(tc.range.qmin, tc.range.qmax));
    }
    CaseData d;
    d.q = tc.per_channel
              ? QuantParams::per_channel(scale, zero, tc.axis, tc.range.qmin, tc.range.qmax)
              : QuantParams::per_tensor(scale[0], zero[0], tc.range.qmin, tc.range.qmax);
    d.cfg = ref::FakeQuantConfig{scale, zero, tc.per_channel ? (tc.axis + rank) % rank : -1,
                                 tc.range.qmin, tc.range.qmax};
    const double spread = 0.05 * (tc.range.qmax - tc.range.qmin) / 3.0;
    std::vector<double> v(static_cast<std::size_t>(shape.numel()));
    for (double& e : v) {
        e = static_cast<float>(spread * rng.normal());  // float32 values: both paths see the same x
        if (rng.uniform_int(0, 15) == 0) {
            e = (rng.uniform_int(-40, 40) + 0.5) * 0.0625;
        }
    }
    d.x = Tensor::from_vector(v, shape).to(tc.dtype);
    return d;
}

ref::FakeQuantArith arith(DType dtype) {
    return dtype == DType::kFloat32 ? ref::FakeQuantArith::kFloat32 : ref::FakeQuantArith::kFloat64;
}

// Edge shapes (single elements, rank 0, empty, length-1 axes, tensors large enough for threads),
// every axis both ways, every range, both dtypes; then seeded random ranks 1-4.
std::vector<FakeQuantCase> all_cases() {
    // "HxW" per tensor, "HxW@axis" per channel; "" is rank 0, "0x3@1" empty.
    const std::string edges[] = {"1",          "",          "300000",     "1@0",
                                 "1x1x1x1@3",  "7@-1",      "5x1x3@1",    "2x3x4x5@0",
                                 "2x3x4x5@-3", "2x3x4x5@2", "2x3x4x5@-1", "4x64x32x16@1",
                                 "3x70000@-1", "0x3@1"};
    std::vector<FakeQuantCase> base;
    for (const std::string& e : edges) {
        FakeQuantCase tc;
        const std::size_t at = e.find('@');
        tc.per_channel = at != std::string::npos;
        tc.axis = tc.per_channel ? std::stoi(e.substr(at + 1)) : 0;
        std::stringstream dims(e.substr(0, at));
        for (std::string d; std::getline(dims, d, 'x');) {
            tc.shape.push_back(std::stoll(d));
        }
        base.push_back(tc);
    }
    Rng rng(test_seed());
    for (int i = 0; i < random_case_count(60); ++i) {
        FakeQuantCase tc;
        const int rank = rng.uniform_int(1, 4);
        for (int d = 0; d < rank; ++d) {
            tc.shape.push_back(rng.uniform_int(1, 7));
        }
        tc.per_channel = rng.uniform_int(0, 2) != 0;
        tc.axis = rng.uniform_int(-rank, rank - 1);
        base.push_back(tc);
    }
    std::vector<FakeQuantCase> out;
    std::uint64_t seed = test_seed();
    for (std::size_t i = 0; i < base.size(); ++i) {
        for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
            FakeQuantCase tc = base[i];
            tc.range = kRanges[i % 4];
            tc.dtype = dtype;
            tc.threads = 1 + static_cast<int>(i % 3);
            tc.seed = ++seed;
            out.push_back(tc);
        }
    }
    return out;
}

class FakeQuantForward : public testing::TestWithParam<FakeQuantCase> {};

TEST_P(FakeQuantForward, MatchesTheReferenceFloat32BitForBitFloat64Within1e12) {
    const FakeQuantCase& tc = GetParam();
    const CaseData d = make_data(tc);
    Context ctx = test_context(tc.threads);
    FakeQuantSaved saved;
    const Tensor y = fake_quant_forward(ctx, d.x, d.q, &saved);
    const ref::FakeQuantResult want = ref::fake_quant_forward(to_ref(d.x), d.cfg, arith(tc.dtype));
    EXPECT_EQ(first_difference(saved.mask, want.mask.data), "") << describe(tc);
    if (tc.dtype == DType::kFloat32) {  // bit for bit: PyTorch's integer levels give +0, never -0
        EXPECT_EQ(first_difference(y, want.y.data), "") << describe(tc);
    } else {
        // Same operations in double: only an error in the library would leave a gap.
        EXPECT_LT(rel_l2_error(y, want.y), 1e-12) << describe(tc);
    }
    // Inference (no saved) computes the same y.
    EXPECT_TRUE(host_bytes(fake_quant_forward(ctx, d.x, d.q)) == host_bytes(y)) << describe(tc);
}

std::string case_name(const testing::TestParamInfo<FakeQuantCase>& info) {
    return std::to_string(info.index) + (info.param.dtype == DType::kFloat32 ? "_f32" : "_f64");
}
INSTANTIATE_TEST_SUITE_P(EdgeAndRandom,
                         FakeQuantForward,
                         testing::ValuesIn(all_cases()),
                         case_name);

// y and mask of one per-tensor call on the values v, in dtype.
std::pair<std::vector<double>, std::vector<double>> run(const std::vector<double>& v,
                                                        const QuantParams& q,
                                                        DType dtype) {
    Context ctx = test_context();
    FakeQuantSaved saved;
    const Tensor y =
        fake_quant_forward(ctx, tensor_of(v, Shape{std::int64_t(v.size())}, dtype), q, &saved);
    return {y.to_vector(), saved.mask.to_vector()};
}

TEST(FakeQuantForward, MidpointsRoundToEvenIncludingBothEndsOfQint8) {
    const QuantParams q = QuantParams::per_tensor(0.25f, 0, -128, 127);
    // x / s: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -2.5 -> -2, -128.5 -> -128 (kept),
    // 127.5 -> 128 (clipped to 127), -129.5 -> -130 (clipped), 126.5 -> 126.
    const std::vector<double> x{0.125,   0.375,  0.625,   -0.125, -0.625,
                                -32.125, 31.875, -32.375, 31.625};
    const std::vector<double> want{0, 0.5, 0.5, 0, -0.5, -32, 31.75, -32, 31.5};  // levels * 0.25
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
        const auto [y, m] = run(x, q, dtype);
        EXPECT_EQ(y, want) << dtype_name(dtype);
        EXPECT_EQ(m, (std::vector<double>{1, 1, 1, 1, 1, 1, 0, 0, 1})) << dtype_name(dtype);
    }
}

TEST(FakeQuantForward, ClampsBelowAndAboveAroundTheZeroPoint) {
    const QuantParams q = QuantParams::per_tensor(0.5f, 10, 0, 255);
    // q = x / 0.5 + 10: -6 -> -2 (clamped to 0), -5 -> 0, 122.5 -> 255, 123 -> 256 (clamped).
    const std::vector<double> x{-6.0, -5.0, 122.5, 123.0, 1e30, -1e30};
    const std::vector<double> want{-5.0, -5.0, 122.5, 122.5, 122.5, -5.0};
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
        const auto [y, m] = run(x, q, dtype);
        EXPECT_EQ(y, want) << dtype_name(dtype);
        EXPECT_EQ(m, (std::vector<double>{0, 1, 1, 0, 0, 0})) << dtype_name(dtype);
    }
}

// Documented choice: NaN propagates to y (PyTorch's int64 cast would give the lower end) and is
// clipped from the gradient; +-Inf clamp to the range's ends with mask 0.
TEST(FakeQuantForward, NanGivesNanWithMaskZeroAndInfinitiesClampToTheEnds) {
    const QuantParams q = QuantParams::per_tensor(0.125f, -3, -8, 7);
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
        const auto [y, m] = run({kNaN, kInf, -kInf, 0.0}, q, dtype);
        EXPECT_TRUE(std::isnan(y[0])) << dtype_name(dtype);
        EXPECT_EQ(y[1], (7 + 3) * 0.125) << dtype_name(dtype);
        EXPECT_EQ(y[2], (-8 + 3) * 0.125) << dtype_name(dtype);
        EXPECT_EQ(y[3], 0.0) << dtype_name(dtype);
        EXPECT_EQ(m, (std::vector<double>{0, 0, 0, 1})) << dtype_name(dtype);
    }
}

// 3.3: t = fl32(x * fl32(1/s)), not x / s. Among many float32 x with s = 0.1, some round to a
// different level either way; the library must take the reciprocal's.
TEST(FakeQuantForward, MultipliesByTheFloat32ReciprocalNotDividesByTheScale) {
    const float s = 0.1f;
    const float inv = 1.0f / s;
    std::vector<double> x;
    std::vector<double> want;
    for (int k = -1000; k < 1000; ++k) {
        for (const float frac : {0.5f, -0.5f}) {
            float v = (static_cast<float>(k) + frac) * s;
            for (int step = 0; step < 4; ++step, v = std::nextafter(v, 1e9f)) {
                const float by_inv = std::nearbyint(v * inv);
                const float by_div = std::nearbyint(v / s);
                if (by_inv != by_div && std::fabs(by_inv) <= 127 && std::fabs(by_div) <= 127) {
                    x.push_back(v);
                    want.push_back(static_cast<float>(by_inv * s));
                }
            }
        }
    }
    ASSERT_GE(x.size(), 10u) << "no value tells the reciprocal from the division apart";
    EXPECT_EQ(run(x, QuantParams::per_tensor(s, 0, -128, 127), DType::kFloat32).first, want);
}

TEST(FakeQuantBackward, PassesTheGradientOnlyWhereNotClipped) {
    for (const FakeQuantCase& tc : all_cases()) {
        const CaseData d = make_data(tc);
        Context ctx = test_context(tc.threads);
        FakeQuantSaved saved;
        fake_quant_forward(ctx, d.x, d.q, &saved);
        Rng rng(tc.seed + 1);
        const Tensor dy = random_normal(rng, d.x.shape(), tc.dtype);
        const ref::FakeQuantResult want =
            ref::fake_quant_forward(to_ref(d.x), d.cfg, arith(tc.dtype));
        const Tensor dx = fake_quant_backward(ctx, dy, saved);
        EXPECT_EQ(first_difference(dx, ref::fake_quant_backward(to_ref(dy), want.mask).data), "")
            << describe(tc);
    }
}

TEST(FakeQuantBackward, ClippedElementsGetZeroAndNanInDyStaysNan) {
    const QuantParams q = QuantParams::per_tensor(1.0f, 0, -8, 7);
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
        Context ctx = test_context();
        FakeQuantSaved saved;
        fake_quant_forward(ctx, tensor_of({-9, 3, 8, 9}, Shape{4}, dtype), q, &saved);
        const Tensor dy = tensor_of({2, 5, kNaN, 7}, Shape{4}, dtype);
        const std::vector<double> dx = fake_quant_backward(ctx, dy, saved).to_vector();
        EXPECT_EQ(dx[0] + dx[3], 0.0);
        EXPECT_EQ(dx[1], 5.0);
        EXPECT_TRUE(std::isnan(dx[2]));  // dy * mask, as PyTorch: NaN * 0 is NaN
    }
}

// ---- observers --------------------------------------------------------------------------------

TEST(FakeQuantObserver, FirstBatchSetsMinMaxThenEachMovesByOneHundredth) {
    MovingAverageMinMaxObserver obs(ObserverParams::activation());
    EXPECT_FALSE(obs.observed());
    obs.observe(tensor_of({0.5, -1.0, 2.0}, Shape{3}));
    EXPECT_EQ(obs.min_val(), std::vector<float>{-1.0f});
    EXPECT_EQ(obs.max_val(), std::vector<float>{2.0f});
    obs.observe(tensor_of({-3.0, 4.0, 0.0, 1.0}, Shape{2, 2}, DType::kFloat64));
    // m = -1 + 0.01 (-3 + 1) = -1.02, M = 2 + 0.01 (4 - 2) = 2.02, each step in float32.
    EXPECT_EQ(obs.min_val()[0], -1.0f + 0.01f * (-3.0f + 1.0f));
    EXPECT_EQ(obs.max_val()[0], 2.0f + 0.01f * (4.0f - 2.0f));
}

TEST(FakeQuantObserver, PerChannelMinMaxIsOverEveryOtherAxisForPositiveAndNegativeAxes) {
    // x (2, 3, 2): channel c along dim 1 holds x[n, c, w].
    const Tensor x = tensor_of({1, 2, -3, 4, 5, 6, -7, 8, 9, -10, 11, 12}, Shape{2, 3, 2});
    for (const int axis : {1, -2}) {
        ObserverParams p = ObserverParams::weight();
        p.axis = axis;
        MovingAverageMinMaxObserver obs(p);
        obs.observe(x);
        EXPECT_EQ(obs.min_val(), (std::vector<float>{-7, -10, 5})) << axis;
        EXPECT_EQ(obs.max_val(), (std::vector<float>{8, 9, 12})) << axis;
    }
}

TEST(FakeQuantObserver, ConversionRuleMatchesHandComputedValues) {
    ObserverParams act = ObserverParams::activation(false);  // (0, 255) affine
    // (M+ - m-) / 255 = 4/255; z = 0 - rne(-1 / (4/255)) = rne(63.75) = 64.
    QuantParams q = calculate_qparams({-1.0f}, {3.0f}, act);
    EXPECT_EQ(q.scale, std::vector<float>{4.0f / 255.0f});
    EXPECT_EQ(q.zero_point, std::vector<std::int32_t>{64});
    // All positive: m- = 0, z = qmin. Empty range: s = eps = 2^-23.
    EXPECT_EQ(calculate_qparams({1.0f}, {3.0f}, act).zero_point, std::vector<std::int32_t>{0});
    EXPECT_EQ(calculate_qparams({0.0f}, {0.0f}, act).scale, std::vector<float>{0x1p-23f});
    // Symmetric qint8 weights: s = amax / 127.5, z = 0; per channel.
    q = calculate_qparams({-0.5f, -0.1f, 0.0f}, {0.25f, 0.3f, 0.0f}, ObserverParams::weight());
    EXPECT_EQ(q.scale, (std::vector<float>{0.5f / 127.5f, 0.3f / 127.5f, 0x1p-23f}));
    EXPECT_EQ(q.zero_point, (std::vector<std::int32_t>{0, 0, 0}));
    EXPECT_EQ(q.scheme, QScheme::kPerChannel);
    // Symmetric unsigned ranges: z = (qmin + qmax + 1) / 2, 128 for quint8, 64 for (0, 127).
    act.symmetric = true;
    EXPECT_EQ(calculate_qparams({-1.0f}, {3.0f}, act).zero_point, std::vector<std::int32_t>{128});
    EXPECT_EQ(calculate_qparams({-1.0f}, {3.0f}, act).scale, std::vector<float>{3.0f / 127.5f});
    act.quant_max = 127;
    EXPECT_EQ(calculate_qparams({-1.0f}, {3.0f}, act).zero_point, std::vector<std::int32_t>{64});
}

TEST(FakeQuantObserver, TorchFusedTrainingRuleMatchesHandComputedValues) {
    ObserverParams w = ObserverParams::weight();
    w.rule = QParamsRule::kTorchFusedTraining;
    // max(1.28 / 128, 0.5 / 127) = 0.01 and max(0.5 / 128, 1.27 / 127) = 0.01, z = 0.
    const QuantParams q = calculate_qparams({-1.28f, -0.5f}, {0.5f, 1.27f}, w);
    EXPECT_NEAR(q.scale[0], 0.01, 1e-8);
    EXPECT_NEAR(q.scale[1], 0.01, 1e-8);
    EXPECT_EQ(q.zero_point, (std::vector<std::int32_t>{0, 0}));
    // An empty range gives 0.1 (the conversion rule gives 2^-23); a tiny one PyTorch's 6.1e-5.
    EXPECT_EQ(calculate_qparams({0.0f}, {0.0f}, w).scale, std::vector<float>{0.1f});
    EXPECT_EQ(calculate_qparams({0.0f}, {1e-3f}, w).scale, std::vector<float>{6.1e-5f});
    EXPECT_EQ(calculate_qparams({0.0f}, {1e-3f}, w).zero_point, std::vector<std::int32_t>{-128});
    ObserverParams act = ObserverParams::activation(false);
    act.rule = QParamsRule::kTorchFusedTraining;
    const QuantParams a = calculate_qparams({-1.0f}, {3.0f}, act);
    EXPECT_EQ(a.scale, std::vector<float>{4.0f / 255.0f});
    EXPECT_EQ(a.zero_point, std::vector<std::int32_t>{64});
    act.symmetric = true;  // quint8 symmetric: the middle, 127.5 rounded to even
    EXPECT_EQ(calculate_qparams({-1.0f}, {3.0f}, act).zero_point, std::vector<std::int32_t>{128});
}

TEST(FakeQuantObserver, RandomBatchesMatchTheReferenceForBothRules) {
    Rng rng(test_seed());
    for (int trial = 0; trial < 40; ++trial) {
        const Range r = kRanges[trial % 4];
        const ObserverParams p{
            trial % 5 < 3 ? QScheme::kPerChannel : QScheme::kPerTensor,
            rng.uniform_int(-3, 2),
            trial % 3 == 0,
            r.qmin,
            r.qmax,
            0.01f,
            trial % 2 == 0 ? QParamsRule::kConversion : QParamsRule::kTorchFusedTraining};
        const Shape shape{rng.uniform_int(1, 4), rng.uniform_int(1, 5), rng.uniform_int(1, 6)};
        const int ref_axis = p.scheme == QScheme::kPerChannel ? (p.axis + 3) % 3 : -1;
        MovingAverageMinMaxObserver obs(p);
        ref::MinMaxStats want;
        const double offset = trial % 4 == 1 ? 2.0 : 0.0;  // some channels never cross 0
        for (int batch = 0; batch < 4; ++batch) {
            const DType dtype = batch % 2 == 0 ? DType::kFloat32 : DType::kFloat64;
            Tensor x = random_normal(rng, shape, dtype);
            x.add_(Tensor::full(shape, offset, dtype));
            obs.observe(x);
            const ref::MinMaxStats b = ref::batch_min_max(to_ref(x), ref_axis);
            if (batch == 0) {
                want = b;
            } else {
                ref::moving_average_update(want, b, 0.01f);
            }
        }
        const std::string what = "trial " + std::to_string(trial);
        ASSERT_EQ(obs.min_val(), want.min) << what;
        ASSERT_EQ(obs.max_val(), want.max) << what;
        const QuantParams got = obs.qparams();
        if (p.rule == QParamsRule::kConversion) {
            const ref::QParamsValues w = ref::qparams_conversion(want, r.qmin, r.qmax, p.symmetric);
            EXPECT_EQ(got.scale, w.scale) << what;
            EXPECT_EQ(got.zero_point, w.zero_point) << what;
            continue;
        }
        // The reference reads the formulas in double; PyTorch's float/double mix differs from it
        // by the rounding of s only (a few float32 ulps), never by a zero-point step.
        const ref::QParamsValues w = ref::qparams_torch_fused(want, r.qmin, r.qmax, p.symmetric);
        for (std::size_t c = 0; c < w.scale.size(); ++c) {
            EXPECT_NEAR(got.scale.at(c), w.scale[c], 4e-7 * w.scale[c]) << what << " channel " << c;
        }
        EXPECT_EQ(got.zero_point, w.zero_point) << what;
    }
}

TEST(FakeQuantObserver, NanInABatchPoisonsTheStatisticsAndQparamsThrows) {
    MovingAverageMinMaxObserver obs;
    obs.observe(tensor_of({1.0, kNaN, -2.0}, Shape{3}));
    EXPECT_TRUE(std::isnan(obs.min_val()[0]));
    expect_error([&] { obs.qparams(); }, ErrorCode::kBadArgument, "must be finite");
    obs.reset();
    EXPECT_FALSE(obs.observed());
    expect_error([&] { obs.qparams(); }, ErrorCode::kBadArgument, "must have seen a batch");
}

// ---- FakeQuantize -----------------------------------------------------------------------------

TEST(FakeQuantModule, ObservesQuantisesAndPassesTheStraightThroughGradient) {
    FakeQuantize fq(ObserverParams::activation());
    Rng rng(test_seed());
    const Tensor x = random_normal(rng, Shape{2, 3, 4}, DType::kFloat32);
    const Tensor y = fq.forward(x);
    const QuantParams q = fq.observer().qparams();
    EXPECT_EQ(fq.qparams().scale, q.scale);
    Context ctx = test_context();
    FakeQuantSaved saved;
    EXPECT_EQ(host_bytes(y), host_bytes(fake_quant_forward(ctx, x, q, &saved)));
    const Tensor dy = random_normal(rng, x.shape(), DType::kFloat32);
    EXPECT_EQ(host_bytes(fq.backward(dy)), host_bytes(fake_quant_backward(ctx, dy, saved)));
    // Observer off: the qparams stay those of the batches seen so far.
    fq.enable_observer(false);
    Tensor wide = x.clone();
    wide.add_(Tensor::full(x.shape(), 100.0, DType::kFloat32));
    fq.forward(wide);
    EXPECT_EQ(fq.qparams().scale, q.scale);
    EXPECT_EQ(fq.qparams().zero_point, q.zero_point);
}

TEST(FakeQuantModule, FakeQuantOffIsTheIdentityBothWays) {
    FakeQuantize fq(ObserverParams::weight());
    expect_error([&] { fq.backward(Tensor::zeros(Shape{2}, DType::kFloat32)); },
                 ErrorCode::kBadArgument, "backward must follow a successful forward");
    fq.enable_fake_quant(false);
    const Tensor x = tensor_of({0.3, -0.7, 1.1, 0.2}, Shape{2, 2});
    EXPECT_EQ(fq.forward(x).raw_data(), x.raw_data());  // shares x's storage
    EXPECT_TRUE(fq.observer().observed());
    EXPECT_EQ(fq.observer().min_val(), (std::vector<float>{-0.7f, 0.2f}));
    const Tensor dy = tensor_of({1, 2, 3, 4}, Shape{2, 2});
    EXPECT_EQ(fq.backward(dy).raw_data(), dy.raw_data());
    FakeQuantize off(ObserverParams::activation());
    off.enable_observer(false);
    expect_error([&] { off.forward(x); }, ErrorCode::kBadArgument, "qparams must come from");
}

// ---- bad input: each rejected argument named, with what was expected and what came -----------

void forward(const Tensor& x, const QuantParams& q) {
    Context ctx;
    fake_quant_forward(ctx, x, q);
}

TEST(FakeQuantBadInput, ScaleNotPositiveFiniteAndNormal) {
    const Tensor x = Tensor::full(Shape{2, 3}, 1.0, DType::kFloat32);
    EXPECT_NO_THROW(forward(x, QuantParams::per_tensor(0x1p-126f, 0, -128, 127)));
    for (const float s : {0.0f, -0.1f, static_cast<float>(kNaN), static_cast<float>(kInf),
                          0x1p-127f /* 1 / s overflows float32 */}) {
        expect_error_all([&] { forward(x, QuantParams::per_tensor(s, 0, -128, 127)); },
                         ErrorCode::kBadArgument, {"fake_quant: scale must be finite", "got"});
    }
    const QuantParams pc = QuantParams::per_channel({0.1f, 0.0f, 0.2f}, {0, 0, 0}, 1, -8, 7);
    expect_error([&] { forward(x, pc); }, ErrorCode::kBadArgument, "scale[1] = 0");
}

TEST(FakeQuantBadInput, ZeroPointOutsideTheRangeAndRangeReversed) {
    const Tensor x = Tensor::full(Shape{4}, 1.0, DType::kFloat64);
    expect_error_all([&] { forward(x, QuantParams::per_tensor(0.1f, 256, 0, 255)); },
                     ErrorCode::kBadArgument,
                     {"zero_point must be in [quant_min, quant_max] = [0, 255]", "256"});
    expect_error([&] { forward(x, QuantParams::per_tensor(0.1f, -1, 0, 127)); },
                 ErrorCode::kBadArgument, "got zero_point[0] = -1");
    expect_error_all([&] { forward(x, QuantParams::per_tensor(0.1f, 0, 5, 3)); },
                     ErrorCode::kBadArgument, {"quant_min must be <= quant_max", "5 > 3"});
    EXPECT_NO_THROW(forward(x, QuantParams::per_tensor(0.1f, 0, 0, 1 << 24)));
    expect_error_all([&] { forward(x, QuantParams::per_tensor(0.1f, 0, -1, 1 << 24)); },
                     ErrorCode::kBadArgument,
                     {"quant_max - quant_min must be <= 2^24", "16777217"});
}

TEST(FakeQuantBadInput, PerChannelSizesAxisAndPerTensorCounts) {
    const Tensor x = Tensor::full(Shape{2, 4, 5}, 1.0, DType::kFloat32);
    const std::vector<float> s3(3, 0.1f);
    const std::vector<std::int32_t> z3(3, 0);
    const std::vector<std::int32_t> z4(4, 0);
    expect_error_all([&] { forward(x, QuantParams::per_channel(s3, z3, 1, -128, 127)); },
                     ErrorCode::kBadArgument,
                     {"scale must hold x.size(axis) = 4 values", "(2, 4, 5)", "got 3"});
    expect_error_all(
        [&] { forward(x, QuantParams::per_channel(std::vector<float>(4, 0.1f), z3, -2, -8, 7)); },
        ErrorCode::kBadArgument, {"zero_point must hold x.size(axis) = 4", "axis -2", "got 3"});
    for (const int axis : {3, -4}) {
        expect_error_all([&] { forward(x, QuantParams::per_channel(s3, z4, axis, -8, 7)); },
                         ErrorCode::kBadArgument,
                         {"axis must be in [-3, 3)", "got " + std::to_string(axis)});
    }
    QuantParams two = QuantParams::per_tensor(0.1f, 0, -8, 7);
    two.scale.push_back(0.2f);
    expect_error_all([&] { forward(x, two); }, ErrorCode::kBadArgument,
                     {"scale must hold 1 value for a per-tensor scheme", "got 2"});
}

TEST(FakeQuantBadInput, XUndefinedNotFloatOrOnCuda) {
    const QuantParams q = QuantParams::per_tensor(0.1f, 0, -128, 127);
    expect_error([&] { forward(Tensor(), q); }, ErrorCode::kBadArgument,
                 "x must be a tensor, got an undefined one");
    expect_error([&] { forward(Tensor::zeros(Shape{3}, DType::kFloat16), q); },
                 ErrorCode::kBadArgument, "x must be float32 or float64, got float16");
    if (!cuda_present()) {
        GTEST_SKIP() << "no CUDA device: a CUDA tensor cannot be made here";
    }
    expect_error_all([&] { forward(Tensor::zeros(Shape{3}, DType::kFloat32, Device::cuda()), q); },
                     ErrorCode::kNotSupported, {"x must be a CPU tensor", "cuda:0"});
}

TEST(FakeQuantBadInput, BackwardDyAndSaved) {
    Context ctx;
    FakeQuantSaved saved;
    const Tensor x = Tensor::full(Shape{2, 3}, 1.0, DType::kFloat32);
    fake_quant_forward(ctx, x, QuantParams::per_tensor(0.1f, 0, -128, 127), &saved);
    expect_error_all([&] { fake_quant_backward(ctx, x, FakeQuantSaved{}); },
                     ErrorCode::kBadArgument, {"saved.mask", "undefined"});
    expect_error_all(
        [&] {
            fake_quant_backward(ctx, Tensor::zeros(Shape{3, 2}, DType::kFloat32), saved);
        },
        ErrorCode::kBadArgument, {"dy", "(2, 3)", "(3, 2)"});
    expect_error_all([&] { fake_quant_backward(ctx, x.to(DType::kFloat64), saved); },
                     ErrorCode::kBadArgument, {"dy", "float32", "float64"});
}

TEST(FakeQuantBadInput, QparamTensorsOfWrongShapeOrFractionalZeroPoints) {
    const Tensor s = Tensor::full(Shape{3}, 0.1, DType::kFloat64);
    const Tensor z = Tensor::full(Shape{3}, 2.0, DType::kFloat32);
    const Tensor half = Tensor::full(Shape{3}, 1.5, DType::kFloat32);
    const Tensor s31 = Tensor::full(Shape{3, 1}, 0.1, DType::kFloat32);
    const QuantParams ok = QuantParams::per_channel(s, z, 0, -8, 7);
    EXPECT_EQ(ok.scale, std::vector<float>(3, 0.1f));  // float64 scales round to float32
    EXPECT_EQ(ok.zero_point, std::vector<std::int32_t>(3, 2));
    expect_error_all([&] { QuantParams::per_channel(s, half, 0, -8, 7); }, ErrorCode::kBadArgument,
                     {"zero_point must hold int32 integers", "1.5"});
    expect_error_all([&] { QuantParams::per_channel(s31, z, 0, -8, 7); }, ErrorCode::kBadArgument,
                     {"scale must be of shape (C)", "(3, 1)"});
    expect_error_all([&] { QuantParams::per_tensor(s, s, -8, 7); }, ErrorCode::kBadArgument,
                     {"scale must have one element", "(3,)"});
}

TEST(FakeQuantBadInput, ObserverParamsBatchesAndStatistics) {
    ObserverParams p;
    p.quant_min = p.quant_max = 3;
    expect_error([&] { MovingAverageMinMaxObserver{p}; }, ErrorCode::kBadArgument,
                 "quant_min must be < quant_max");
    for (const float c : {0.0f, 1.5f}) {
        ObserverParams a;
        a.averaging_constant = c;
        expect_error([&] { MovingAverageMinMaxObserver{a}; }, ErrorCode::kBadArgument,
                     "averaging_constant must be in (0, 1]");
    }
    MovingAverageMinMaxObserver obs(ObserverParams::weight());
    const Tensor empty = Tensor::zeros(Shape{0, 2}, DType::kFloat32);
    const Tensor x42 = Tensor::zeros(Shape{4, 2}, DType::kFloat32);
    expect_error([&] { obs.observe(empty); }, ErrorCode::kBadArgument, "at least one element");
    expect_error([&] { obs.observe(Tensor::zeros(Shape{2}, DType::kBFloat16)); },
                 ErrorCode::kBadArgument, "x must be float32 or float64, got bfloat16");
    obs.observe(Tensor::zeros(Shape{3, 2}, DType::kFloat32));
    expect_error_all([&] { obs.observe(x42); }, ErrorCode::kBadArgument, {"must stay 3", "(4, 2)"});
    const ObserverParams pt;
    expect_error_all([&] { calculate_qparams({2.0f}, {1.0f}, pt); }, ErrorCode::kBadArgument,
                     {"min <= max", "min 2", "max 1"});
    expect_error(
        [&] {
            calculate_qparams({0.0f, 0.0f}, {1.0f, 1.0f}, pt);
        },
        ErrorCode::kBadArgument, "1 value for a per-tensor scheme");
}

}  // namespace
}  // namespace wtconv::test
