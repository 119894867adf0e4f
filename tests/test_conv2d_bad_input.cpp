// conv2d bad input: every rejected argument throws wtconv::Error naming the argument, what was
// expected and what came, before anything is written.
#include <gtest/gtest.h>

#include <wtconv/ops/conv2d.h>

#include "support/test_support.h"

namespace wtconv::test {
namespace {

struct Valid {
    Tensor x = Tensor::full(Shape{2, 4, 6, 6}, 1.0, DType::kFloat32);
    Conv2dWeights w{Tensor::full(Shape{6, 2, 3, 3}, 0.5, DType::kFloat32),
                    Tensor::full(Shape{6}, 0.1, DType::kFloat32)};
    Conv2dParams p = grouped();
    static Conv2dParams grouped() {
        Conv2dParams params;
        params.groups = 2;
        params.pad_h = params.pad_w = 1;
        return params;
    }
};

void forward(const Valid& v) {
    Context ctx;
    conv2d_forward(ctx, v.x, v.w, v.p);
}

TEST(Conv2dBadInput, TheValidBaselineRuns) {
    EXPECT_NO_THROW(forward(Valid{}));
}

TEST(Conv2dBadInput, ChannelsNotDivisibleByGroups) {
    Valid v;
    v.p.groups = 3;
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"conv2d", "divisible by groups 3", "4 channels"});
    Valid o;
    o.w.weight = Tensor::full(Shape{5, 2, 3, 3}, 0.5, DType::kFloat32);
    o.w.bias = Tensor::full(Shape{5}, 0.1, DType::kFloat32);
    expect_error_all([&] { forward(o); }, ErrorCode::kBadArgument,
                     {"out channels", "multiple of groups 2", "(5, 2, 3, 3)"});
}

TEST(Conv2dBadInput, KernelLargerThanThePaddedInput) {
    Valid v;
    v.w.weight = Tensor::full(Shape{6, 2, 9, 3}, 0.5, DType::kFloat32);
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"must fit the padded input", "kernel (9, 3)", "6x6"});
    Valid d;
    d.p.dilation_h = 4;  // 3 taps 4 apart span 9 > 6 + 2
    expect_error_all([&] { forward(d); }, ErrorCode::kBadArgument,
                     {"must fit the padded input", "dilation (4, 1)"});
}

TEST(Conv2dBadInput, WrongRanksAndShapes) {
    Valid v;
    v.x = Tensor::full(Shape{4, 6, 6}, 1.0, DType::kFloat32);
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"x must be (N, C, H, W)", "(4, 6, 6)"});
    Valid w;
    w.w.weight = Tensor::full(Shape{6, 2, 3}, 0.5, DType::kFloat32);
    expect_error_all([&] { forward(w); }, ErrorCode::kBadArgument, {"weight must be", "(6, 2, 3)"});
    Valid c;
    c.w.weight = Tensor::full(Shape{6, 4, 3, 3}, 0.5, DType::kFloat32);
    expect_error_all([&] { forward(c); }, ErrorCode::kBadArgument,
                     {"weight dim 1 must be C / groups = 2", "(6, 4, 3, 3)"});
    Valid b;
    b.w.bias = Tensor::full(Shape{5}, 0.1, DType::kFloat32);
    expect_error_all([&] { forward(b); }, ErrorCode::kBadArgument, {"bias", "(6,)", "(5,)"});
}

TEST(Conv2dBadInput, BiasPresenceMustMatchTheParams) {
    Valid missing;
    missing.w.bias = Tensor();
    expect_error_all([&] { forward(missing); }, ErrorCode::kBadArgument,
                     {"bias must be a tensor", "undefined"});
    Valid extra;
    extra.p.bias = false;
    expect_error_all([&] { forward(extra); }, ErrorCode::kBadArgument,
                     {"bias must be undefined", "(6,)"});
}

