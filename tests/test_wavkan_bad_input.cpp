// wavkan bad input: every rejected argument throws wtconv::Error naming the argument, what was
// expected and what came, before anything is written (a training forward's running statistics
// included).
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include <wtconv/ops/wavkan.h>

#include "support/wavkan_cases.h"

namespace wtconv::test {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A valid call: B 4, I 5, O 3, float32, base branch and batch norm in training, every tensor
// random; each test breaks one thing.
const WavKanCase kValid{4, 5, 3, KanWavelet::kMorlet, true, BnMode::kTraining, DType::kFloat32,
                        1, 3};
struct Valid {
    WavKanInputs in = random_wavkan_inputs(kValid);
    WavKanParams p = wavkan_params(kValid);
    bool pass_running = true;  // false: running = nullptr
};

Tensor forward(Valid& v, WavKanSaved* saved = nullptr) {
    Context ctx;
    return wavkan_forward(ctx, v.in.x, v.in.w, v.p, v.pass_running ? &v.in.running : nullptr,
                          saved);
}

Tensor f32(const Shape& shape, double value = 0.5) {
    return Tensor::full(shape, value, DType::kFloat32);
}

TEST(WavKanBadInput, TheValidBaselineRuns) {
    Valid v;
    EXPECT_NO_THROW(forward(v));
}

TEST(WavKanBadInput, XMustBeTwoDimensionalWithNonEmptySizes) {
    Valid v;
    v.in.x = f32(Shape{4, 5, 1});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"wavkan: x must be (B, in_features)", "(4, 5, 1)"});
    v.in.x = f32(Shape{20});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument, {"x must be", "(20,)"});
    v.in.x = f32(Shape{0, 5});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"x must have B >= 1 and in_features >= 1", "(0, 5)"});
    v.in.x = f32(Shape{4, 0});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"x must have B >= 1 and in_features >= 1", "(4, 0)"});
}

// Integer dtypes are bad arguments; float16 and bfloat16 exist as CUDA storage only, so on the CPU
// they are unsupported (the whole call in that dtype, so that the dtype checks pass).
TEST(WavKanBadInput, XMustBeFloatingAndHalfTypesRunOnCudaOnly) {
    for (const DType dtype : {DType::kInt32, DType::kInt8}) {
        Valid v;
        v.in.x = Tensor::full(Shape{4, 5}, 1.0, dtype);
        expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                         {"x must be float32, float64, float16 or bfloat16", dtype_name(dtype)});
    }
    for (const DType dtype : {DType::kFloat16, DType::kBFloat16}) {
        WavKanCase tc = kValid;
        tc.dtype = dtype;
        Valid v;
        v.in = random_wavkan_inputs(tc);
        expect_error_all([&] { forward(v); }, ErrorCode::kNotSupported,
                         {"x of dtype", dtype_name(dtype), "runs on CUDA only", "cpu"});
    }
}

TEST(WavKanBadInput, EdgeTensorsMustBeOutFeaturesByInFeaturesOfXsDtype) {
    Valid v;
    v.in.w.scale = f32(Shape{3, 6});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"scale must be (out_features, 5)", "(3, 6)"});
    v.in.w.scale = f32(Shape{15});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument, {"scale must be", "(15,)"});
    v.in.w.scale = f32(Shape{0, 5});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"scale must be", "out_features >= 1", "(0, 5)"});
    for (const char* name : {"translation", "wavelet_weights", "base_weight"}) {
        Valid w;
        Tensor& t = name[0] == 't' ? w.in.w.translation
                                   : (name[0] == 'w' ? w.in.w.wavelet_weights : w.in.w.base_weight);
        t = f32(Shape{2, 5});
        expect_error_all([&] { forward(w); }, ErrorCode::kBadArgument,
                         {std::string(name) + " must have shape (3, 5)", "(2, 5)"});
        t = Tensor::full(Shape{3, 5}, 0.5, DType::kFloat64);
        expect_error_all([&] { forward(w); }, ErrorCode::kBadArgument,
                         {std::string(name) + " must be float32", "float64"});
    }
}

