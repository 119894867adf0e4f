// nn::QatConv2d: its forward is the float conv between fake quantisers, its gradients are the
// straight-through ones, and its int8 conversion equals the fake-quantised model within one output
// quantisation step (issue 5's claim), on the portable and (where present) VNNI products.
#include <cmath>

#include <gtest/gtest.h>

#include <wtconv/layers/qat_conv2d.h>

#include "support/test_support.h"

namespace wtconv::test {
namespace {

nn::Conv2d float_conv(unsigned long long seed) {
    LayerOptions options;
    options.seed = seed;
    return nn::Conv2d(6, 10, 3, 1, 1, 1, 1, true, options);
}

std::int64_t zeros_of(const Tensor& t) {
    std::int64_t n = 0;
    for (const double v : t.to_vector()) {
        n += v == 0.0;
    }
    return n;
}

TEST(QatConv2d, ForwardIsTheFloatConvBetweenFakeQuantisers) {
    Rng rng(1);
    nn::QatConv2d qat(float_conv(1));
    const Tensor x = random_normal(rng, Shape{2, 6, 9, 8}, DType::kFloat32);
    const Tensor y = qat.forward(x);
    Context ctx;
    const Tensor w_fq =
        fake_quant_forward(ctx, qat.conv().weights().weight, qat.weight_fake_quant().qparams());
    const Tensor y_float =
        conv2d_forward(ctx, x, Conv2dWeights{w_fq, qat.conv().weights().bias}, qat.conv().params());
    const Tensor want = fake_quant_forward(ctx, y_float, qat.output_fake_quant().qparams());
    EXPECT_EQ(host_bytes(y), host_bytes(want));
    // The weights really are quantised: at most 256 levels per output channel.
    EXPECT_NE(host_bytes(w_fq), host_bytes(qat.conv().weights().weight));
}

TEST(QatConv2d, GradientsAreStraightThroughAndAccumulate) {
    Rng rng(2);
    nn::QatConv2d qat(float_conv(2));
    const Tensor x = random_normal(rng, Shape{1, 6, 7, 7}, DType::kFloat32);
    const Tensor y = qat.forward(x);
    const Tensor dy = random_normal(rng, y.shape(), DType::kFloat32);
    qat.zero_grad();
    const Tensor dx = qat.backward(dy);
    EXPECT_EQ(dx.shape(), x.shape());
    // dW is the float conv's dW at the quantised weight for the output-masked dy, masked again by
    // the weight's clipping (each channel's largest |w| sits at 127.5 steps and rounds to 128,
    // outside qint8, so it is clipped): check against the ops directly.
    Context ctx;
    FakeQuantSaved out_saved;
    FakeQuantSaved w_saved;
    Conv2dSaved saved;
    const Tensor w_fq = fake_quant_forward(ctx, qat.conv().weights().weight,
                                           qat.weight_fake_quant().qparams(), &w_saved);
    const Conv2dWeights w{w_fq, qat.conv().weights().bias};
    fake_quant_forward(ctx, conv2d_forward(ctx, x, w, qat.conv().params(), &saved),
                       qat.output_fake_quant().qparams(), &out_saved);
    const Conv2dGrads g = conv2d_backward(ctx, fake_quant_backward(ctx, dy, out_saved), w,
                                          qat.conv().params(), saved);
    EXPECT_EQ(host_bytes(qat.conv().grads().weight),
              host_bytes(fake_quant_backward(ctx, g.dweights.weight, w_saved)));
    EXPECT_LT(zeros_of(w_saved.mask), w_saved.mask.numel()) << "not every weight clipped";
    EXPECT_GT(zeros_of(w_saved.mask), 0) << "the largest weight of each channel clips";
    EXPECT_EQ(host_bytes(dx), host_bytes(g.dx));
}

TEST(QatConv2d, Int8ConversionMatchesTheFakeQuantisedModelWithinOneStep) {
    Rng rng(3);
    nn::QatConv2d qat(float_conv(3));
    FakeQuantize input_fq(ObserverParams::activation(true));
    // A few training-mode batches set the observers' moving averages.
    for (int step = 0; step < 4; ++step) {
        qat.forward(input_fq.forward(random_normal(rng, Shape{2, 6, 11, 9}, DType::kFloat32)));
    }
    qat.enable_observers(false);
    input_fq.enable_observer(false);
    const Tensor x = random_normal(rng, Shape{2, 6, 11, 9}, DType::kFloat32);
    const Tensor y_fq = qat.forward(input_fq.forward(x));

    const QuantParams& iq = input_fq.qparams();
    const ActivationQuant input{iq.scale[0], iq.zero_point[0], iq.quant_min, iq.quant_max};
    nn::QatConv2d::Int8 int8 = qat.convert(input);
    Context ctx;
    const Tensor x_q = quantize_activation(ctx, x, input);
    for (const Conv2dInt8Algo algo : {Conv2dInt8Algo::kPortable, Conv2dInt8Algo::kVnni,
                                      Conv2dInt8Algo::kAvx2, Conv2dInt8Algo::kAmx}) {
        if (!conv2d_int8_supports(algo)) {
            continue;
        }
        int8.params.algo = algo;
        const Tensor y = dequantize_activation(
            ctx, conv2d_int8_forward(ctx, x_q, int8.weights, int8.params), int8.params.output);
        const std::vector<double> a = y.to_vector();
        const std::vector<double> b = y_fq.to_vector();
        const double step = int8.params.output.scale;
        int differ = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_LE(std::abs(a[i] - b[i]), step * 1.0001) << "element " << i;
            differ += a[i] != b[i];
        }
        // Float32 sums against exact integer ones: a rare element lands one step apart.
        EXPECT_LT(differ, static_cast<int>(a.size()) / 20) << conv2d_int8_algo_name(algo);
    }
}

TEST(QatConv2d, ConvertBeforeAnyForwardThrows) {
    nn::QatConv2d qat(float_conv(4));
    expect_error([&] { qat.convert(ActivationQuant{}); }, ErrorCode::kBadArgument,
                 "convert needs observed weights and outputs");
}

}  // namespace
}  // namespace wtconv::test
