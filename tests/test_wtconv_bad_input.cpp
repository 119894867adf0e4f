// wtconv2d / wtconv1d / the layers: every precondition of the spec's section 7 throws
// wtconv::Error with the right category and a message naming the argument and what came.
#include <gtest/gtest.h>

#include <wtconv/layers/wtconv.h>
#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

// A valid 2D call (N2 C3 8x8, K3, L2, db1, float32) that each test breaks in one way.
struct Valid2d {
    WTConvCase tc;
    Tensor x;
    WTConvWeights w;
    Context ctx;
    Valid2d() {
        tc.n = 2;
        tc.c = 3;
        tc.h = 8;
        tc.w = 8;
        tc.params.kernel_size = 3;
        tc.params.levels = 2;
        tc.dtype = DType::kFloat32;
        Rng rng(3);
        x = random_normal(rng, tc.x_shape(), tc.dtype);
        w = random_wtconv_weights(rng, tc);
    }
    void forward() { wtconv2d_forward(ctx, x, w, tc.params); }
};

constexpr ErrorCode kBad = ErrorCode::kBadArgument;

TEST(WTConv2dBadInput, WrongRankOfX) {
    Valid2d v;
    v.x = v.x.reshape({2, 3, 64});
    expect_error([&] { v.forward(); }, kBad,
                 "wtconv2d: x must have rank 4 (N, C, H, W), got shape (2, 3, 64)");
}

TEST(WTConv2dBadInput, ChannelMismatchBetweenXAndWeights) {
    Valid2d v;
    v.x = Tensor::zeros({2, 4, 8, 8}, DType::kFloat32);
    expect_error([&] { v.forward(); }, kBad,
                 "base_weight must have shape (4, 1, 3, 3), got (3, 1, 3, 3)");
}

TEST(WTConv2dBadInput, InChannelsDifferFromOutChannels) {
    expect_error([] { nn::WTConv2d(3, 6); }, kBad,
                 "WTConv2d: out_channels must equal in_channels (the layer is depthwise), got "
                 "in_channels 3 and out_channels 6");
    expect_error([] { nn::WTConv1d(2, 1); }, kBad, "WTConv1d: out_channels must equal in_channels");
}

TEST(WTConv2dBadInput, NegativeLevels) {
    Valid2d v;
    v.tc.params.levels = -1;
    expect_error([&] { v.forward(); }, kBad, "wtconv2d: levels must be >= 0, got -1");
}

TEST(WTConv2dBadInput, UnknownWavelet) {
    Valid2d v;
    v.tc.params.wavelet = "morlet";  // continuous: pywt rejects it for the DWT too
    expect_error([&] { v.forward(); }, kBad, "wavelet must be a discrete pywt wavelet such as db1");
    expect_error([&] { v.forward(); }, kBad, "got \"morlet\"");
    expect_error([] { nn::WTConv2d(2, 2, 5, 1, true, 1, "db99"); }, kBad, "got \"db99\"");
}

TEST(WTConv2dBadInput, KernelSizeBelowOne) {
    Valid2d v;
    v.tc.params.kernel_size = 0;
    expect_error([&] { v.forward(); }, kBad, "wtconv2d: kernel_size must be >= 1, got 0");
}

TEST(WTConv2dBadInput, StrideBelowOne) {
    Valid2d v;
    v.tc.params.stride = 0;
    expect_error([&] { v.forward(); }, kBad, "wtconv2d: stride must be >= 1, got 0");
    expect_error([] { nn::WTConv2d(2, 2, 5, -2); }, kBad, "stride must be >= 1, got -2");
}

TEST(WTConv2dBadInput, ParameterOfTheWrongShape) {
    Valid2d v;
    v.w.wavelet_weight[1] = Tensor::zeros({12, 1, 5, 5}, DType::kFloat32);
    expect_error([&] { v.forward(); }, kBad,
                 "wtconv2d: wavelet_weight[1] must have shape (12, 1, 3, 3), got (12, 1, 5, 5)");
    Valid2d s;
    s.w.wavelet_scale[0] = Tensor::zeros({1, 12, 1, 1}, DType::kFloat32);  // the state_dict shape
    expect_error([&] { s.forward(); }, kBad,
                 "wavelet_scale[0] must have shape (12,), got (1, 12, 1, 1)");
    Valid2d n;
    n.w.wavelet_weight.pop_back();
    expect_error([&] { n.forward(); }, kBad,
                 "wavelet_weight must hold one tensor per level (2), got 1");
    Valid2d b;
    b.w.base_bias = Tensor();
    expect_error([&] { b.forward(); }, kBad,
                 "base_bias must be a tensor of shape (3,), got an undefined tensor");
}