TEST(WavKanBadInput, BaseWeightPresenceMustMatchTheParams) {
    Valid missing;
    missing.in.w.base_weight = Tensor();
    expect_error_all([&] { forward(missing); }, ErrorCode::kBadArgument,
                     {"base_weight must be a tensor of shape (3, 5)", "undefined"});
    Valid extra;
    extra.p.base = false;
    expect_error_all([&] { forward(extra); }, ErrorCode::kBadArgument,
                     {"base_weight must be undefined when params.base is false", "(3, 5)"});
}

TEST(WavKanBadInput, BatchNormTensorsMustMatchTheParams) {
    Valid missing;
    missing.in.w.bn_bias = Tensor();
    expect_error_all([&] { forward(missing); }, ErrorCode::kBadArgument,
                     {"bn_bias must be a tensor of shape (3,)", "undefined"});
    Valid shape;
    shape.in.w.bn_weight = f32(Shape{4});
    expect_error_all([&] { forward(shape); }, ErrorCode::kBadArgument,
                     {"bn_weight must have shape (3,)", "(4,)"});
    Valid extra;
    extra.p.batchnorm = false;
    extra.pass_running = false;
    expect_error_all([&] { forward(extra); }, ErrorCode::kBadArgument,
                     {"bn_weight must be undefined when params.batchnorm is false", "(3,)"});
    extra.in.w.bn_weight = Tensor();
    expect_error_all([&] { forward(extra); }, ErrorCode::kBadArgument,
                     {"bn_bias must be undefined when params.batchnorm is false"});
}

TEST(WavKanBadInput, RunningStatisticsMustMatchTheParams) {
    Valid null;
    null.pass_running = false;
    expect_error([&] { forward(null); }, ErrorCode::kBadArgument,
                 "running statistics must be given when params.batchnorm is true");
    Valid extra;
    extra.p.batchnorm = false;
    extra.in.w.bn_weight = extra.in.w.bn_bias = Tensor();
    expect_error([&] { forward(extra); }, ErrorCode::kBadArgument,
                 "running statistics must be null when params.batchnorm is false");
    Valid shape;
    shape.in.running.var = f32(Shape{3, 1}, 1.0);
    expect_error_all([&] { forward(shape); }, ErrorCode::kBadArgument,
                     {"running.var must have shape (3,)", "(3, 1)"});
    Valid undefined;
    undefined.in.running.mean = Tensor();
    expect_error_all([&] { forward(undefined); }, ErrorCode::kBadArgument,
                     {"running.mean must be a tensor", "undefined"});
    Valid dtype;
    dtype.in.running.mean = Tensor::full(Shape{3}, 0.0, DType::kFloat64);
    expect_error_all([&] { forward(dtype); }, ErrorCode::kBadArgument,
                     {"running.mean must be float32", "float64"});
}

// PyTorch raises "Expected more than 1 value per channel when training"; evaluation normalises
// with the running statistics and takes B = 1.
TEST(WavKanBadInput, OneSampleNeedsEvaluationModeWithBatchNorm) {
    Valid v;
    v.in.x = f32(Shape{1, 5});
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"batch norm in training needs B >= 2", "(1, 5)"});
    v.p.training = false;
    EXPECT_NO_THROW(forward(v));
    Valid off;
    off.in.x = f32(Shape{1, 5});
    off.p.batchnorm = false;
    off.pass_running = false;
    off.in.w.bn_weight = off.in.w.bn_bias = Tensor();
    EXPECT_NO_THROW(forward(off));
}

TEST(WavKanBadInput, AZeroScaleIsRejectedWithItsIndex) {
    Valid v;
    v.in.w.scale = with_value(v.in.w.scale, 1 * 5 + 3, 0.0);
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"wavkan: scale must be finite", "got 0 at [1, 3]"});
    v.in.w.scale = with_value(v.in.w.scale, 1 * 5 + 3, -0.0);
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument, {"scale", "at [1, 3]"});
}

