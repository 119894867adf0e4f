// nn::WavKANLinear: the original KANLinear's initialisation and state_dict names, the layer against
// the op, gradient accumulation, train() / eval() and the running statistics, set_input_gradient,
// and constructor errors.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/layers/wavkan.h>

#include "support/wavkan_cases.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {
namespace {

LayerOptions options(DType dtype, unsigned long long seed) {
    LayerOptions o;
    o.dtype = dtype;
    o.seed = seed;
    return o;
}

// Kaiming-uniform with a = sqrt(5) on (O, I): U(-1/sqrt(I), 1/sqrt(I)) (WAVKAN.md 2); 35 draws
// also spread over most of the interval (all inside 0.8 of the bound: probability 0.8^35 ~ 4e-4
// per end, and the seeds are fixed).
void expect_kaiming_uniform(const Tensor& t, std::int64_t in_features, const char* what) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    const std::vector<double> v = t.to_vector();
    double lo = bound, hi = -bound;
    for (const double e : v) {
        EXPECT_GE(e, -bound) << what;
        EXPECT_LE(e, bound) << what;
        lo = std::min(lo, e);
        hi = std::max(hi, e);
    }
    EXPECT_LT(lo, -0.8 * bound) << what << ": values should fill the range";
    EXPECT_GT(hi, 0.8 * bound) << what << ": values should fill the range";
}

TEST(WavKanLayer, InitialisesLikeTheOriginalKanLinear) {
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
        nn::WavKANLinear layer(7, 5, KanWavelet::kMorlet, true, true, options(dtype, 3));
        EXPECT_TRUE(layer.training());
        EXPECT_EQ(layer.in_features(), 7);
        EXPECT_EQ(layer.out_features(), 5);
        EXPECT_EQ(layer.params().wavelet, KanWavelet::kMorlet);
        const WavKanWeights& w = layer.weights();
        for (const Tensor* t : {&w.scale, &w.translation, &w.wavelet_weights, &w.base_weight}) {
            EXPECT_EQ(t->shape(), (Shape{5, 7}));
            EXPECT_EQ(t->dtype(), dtype);
        }
        EXPECT_EQ(w.scale.to_vector(), std::vector<double>(35, 1.0));
        EXPECT_EQ(w.translation.to_vector(), std::vector<double>(35, 0.0));
        EXPECT_EQ(w.bn_weight.to_vector(), std::vector<double>(5, 1.0));
        EXPECT_EQ(w.bn_bias.to_vector(), std::vector<double>(5, 0.0));
        EXPECT_EQ(layer.running_stats().mean.to_vector(), std::vector<double>(5, 0.0));
        EXPECT_EQ(layer.running_stats().var.to_vector(), std::vector<double>(5, 1.0));
        expect_kaiming_uniform(w.wavelet_weights, 7, "wavelet_weights");
        expect_kaiming_uniform(w.base_weight, 7, "base_weight");
        EXPECT_NE(w.base_weight.to_vector(), w.wavelet_weights.to_vector());  // drawn after it
        for (const NamedParameter& p : layer.named_parameters()) {  // gradients start at 0
            EXPECT_EQ(p.grad->to_vector(), std::vector<double>(p.value->numel(), 0.0)) << p.name;
        }

        nn::WavKANLinear same(7, 5, KanWavelet::kMorlet, true, true, options(dtype, 3));
        nn::WavKANLinear other(7, 5, KanWavelet::kMorlet, true, true, options(dtype, 4));
        EXPECT_EQ(host_bytes(same.weights().wavelet_weights), host_bytes(w.wavelet_weights));
        EXPECT_EQ(host_bytes(same.weights().base_weight), host_bytes(w.base_weight));
        EXPECT_NE(host_bytes(other.weights().wavelet_weights), host_bytes(w.wavelet_weights));
        EXPECT_NE(host_bytes(other.weights().base_weight), host_bytes(w.base_weight));
    }
    nn::WavKANLinear plain(4, 2);  // the original's defaults: mexican hat, no base, batch norm
    EXPECT_EQ(plain.params().wavelet, KanWavelet::kMexicanHat);
    EXPECT_FALSE(plain.params().base);
    EXPECT_TRUE(plain.params().batchnorm);
    EXPECT_FALSE(plain.weights().base_weight.defined());
    nn::WavKANLinear no_bn(4, 2, KanWavelet::kDog, false, false);
    EXPECT_FALSE(no_bn.weights().bn_weight.defined());
    EXPECT_FALSE(no_bn.running_stats().mean.defined());
    EXPECT_FALSE(no_bn.running_stats().var.defined());
}