TEST(WTConv2dBadInput, DtypeMismatchBetweenInputAndWeights) {
    Valid2d v;
    v.w.base_scale = v.w.base_scale.to(DType::kFloat64);
    expect_error([&] { v.forward(); }, kBad, "wtconv2d: base_scale must be float32, got float64");
}

TEST(WTConv2dBadInput, DeviceMismatch) {
    Valid2d v;
    Context gpu(Device::cuda(0));
    expect_error([&] { wtconv2d_forward(gpu, v.x, v.w, v.tc.params); }, kBad,
                 "wtconv2d: x must be on the context's device cuda:0, got cpu");
    if (!cuda_present()) {
        GTEST_SKIP() << "no CUDA device for the weight-on-another-device case";
    }
    v.w.base_weight = v.w.base_weight.to(Device::cuda(0));
    expect_error([&] { v.forward(); }, kBad, "base_weight must be on cpu, got cuda:0");
}

TEST(WTConv2dBadInput, EmptyImageOrBatch) {
    Valid2d v;
    v.x = Tensor::zeros({2, 3, 0, 8}, DType::kFloat32);
    expect_error([&] { v.forward(); }, kBad,
                 "x must have spatial sizes >= 1, got shape (2, 3, 0, 8)");
    v.x = Tensor::zeros({0, 3, 8, 8}, DType::kFloat32);
    expect_error([&] { v.forward(); }, kBad, "x must have N >= 1 and C >= 1");
}

TEST(WTConv2dBadInput, BackwardChecksDyAndSavedState) {
    Valid2d v;
    WTConvSaved saved;
    const Tensor y = wtconv2d_forward(v.ctx, v.x, v.w, v.tc.params, &saved);
    expect_error(
        [&] {
            wtconv2d_backward(v.ctx, Tensor::zeros({2, 3, 8, 7}, DType::kFloat32), v.w, v.tc.params,
                              saved);
        },
        kBad, "wtconv2d: dy must have shape (2, 3, 8, 8), got (2, 3, 8, 7)");
    expect_error([&] { wtconv2d_backward(v.ctx, y.to(DType::kFloat64), v.w, v.tc.params, saved); },
                 kBad, "wtconv2d: dy must be float32, got float64");
    expect_error([&] { wtconv2d_backward(v.ctx, y, v.w, v.tc.params, WTConvSaved{}); }, kBad,
                 "saved.x must hold the forward input");
}

TEST(WTConv2dBadInput, AlgorithmTheDeviceCannotRun) {
    Valid2d v;
    v.tc.params.algo = static_cast<WTConvAlgo>(99);
    expect_error([&] { v.forward(); }, ErrorCode::kNotSupported,
                 "algo must be auto, planewise, direct or fused, got 99");
    v.tc.params.algo = WTConvAlgo::kFused;  // a CUDA algorithm
    expect_error([&] { v.forward(); }, ErrorCode::kNotSupported,
                 "algo must be auto, planewise or direct on the CPU, got fused");
}

TEST(WTConv1dBadInput, WrongRankAndTooShortForTheStride) {
    WTConvCase tc;
    tc.spatial = 1;
    tc.c = 2;
    tc.w = 5;
    tc.params.stride = 6;  // the reference's AvgPool1d fails: "Output size is too small"
    Rng rng(4);
    const WTConvWeights w = random_wtconv_weights(rng, tc);
    Context ctx;
    expect_error(
        [&] {
            wtconv1d_forward(ctx, Tensor::zeros({1, 2, 5}, DType::kFloat64), w, tc.params);
        },
        kBad, "wtconv1d: x length must be >= stride 6");
    tc.params.stride = 1;
    expect_error(
        [&] {
            wtconv1d_forward(ctx, Tensor::zeros({1, 2, 5, 1}, DType::kFloat64), w, tc.params);
        },
        kBad, "wtconv1d: x must have rank 3 (N, C, L), got shape (1, 2, 5, 1)");
}

}  // namespace
}  // namespace wtconv::test