// Non-finite values would poison whole batch-norm channels (WAVKAN.md 5): every input and
// parameter is checked, and the message names it and the first bad index.
TEST(WavKanBadInput, NonFiniteInputsAndParametersAreRejectedWithTheirIndex) {
    const struct {
        const char* name;
        std::int64_t index;
        const char* where;
    } cases[] = {{"x", 7, "[1, 2]"},           {"scale", 14, "[2, 4]"},
                 {"translation", 0, "[0, 0]"}, {"wavelet_weights", 6, "[1, 1]"},
                 {"base_weight", 9, "[1, 4]"}, {"bn_weight", 2, "[2]"},
                 {"bn_bias", 1, "[1]"},        {"running.mean", 0, "[0]"},
                 {"running.var", 2, "[2]"}};
    for (const auto& c : cases) {
        for (const double bad : {kNaN, kInf, -kInf}) {
            Valid v;
            const std::string name = c.name;
            Tensor& t = name == "x"                 ? v.in.x
                        : name == "scale"           ? v.in.w.scale
                        : name == "translation"     ? v.in.w.translation
                        : name == "wavelet_weights" ? v.in.w.wavelet_weights
                        : name == "base_weight"     ? v.in.w.base_weight
                        : name == "bn_weight"       ? v.in.w.bn_weight
                        : name == "bn_bias"         ? v.in.w.bn_bias
                        : name == "running.mean"    ? v.in.running.mean
                                                    : v.in.running.var;
            t = with_value(t, c.index, bad);
            const Tensor before_mean = v.in.running.mean.clone();
            const Tensor before_var = v.in.running.var.clone();
            expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                             {"wavkan: " + name + " must be finite", std::string("at ") + c.where});
            if (name != "running.mean" && name != "running.var") {  // nothing half-written
                EXPECT_EQ(host_bytes(v.in.running.mean), host_bytes(before_mean)) << name;
                EXPECT_EQ(host_bytes(v.in.running.var), host_bytes(before_var)) << name;
            }
        }
    }
}

// A variance below 0 makes eval mode's sqrt(running_var + eps) NaN: rejected in either mode, with
// its index, the running statistics untouched; -0 is a variance of 0.
TEST(WavKanBadInput, NegativeRunningVarianceIsRejectedWithItsIndex) {
    for (const bool training : {true, false}) {
        for (const double bad : {-0.5, -1e-30}) {
            Valid v;
            v.p.training = training;
            v.in.running.var = with_value(v.in.running.var, 1, bad);
            const Tensor before = v.in.running.var.clone();
            expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                             {"wavkan: running.var must be finite and >= 0", "at [1]"});
            EXPECT_EQ(host_bytes(v.in.running.var), host_bytes(before));
        }
        Valid zero;
        zero.p.training = training;
        zero.in.running.var = with_value(zero.in.running.var, 1, -0.0);
        EXPECT_NO_THROW(forward(zero));
    }
}

TEST(WavKanBadInput, BatchNormEpsAndMomentumOutOfRange) {
    for (const double eps : {0.0, -1e-5, kNaN, kInf}) {
        Valid v;
        v.p.bn_eps = eps;
        expect_error([&] { forward(v); }, ErrorCode::kBadArgument,
                     "params.bn_eps must be finite and > 0");
    }
    for (const double momentum : {-0.1, 1.5, kNaN, kInf}) {
        Valid v;
        v.p.bn_momentum = momentum;
        expect_error([&] { forward(v); }, ErrorCode::kBadArgument,
                     "params.bn_momentum must be in [0, 1]");
    }
    for (const double momentum : {0.0, 1.0}) {  // the ends are valid
        Valid v;
        v.p.bn_momentum = momentum;
        EXPECT_NO_THROW(forward(v)) << momentum;
    }
}