// The original's state_dict names, in its registration order, each pointing at the layer's own
// value and gradient.
TEST(WavKanLayer, NamedParametersFollowTheOriginalStateDict) {
    for (const bool base : {false, true}) {
        for (const bool bn : {false, true}) {
            nn::WavKANLinear layer(3, 2, KanWavelet::kMeyer, base, bn);
            WavKanWeights& w = layer.weights();
            WavKanWeights& g = layer.grads();
            std::vector<std::tuple<std::string, Tensor*, Tensor*>> want{
                {"scale", &w.scale, &g.scale},
                {"translation", &w.translation, &g.translation},
                {"wavelet_weights", &w.wavelet_weights, &g.wavelet_weights}};
            if (base) {
                want.emplace_back("weight1", &w.base_weight, &g.base_weight);
            }
            if (bn) {
                want.emplace_back("bn.weight", &w.bn_weight, &g.bn_weight);
                want.emplace_back("bn.bias", &w.bn_bias, &g.bn_bias);
            }
            const std::vector<NamedParameter> got = layer.named_parameters();
            ASSERT_EQ(got.size(), want.size()) << "base " << base << ", bn " << bn;
            for (std::size_t k = 0; k < got.size(); ++k) {
                EXPECT_EQ(got[k].name, std::get<0>(want[k]));
                EXPECT_EQ(got[k].value, std::get<1>(want[k])) << got[k].name;
                EXPECT_EQ(got[k].grad, std::get<2>(want[k])) << got[k].name;
                EXPECT_EQ(got[k].grad->shape(), got[k].value->shape()) << got[k].name;
            }
        }
    }
}

// The layer's weights replaced by random ones (through its own tensors), with the case's x and dy.
struct LayerSetup {
    WavKanCase tc;
    WavKanInputs in;
    nn::WavKANLinear layer;
    explicit LayerSetup(const WavKanCase& c)
        : tc(c),
          in(random_wavkan_inputs(c)),
          layer(c.i, c.o, c.wavelet, c.base, c.bn != BnMode::kOff, options(c.dtype, 1)) {
        for (const NamedParameter& p : layer.named_parameters()) {
            const std::string& n = p.name;
            const Tensor& src = n == "scale"             ? in.w.scale
                                : n == "translation"     ? in.w.translation
                                : n == "wavelet_weights" ? in.w.wavelet_weights
                                : n == "weight1"         ? in.w.base_weight
                                : n == "bn.weight"       ? in.w.bn_weight
                                                         : in.w.bn_bias;
            p.value->copy_from(src);
        }
        if (c.bn != BnMode::kOff) {
            layer.running_stats().mean.copy_from(in.running.mean);
            layer.running_stats().var.copy_from(in.running.var);
        }
        if (c.bn == BnMode::kEval) {
            layer.eval();
        }
    }
};