TEST(Conv2dBadInput, NonPositiveStrideNegativePaddingZeroDilationOrGroups) {
    for (int field = 0; field < 4; ++field) {
        Valid v;
        const char* words = "";
        switch (field) {
            case 0:
                v.p.stride_w = 0;
                words = "stride must be >= 1, got (1, 0)";
                break;
            case 1:
                v.p.pad_h = -1;
                words = "padding must be >= 0, got (-1, 1)";
                break;
            case 2:
                v.p.dilation_h = 0;
                words = "dilation must be >= 1, got (0, 1)";
                break;
            default:
                v.p.groups = 0;
                words = "groups must be >= 1, got 0";
                break;
        }
        expect_error([&] { forward(v); }, ErrorCode::kBadArgument, words);
    }
}

TEST(Conv2dBadInput, DtypeMismatchAndUnsupportedDtypes) {
    Valid v;
    v.w.weight = Tensor::full(Shape{6, 2, 3, 3}, 0.5, DType::kFloat64);
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument,
                     {"weight", "float32", "float64"});
    Valid i;
    i.x = Tensor::full(Shape{2, 4, 6, 6}, 1.0, DType::kInt32);
    expect_error_all([&] { forward(i); }, ErrorCode::kBadArgument,
                     {"x must be a floating dtype", "int32"});
    // Half types run on CUDA only.
    Valid h;
    h.x = Tensor::full(Shape{2, 4, 6, 6}, 1.0, DType::kFloat16);
    h.w.weight = Tensor::full(Shape{6, 2, 3, 3}, 0.5, DType::kFloat16);
    h.w.bias = Tensor::full(Shape{6}, 0.5, DType::kFloat16);
    expect_error_all([&] { forward(h); }, ErrorCode::kNotSupported, {"cpu", "float16"});
}

TEST(Conv2dBadInput, BackwardChecksDyAndTheSavedInput) {
    Valid v;
    Context ctx;
    Conv2dSaved saved;
    const Tensor y = conv2d_forward(ctx, v.x, v.w, v.p, &saved);
    const Tensor wrong = Tensor::full(Shape{2, 6, 5, 6}, 1.0, DType::kFloat32);
    expect_error_all([&] { conv2d_backward(ctx, wrong, v.w, v.p, saved); }, ErrorCode::kBadArgument,
                     {"dy", "(2, 6, 6, 6)", "(2, 6, 5, 6)"});
    expect_error_all([&] { conv2d_backward(ctx, y, v.w, v.p, Conv2dSaved{}); },
                     ErrorCode::kBadArgument, {"saved.x", "undefined"});
    expect_error_all([&] { conv2d_backward(ctx, y.to(DType::kFloat64), v.w, v.p, saved); },
                     ErrorCode::kBadArgument, {"dy", "float32", "float64"});
}

TEST(Conv2dBadInput, WeightsOnAnotherDeviceThanX) {
    if (!cuda_present()) {
        GTEST_SKIP() << "no CUDA device: a CUDA tensor cannot be made here";
    }
    Valid v;
    v.x = v.x.to(Device::cuda(0));
    expect_error_all([&] { forward(v); }, ErrorCode::kBadArgument, {"weight", "cuda:0", "cpu"});
}

TEST(Conv2dBadInput, AnAlgorithmTheDeviceCannotRun) {
    EXPECT_FALSE(conv2d_supports(Conv2dAlgo::kImg2col, Device::cpu(), DType::kFloat16));
    EXPECT_TRUE(conv2d_supports(Conv2dAlgo::kAuto, Device::cpu(), DType::kFloat32));
    EXPECT_FALSE(conv2d_supports(Conv2dAlgo::kImplicitGemm, Device::cpu(), DType::kFloat32));
    Valid v;
    v.p.algo = Conv2dAlgo::kImplicitGemm;
    expect_error_all([&] { forward(v); }, ErrorCode::kNotSupported,
                     {"implicit_gemm", "cpu", "float32"});
}

}  // namespace
}  // namespace wtconv::test