TEST(WavKanBadInput, UnknownWavelets) {
    Valid v;
    v.p.wavelet = static_cast<KanWavelet>(99);
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"wavelet must be one of mexican_hat, morlet, dog, meyer, shannon", "99"});
    expect_error_all([] { kan_wavelet_from_name("haar"); }, ErrorCode::kBadArgument,
                     {"wavelet must be one of", "\"haar\""});
    expect_error([] { kan_wavelet_from_name("Mexican_Hat"); }, ErrorCode::kBadArgument,
                 "\"Mexican_Hat\"");
    for (const KanWavelet w : kAllKanWavelets) {
        EXPECT_EQ(kan_wavelet_from_name(kan_wavelet_name(w)), w);
    }
}

// A tensor on another device than x is a bad argument (the op runs where x is); only with a GPU.
TEST(WavKanBadInput, ParametersOnAnotherDeviceThanX) {
    if (!cuda_present()) {
        GTEST_SKIP() << "no CUDA device";
    }
    Valid v;
    v.in.w.translation = v.in.w.translation.to(Device::cuda(0));
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"translation must be on cpu", "cuda:0"});
}

TEST(WavKanBadInput, BackwardChecksDyAndSaved) {
    Valid v;
    WavKanSaved saved;
    forward(v, &saved);
    Context ctx;
    const Tensor dy = f32(Shape{4, 3});
    EXPECT_NO_THROW(wavkan_backward(ctx, dy, v.in.w, v.p, saved));
    expect_error_all(
        [&] {
            wavkan_backward(ctx, f32(Shape{4, 4}), v.in.w, v.p, saved);
        },
        ErrorCode::kBadArgument, {"dy must have shape (4, 3)", "(4, 4)"});
    expect_error_all([&] { wavkan_backward(ctx, f32(Shape{12}), v.in.w, v.p, saved); },
                     ErrorCode::kBadArgument, {"dy must have shape (4, 3)", "(12,)"});
    expect_error_all(
        [&] {
            wavkan_backward(ctx, Tensor::full(Shape{4, 3}, 0.5, DType::kFloat64), v.in.w, v.p,
                            saved);
        },
        ErrorCode::kBadArgument, {"dy must be float32", "float64"});
    expect_error_all([&] { wavkan_backward(ctx, dy, v.in.w, v.p, WavKanSaved{}); },
                     ErrorCode::kBadArgument, {"saved.x must be the forward's input", "undefined"});
    // A forward without batch norm saves no statistics: a backward with batch norm cannot run.
    Valid off;
    off.p.batchnorm = false;
    off.pass_running = false;
    off.in.w.bn_weight = off.in.w.bn_bias = Tensor();
    WavKanSaved plain;
    forward(off, &plain);
    expect_error_all([&] { wavkan_backward(ctx, dy, v.in.w, v.p, plain); }, ErrorCode::kBadArgument,
                     {"saved.z must be a tensor", "undefined"});
}

// Checks precede every write: a rejected training forward leaves the running statistics as they
// were (a shape error, a zero scale, B = 1, a bad momentum).
TEST(WavKanBadInput, ARejectedTrainingForwardLeavesTheRunningStatisticsUnchanged) {
    for (int field = 0; field < 4; ++field) {
        Valid v;
        if (field == 0) {
            v.in.w.translation = f32(Shape{3, 4});
        } else if (field == 1) {
            v.in.w.scale = with_value(v.in.w.scale, 4, 0.0);
        } else if (field == 2) {
            v.in.x = f32(Shape{1, 5});
        } else {
            v.p.bn_momentum = 2.0;
        }
        const std::string mean = host_bytes(v.in.running.mean);
        const std::string var = host_bytes(v.in.running.var);
        EXPECT_THROW(forward(v), Error) << field;
        EXPECT_EQ(host_bytes(v.in.running.mean), mean) << field;
        EXPECT_EQ(host_bytes(v.in.running.var), var) << field;
    }
    Valid ok;  // and a valid one does update them
    const std::string mean = host_bytes(ok.in.running.mean);
    forward(ok);
    EXPECT_NE(host_bytes(ok.in.running.mean), mean);
}

}  // namespace
}  // namespace wtconv::test