TEST(WavKanLayer, ForwardAndBackwardAreTheOpsAndGradientsAccumulate) {
    std::uint64_t seed = test_seed() + 20;
    int k = 0;
    for (const KanWavelet wavelet : kAllKanWavelets) {
        for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
            const WavKanCase tc{6, 9, 4, wavelet, k % 2 == 0, BnMode(k % 3), dtype, 2, seed++};
            ++k;
            LayerSetup s(tc);
            const WavKanResult want =
                run_wavkan(default_context(Device::cpu()), s.in, wavkan_params(tc));
            EXPECT_EQ(host_bytes(s.layer.forward(s.in.x)), host_bytes(want.y)) << describe(tc);
            EXPECT_EQ(host_bytes(s.layer.running_stats().mean), host_bytes(want.running.mean));
            EXPECT_EQ(host_bytes(s.layer.running_stats().var), host_bytes(want.running.var));
            EXPECT_EQ(host_bytes(s.layer.backward(s.in.dy)), host_bytes(want.grads.dx))
                << describe(tc);
            // The op's gradients in the layer's parameter order (WavKanWeights' field order).
            const WavKanWeights& d = want.grads.dweights;
            std::vector<const Tensor*> op{&d.scale, &d.translation, &d.wavelet_weights};
            if (tc.base) {
                op.push_back(&d.base_weight);
            }
            if (tc.bn != BnMode::kOff) {
                op.push_back(&d.bn_weight);
                op.push_back(&d.bn_bias);
            }
            const std::vector<NamedParameter> params = s.layer.named_parameters();
            ASSERT_EQ(params.size(), op.size()) << describe(tc);
            for (std::size_t j = 0; j < op.size(); ++j) {  // 0 + g = g
                EXPECT_EQ(params[j].grad->to_vector(), op[j]->to_vector()) << params[j].name;
            }
            s.layer.backward(s.in.dy);  // g + g = 2 g exactly
            for (std::size_t j = 0; j < op.size(); ++j) {
                std::vector<double> twice = op[j]->to_vector();
                for (double& v : twice) {
                    v *= 2;
                }
                EXPECT_EQ(params[j].grad->to_vector(), twice) << params[j].name << describe(tc);
            }
            s.layer.zero_grad();
            for (const NamedParameter& p : params) {
                EXPECT_EQ(p.grad->to_vector(), std::vector<double>(p.grad->numel(), 0.0)) << p.name;
            }
        }
    }
}

// train(): batch statistics, and the running ones updated as the reference (PyTorch) does, with
// the unbiased variance; eval(): the running statistics normalise and stay untouched.
TEST(WavKanLayer, TrainAndEvalSwitchTheBatchNormStatistics) {
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
        const WavKanCase tc{8, 5, 3, KanWavelet::kDog, false, BnMode::kTraining, dtype, 2, 31};
        LayerSetup s(tc);
        const ref::Array x = to_ref(s.in.x);
        ref::WavKanConfig c = to_ref_config(wavkan_params(tc));
        // float64: the same sums in another order, a few ulps; float32: the 1e-5 of every op (the
        // statistics are taken in double from float32 z and rounded once).
        const double tol = dtype == DType::kFloat64 ? 1e-12 : 1e-5;

        ref::WavKanForwardRef want =
            ref::wavkan_forward(x, to_ref_tensors(s.in.w, s.in.running), c);
        const Tensor y_train = s.layer.forward(s.in.x);
        EXPECT_LT(rel_l2_error(y_train, want.y), tol) << dtype_name(dtype);
        EXPECT_LT(rel_l2_error(s.layer.running_stats().mean, want.running_mean_out), tol);
        EXPECT_LT(rel_l2_error(s.layer.running_stats().var, want.running_var_out), tol);

        s.layer.eval();
        EXPECT_FALSE(s.layer.training());
        EXPECT_FALSE(s.layer.params().training);
        const WavKanRunningStats updated = clone_running(s.layer.running_stats());
        c.training = false;
        want = ref::wavkan_forward(x, to_ref_tensors(s.in.w, updated), c);
        const Tensor y_eval = s.layer.forward(s.in.x);
        EXPECT_LT(rel_l2_error(y_eval, want.y), tol) << dtype_name(dtype);
        EXPECT_GT(rel_l2_error(y_eval.to_vector(), y_train.to_vector()), 1e-3);
        EXPECT_EQ(host_bytes(s.layer.running_stats().mean), host_bytes(updated.mean));
        EXPECT_EQ(host_bytes(s.layer.running_stats().var), host_bytes(updated.var));
        // One sample is fine in evaluation, an error in training.
        const Tensor one = Tensor::full(Shape{1, 5}, 0.25, dtype);
        EXPECT_EQ(s.layer.forward(one).shape(), (Shape{1, 3}));
        s.layer.train();
        EXPECT_TRUE(s.layer.training());
        expect_error([&] { s.layer.forward(one); }, ErrorCode::kBadArgument,
                     "batch norm in training needs B >= 2");
        s.layer.forward(s.in.x);  // a second training step moves them again
        EXPECT_NE(host_bytes(s.layer.running_stats().mean), host_bytes(updated.mean));
    }
}

