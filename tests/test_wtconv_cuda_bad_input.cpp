// test_wtconv_cuda: the CUDA preconditions. Tensors on different devices, a context on another
// device than x, and algorithm/dtype/wavelet combinations no CUDA algorithm runs each throw
// wtconv::Error with the right category and a message naming the argument; both ranks.
#include <gtest/gtest.h>

#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

constexpr ErrorCode kBad = ErrorCode::kBadArgument;
constexpr ErrorCode kUnsupported = ErrorCode::kNotSupported;

// A valid call on cuda:0 (N2 C3, 8x8 or length 16, K3, L2, db1, float32: direct runs both ranks,
// fused the 2D one) that each test breaks in one way.
struct ValidCall {
    WTConvCase tc;
    Tensor x;
    WTConvWeights w;
    Context ctx = cuda_test_context();

    explicit ValidCall(int spatial, DType dtype = DType::kFloat32) {
        tc.spatial = spatial;
        tc.n = 2;
        tc.c = 3;
        tc.h = spatial == 2 ? 8 : 1;
        tc.w = spatial == 2 ? 8 : 16;
        tc.params.kernel_size = 3;
        tc.params.levels = 2;
        tc.dtype = dtype;
        Rng rng(3);
        x = random_normal(rng, tc.x_shape(), dtype, Device::cuda(0));
        w = random_wtconv_weights(rng, tc, Device::cuda(0));
    }
    std::string op() const { return tc.spatial == 2 ? "wtconv2d" : "wtconv1d"; }
    Tensor forward() { return wtconv_forward(ctx, tc, x, w); }
    bool supported() const { return wtconv_supports(tc, tc.params.algo, Device::cuda(0)); }
};

class WTConvCudaBadInput : public CudaTest {};

TEST_F(WTConvCudaBadInput, WeightOnTheCpuWhileXIsOnCuda) {
    for (const int spatial : {2, 1}) {
        ValidCall base(spatial);
        base.w.base_weight = base.w.base_weight.to(Device::cpu());
        expect_error([&] { base.forward(); }, kBad,
                     base.op() + ": base_weight must be on cuda:0, got cpu");
        ValidCall bias(spatial);
        bias.w.base_bias = bias.w.base_bias.to(Device::cpu());
        expect_error([&] { bias.forward(); }, kBad, "base_bias must be on cuda:0, got cpu");
        ValidCall level(spatial);
        level.w.wavelet_scale[1] = level.w.wavelet_scale[1].to(Device::cpu());
        expect_error([&] { level.forward(); }, kBad, "wavelet_scale[1] must be on cuda:0, got cpu");
    }
}

TEST_F(WTConvCudaBadInput, XOnCudaWithAContextOnTheCpu) {
    for (const int spatial : {2, 1}) {
        ValidCall v(spatial);
        Context cpu;
        expect_error([&] { wtconv_forward(cpu, v.tc, v.x, v.w); }, kBad,
                     v.op() + ": x must be on the context's device cpu, got cuda:0");
    }
}

TEST_F(WTConvCudaBadInput, DyOnAnotherDeviceThanTheForwardInput) {
    for (const int spatial : {2, 1}) {
        ValidCall v(spatial);
        WTConvSaved saved;
        const Tensor y = wtconv_forward(v.ctx, v.tc, v.x, v.w, &saved);
        expect_error([&] { wtconv_backward(v.ctx, v.tc, y.to(Device::cpu()), v.w, saved); }, kBad,
                     v.op() + ": dy must be on cuda:0, got cpu");
    }
}

TEST_F(WTConvCudaBadInput, HalfDtypeWithTheDirectAlgorithm) {
    for (const int spatial : {2, 1}) {
        for (const DType half : {DType::kFloat16, DType::kBFloat16}) {
            ValidCall v(spatial, half);
            v.tc.params.algo = WTConvAlgo::kDirect;
            EXPECT_FALSE(v.supported()) << dtype_name(half);
            expect_error_all([&] { v.forward(); }, kUnsupported,
                             {v.op() + ":", "direct", dtype_name(half)});
            // Where the fused algorithm takes the same call, the message above is about the
            // algorithm and not about the tensors.
            v.tc.params.algo = WTConvAlgo::kFused;
            if (wtconv_promised(WTConvAlgo::kFused, Device::cuda(0), v.tc)) {
                EXPECT_TRUE(v.supported()) << dtype_name(half);
                EXPECT_NO_THROW(v.forward()) << dtype_name(half);
            }
        }
    }
}

TEST_F(WTConvCudaBadInput, FusedWithANonHaarWavelet) {
    for (const int spatial : {2, 1}) {
        ValidCall v(spatial);
        v.tc.params.algo = WTConvAlgo::kFused;
        v.tc.params.wavelet = "db2";
        EXPECT_FALSE(v.supported());
        expect_error_all([&] { v.forward(); }, kUnsupported, {v.op() + ":", "fused", "db2"});
        v.tc.params.algo = WTConvAlgo::kDirect;
        EXPECT_TRUE(v.supported());
        EXPECT_NO_THROW(v.forward());
    }
}

TEST_F(WTConvCudaBadInput, PlanewiseOnCuda) {
    for (const int spatial : {2, 1}) {
        ValidCall v(spatial);
        v.tc.params.algo = WTConvAlgo::kPlanewise;
        EXPECT_FALSE(v.supported());
        expect_error_all([&] { v.forward(); }, kUnsupported, {v.op() + ":", "planewise"});
        // Backward chooses its algorithm too: a saved state from a valid forward does not help.
        WTConvCase direct = v.tc;
        direct.params.algo = WTConvAlgo::kDirect;
        WTConvSaved saved;
        const Tensor y = wtconv_forward(v.ctx, direct, v.x, v.w, &saved);
        expect_error_all([&] { wtconv_backward(v.ctx, v.tc, y, v.w, saved); }, kUnsupported,
                         {v.op() + ":", "planewise"});
    }
}

}  // namespace
}  // namespace wtconv::test