TEST(WavKanLayer, WithoutInputGradientBackwardReturnsUndefinedAndTheSameWeightGradients) {
    const WavKanCase tc{5, 6, 4, KanWavelet::kShannon, true, BnMode::kTraining, DType::kFloat32,
                        2, 41};
    LayerSetup with(tc), without(tc);
    without.layer.set_input_gradient(false);
    with.layer.forward(with.in.x);
    without.layer.forward(without.in.x);
    EXPECT_TRUE(with.layer.backward(with.in.dy).defined());
    EXPECT_FALSE(without.layer.backward(without.in.dy).defined());
    const std::vector<NamedParameter> a = with.layer.named_parameters();
    const std::vector<NamedParameter> b = without.layer.named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        EXPECT_EQ(host_bytes(*b[k].grad), host_bytes(*a[k].grad)) << a[k].name;
    }
}

// The backward differentiates what the forward computed: a training forward followed by eval()
// still takes the batch statistics' gradient (and an eval forward followed by train() the running
// statistics'), bit for bit the same as without the switch.
TEST(WavKanLayer, BackwardFollowsTheForwardsBatchNormModeNotTheCurrentOne) {
    const WavKanCase tc{5, 6, 4, KanWavelet::kMexicanHat, false, BnMode::kTraining, DType::kFloat64,
                        2, 43};
    for (const bool forward_training : {true, false}) {
        LayerSetup steady(tc), switched(tc);
        steady.layer.train(forward_training);
        switched.layer.train(forward_training);
        steady.layer.forward(steady.in.x);
        switched.layer.forward(switched.in.x);
        switched.layer.train(!forward_training);
        const Tensor a = steady.layer.backward(steady.in.dy);
        const Tensor b = switched.layer.backward(switched.in.dy);
        EXPECT_EQ(host_bytes(a), host_bytes(b)) << "forward training " << forward_training;
        const std::vector<NamedParameter> ga = steady.layer.named_parameters();
        const std::vector<NamedParameter> gb = switched.layer.named_parameters();
        for (std::size_t k = 0; k < ga.size(); ++k) {
            EXPECT_EQ(host_bytes(*ga[k].grad), host_bytes(*gb[k].grad)) << ga[k].name;
        }
    }
}

TEST(WavKanLayer, RejectsEmptySizesAndUnknownWavelets) {
    expect_error_all([] { nn::WavKANLinear(0, 4); }, ErrorCode::kBadArgument,
                     {"WavKANLinear: in_features and out_features must be >= 1", "got 0 and 4"});
    expect_error_all([] { nn::WavKANLinear(3, 0); }, ErrorCode::kBadArgument,
                     {"in_features and out_features must be >= 1", "got 3 and 0"});
    expect_error([] { nn::WavKANLinear(3, 2, static_cast<KanWavelet>(99)); },
                 ErrorCode::kBadArgument, "wavelet must be one of");
    nn::WavKANLinear layer(3, 2);
    expect_error_all(
        [&] {
            layer.forward(Tensor::full(Shape{4, 5}, 0.5, DType::kFloat32));
        },
        ErrorCode::kBadArgument, {"scale must be (out_features, 5)", "(2, 3)"});
}

}  // namespace
}  // namespace wtconv::test
