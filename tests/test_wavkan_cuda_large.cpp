// test_wavkan_cuda (continued): the Wav-KAN op on CUDA at shapes past the random cases' (long
// input loops, batch norm over many samples, out_features past the thin forward), the backward
// without dx, morlet's staging at a tiny scale, the value check over tensors of many blocks and
// after earlier work on the context's stream, and a negative running variance.
// Tolerances as in test_wavkan_cuda.cpp (relative L2: float32 1e-5, float64 1e-13 against the
// CPU; 10x for gradients, which sum more terms).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <wtconv/layers/wavkan.h>
#include <wtconv/ops/wavkan.h>

#include "support/test_support.h"
#include "support/wavkan_cuda_cases.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

class WavKanCudaLarge : public CudaTest {};

// Shapes past what the random cases reach, against the CPU: enough tiles (17 x 17 of the forward's
// 64 x 64) that the inputs are not split on an H100, so one block walks all 200 inputs (7 slices of
// float32, 13 of float64) through the forward's double-buffered copies (shannon's window too), and
// batch norm in training over 1030 and 300 samples (past the 256 its blocks take in one round),
// with the tiled and the thin forward.
TEST_F(WavKanCudaLarge, LargeShapesEqualTheCpu) {
    Context gpu = cuda_test_context();
    Context cpu(Device::cpu());
    struct Large {
        KanWavelet wavelet;
        DType dtype;
        std::int64_t batch, outputs;
        bool batchnorm;
        double tol;
    };
    for (const Large& l : {Large{KanWavelet::kMexicanHat, DType::kFloat32, 1030, 1030, true, 1e-5},
                           Large{KanWavelet::kShannon, DType::kFloat32, 1030, 1030, false, 1e-5},
                           Large{KanWavelet::kMeyer, DType::kFloat64, 1030, 1030, false, 1e-13},
                           Large{KanWavelet::kDog, DType::kFloat32, 300, 13, true, 1e-5}}) {
        Case c{l.batch, 200, l.outputs, WavKanParams{}, l.dtype, 78};
        c.params.wavelet = l.wavelet;
        c.params.batchnorm = l.batchnorm;
        const Inputs in = make_inputs(c);
        const Outputs a = run_on(gpu, c, in), b = run_on(cpu, c, in);
        EXPECT_LT(rel_l2_error(a.y.to(Device::cpu()), to_ref(b.y)), l.tol) << describe(c);
        EXPECT_LT(rel_l2_error(a.g.dx.to(Device::cpu()), to_ref(b.g.dx)), 10 * l.tol)
            << describe(c);
        EXPECT_LT(rel_l2_error(a.g.dweights.scale.to(Device::cpu()), to_ref(b.g.dweights.scale)),
                  10 * l.tol)
            << describe(c);
        if (l.batchnorm) {
            EXPECT_LT(rel_l2_error(a.var.to(Device::cpu()), to_ref(b.var)), l.tol) << describe(c);
        }
    }
}

// need_dx = false runs the backward without dx (a kernel of its own on CUDA): the same edge
// gradients, to the bit.
TEST_F(WavKanCudaLarge, SkippingDxKeepsTheEdgeGradients) {
    Context ctx = cuda_test_context();
    for (const auto& [wavelet, outputs] : every_wavelet_with({5, 70})) {
        Case c{37, 33, outputs, WavKanParams{}, DType::kFloat32, 23};
        c.params.wavelet = wavelet;
        const Inputs in = make_inputs(c);
        const WavKanWeights w = to_device(in.w, kCuda);
        WavKanRunningStats running{in.running.mean.to(kCuda), in.running.var.to(kCuda)};
        WavKanSaved saved;
        wavkan_forward(ctx, in.x.to(kCuda), w, c.params, &running, &saved);
        const Tensor dy = in.dy.to(kCuda);
        const WavKanGrads all = wavkan_backward(ctx, dy, w, c.params, saved, true);
        const WavKanGrads some = wavkan_backward(ctx, dy, w, c.params, saved, false);
        EXPECT_FALSE(some.dx.defined()) << describe(c);
        EXPECT_EQ(host_bytes(all.dweights.scale), host_bytes(some.dweights.scale)) << describe(c);
        EXPECT_EQ(host_bytes(all.dweights.translation), host_bytes(some.dweights.translation))
            << describe(c);
        EXPECT_EQ(host_bytes(all.dweights.wavelet_weights),
                  host_bytes(some.dweights.wavelet_weights))
            << describe(c);
    }
}

// A scale so small that 5 / scale overflows float (morlet's forward stages 5 / s) while 1 / s is
// finite, with x = t exactly: u = 0 there, so the term is w cos(0) = w, not 0 inf = NaN or 0.
TEST_F(WavKanCudaLarge, MorletAtTinyScaleKeepsItsCentre) {
    Context ctx = cuda_test_context();
    for (const std::int64_t outputs : {2, 70}) {
        Case c{4, 3, outputs, WavKanParams{}, DType::kFloat32, 29};
        c.params.wavelet = KanWavelet::kMorlet;
        c.params.batchnorm = false;
        Inputs in = make_inputs(c);
        std::vector<double> s = in.w.scale.to_vector(), t = in.w.translation.to_vector();
        s[0] = 3e-39;  // (o, i) = (0, 0); a float32 subnormal whose reciprocal is finite
        t[0] = in.x.to_vector()[0];  // x[0, 0], exact in float32
        in.w.scale = Tensor::from_vector(s, in.w.scale.shape()).to(c.dtype);
        in.w.translation = Tensor::from_vector(t, in.w.translation.shape()).to(c.dtype);
        expect_matches(c, run_on(ctx, c, in), reference_of(c, in));
    }
}

// The value check over tensors of many blocks: a bad value in the very last element is found and
// named with its index.
TEST_F(WavKanCudaLarge, ValueChecksFindTheLastElement) {
    Context ctx = cuda_test_context();
    Case c{1030, 200, 70, WavKanParams{}, DType::kFloat32, 31};
    c.params.batchnorm = false;
    const Inputs in = make_inputs(c);
    const WavKanWeights w = to_device(in.w, kCuda);
    std::vector<double> x = in.x.to_vector();
    x.back() = std::nan("");
    const Tensor nan_x = Tensor::from_vector(x, in.x.shape()).to(c.dtype).to(kCuda);
    expect_error_all([&] { wavkan_forward(ctx, nan_x, w, c.params); }, ErrorCode::kBadArgument,
                     {"x must be finite", "[1029, 199]"});
    std::vector<double> t = in.w.translation.to_vector();
    t.back() = std::numeric_limits<double>::infinity();
    WavKanWeights bad = w;
    bad.translation = Tensor::from_vector(t, in.w.translation.shape()).to(c.dtype).to(kCuda);
    expect_error_all([&] { wavkan_forward(ctx, in.x.to(kCuda), bad, c.params); },
                     ErrorCode::kBadArgument, {"translation", "[69, 199]"});
}

// The value check must see its tensors as the context's stream leaves them (it waits for nothing
// on the host before it is queued, and a search queued elsewhere, beside the kernels, would have
// to fork from that stream: such a version without the fork failed here). On the legacy default
// stream and on a caller's stream, layer 2 checks the output of layer 1 (a quarter of a millisecond
// of kernels queued just before, on output memory poisoned with NaN first): a clean layer 1 passes,
// and an infinite base weight of layer 1's output 5 (whose column is then infinite in every row) is
// found at [0, 5], not at the poison's [0, 0]. (A non-blocking stream is not tried here: the
// caller's copies to the device, on the legacy stream, would need a synchronisation first.)
TEST_F(WavKanCudaLarge, ValueChecksSeeTheTensorsAsTheStreamLeavesThem) {
    cudaStream_t own = nullptr;
    ASSERT_EQ(cudaStreamCreate(&own), cudaSuccess);
    for (cudaStream_t stream : {static_cast<cudaStream_t>(nullptr), own}) {
        Context ctx = cuda_test_context(stream);
        Context unchecked = cuda_test_context(stream);
        unchecked.set_check_values(false);
        Case first{512, 1024, 1024, WavKanParams{}, DType::kFloat32, 41};
        first.params.batchnorm = false;
        first.params.base = true;
        Case second{512, 1024, 8, WavKanParams{}, DType::kFloat32, 43};
        second.params.training = false;
        const Inputs in1 = make_inputs(first), in2 = make_inputs(second);
        WavKanWeights w1 = to_device(in1.w, kCuda);
        const WavKanWeights w2 = to_device(in2.w, kCuda);
        WavKanRunningStats running{in2.running.mean.to(kCuda), in2.running.var.to(kCuda)};
        const Tensor x = in1.x.to(kCuda);
        for (int round = 0; round < 3; ++round) {
            const Tensor h = wavkan_forward(unchecked, x, w1, first.params);
            try {
                wavkan_forward(ctx, h, w2, second.params, &running);
            } catch (const Error& e) {
                ADD_FAILURE() << "round " << round << ": " << e.what();
            }
        }
        std::vector<double> base = in1.w.base_weight.to_vector();
        base[static_cast<std::size_t>(5 * 1024 + 17)] = std::numeric_limits<double>::infinity();
        w1.base_weight =
            Tensor::from_vector(base, in1.w.base_weight.shape()).to(first.dtype).to(kCuda);
        for (int round = 0; round < 3; ++round) {
            const Tensor h = wavkan_forward(unchecked, x, w1, first.params);
            expect_error_all([&] { wavkan_forward(ctx, h, w2, second.params, &running); },
                             ErrorCode::kBadArgument, {"x must be finite", "[0, 5]"});
        }
    }
    EXPECT_EQ(cudaStreamSynchronize(own), cudaSuccess);
    EXPECT_EQ(cudaStreamDestroy(own), cudaSuccess);
}

// An op's temporaries go back to the pool on the context's stream, after the kernels that use them.
// On a non-blocking stream (which the legacy default stream does not wait for), behind a long
// forward on 8 blocks (a million inputs through the thin kernel, leaving the other SMs free), a
// 512-wide training forward returns before its kernels run, and its split partial sums (4 MiB on an
// H100) are freed at return. The host's next allocations on the legacy stream, 64 of 4 MiB filled
// at once, must not be handed that memory: the forward's kernels would write into them later. Each
// must still hold its fill when the stream is done, and the output must equal the same forward's on
// the legacy stream, bit for bit. (With the partial sums freed on the legacy stream, as before,
// one of the 64 held them.)
TEST_F(WavKanCudaLarge, TemporariesOutliveTheirKernelsOnANonBlockingStream) {
    Case c{256, 512, 512, WavKanParams{}, DType::kFloat32, 47};
    const Inputs in = make_inputs(c);
    const WavKanWeights w = to_device(in.w, kCuda);
    const Tensor x = in.x.to(kCuda);
    std::string want;
    {
        Context plain = cuda_test_context();
        WavKanRunningStats running{in.running.mean.to(kCuda), in.running.var.to(kCuda)};
        want = host_bytes(wavkan_forward(plain, x, w, c.params, &running).to(Device::cpu()));
    }
    Case thin{2, std::int64_t{1} << 20, 4, WavKanParams{}, DType::kFloat32, 53};
    thin.params.wavelet = KanWavelet::kMorlet;
    thin.params.batchnorm = false;
    const Inputs busy_in = make_inputs(thin);
    const WavKanWeights busy_w = to_device(busy_in.w, kCuda);
    const Tensor busy_x = busy_in.x.to(kCuda);
    constexpr std::int64_t kFloats = std::int64_t{1} << 20;
    const std::string filled = host_bytes(Tensor::full(Shape{kFloats}, 1e30, DType::kFloat32));
    WavKanRunningStats running{in.running.mean.to(kCuda), in.running.var.to(kCuda)};
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    {
        ContextOptions o;
        o.cuda_stream = stream;
        o.check_values = false;  // a check would make the call wait for the stream
        Context ctx(kCuda, o);
        for (int round = 0; round < 3; ++round) {
            const Tensor busy = wavkan_forward(ctx, busy_x, busy_w, thin.params);
            const Tensor y = wavkan_forward(ctx, x, w, c.params, &running);
            std::vector<Tensor> others;
            for (int k = 0; k < 64; ++k) {
                others.push_back(Tensor::empty(Shape{kFloats}, DType::kFloat32, kCuda));
                others.back().fill(1e30);
            }
            ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
            // (booleans: a failure's message need not hold 4 MiB of bytes)
            EXPECT_TRUE(host_bytes(y.to(Device::cpu())) == want) << "round " << round;
            for (std::size_t k = 0; k < others.size(); ++k) {
                EXPECT_TRUE(host_bytes(others[k].to(Device::cpu())) == filled)
                    << "round " << round << ", allocation " << k << " was overwritten";
            }
            running = {in.running.mean.to(kCuda), in.running.var.to(kCuda)};
        }
    }
    EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

// A layer adds each backward's gradients into its own: on a non-blocking stream those sums (and
// the frees of the op's gradients) must follow the op's kernels, not run on the legacy stream
// while they are still queued behind a long forward. Two layers of the same initialisation, one
// run on the legacy stream and one on a non-blocking stream given to the thread's default context,
// must end with the same gradients, bit for bit.
TEST_F(WavKanCudaLarge, LayerGradientsAddUpOnANonBlockingStream) {
    LayerOptions o;
    o.device = kCuda;
    o.seed = 59;
    nn::WavKANLinear on_legacy(256, 128, KanWavelet::kDog, true, true, o);
    nn::WavKANLinear on_stream(256, 128, KanWavelet::kDog, true, true, o);
    Rng rng(61);
    const Tensor x = random_normal(rng, {64, 256}, DType::kFloat32, kCuda);
    const Tensor dy = random_normal(rng, {64, 128}, DType::kFloat32, kCuda);
    on_legacy.backward(on_legacy.forward(x));
    on_legacy.backward(dy);
    Case thin{2, std::int64_t{1} << 20, 4, WavKanParams{}, DType::kFloat32, 67};
    thin.params.batchnorm = false;
    const Inputs busy_in = make_inputs(thin);
    const WavKanWeights busy_w = to_device(busy_in.w, kCuda);
    const Tensor busy_x = busy_in.x.to(kCuda);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the copies above have landed
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    Context& ctx = default_context(kCuda);
    CUstream_st* const previous = ctx.cuda_stream();
    ctx.set_cuda_stream(stream);
    {
        const Tensor busy = wavkan_forward(ctx, busy_x, busy_w, thin.params);
        on_stream.backward(on_stream.forward(x));
        const Tensor busier = wavkan_forward(ctx, busy_x, busy_w, thin.params);
        on_stream.backward(dy);
        EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    }
    ctx.set_cuda_stream(previous);
    EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
    const std::vector<NamedParameter> want = on_legacy.named_parameters();
    const std::vector<NamedParameter> got = on_stream.named_parameters();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_TRUE(host_bytes(got[k].grad->to(Device::cpu())) ==
                    host_bytes(want[k].grad->to(Device::cpu())))
            << got[k].name;
    }
}

// A negative running variance, found on the device: refused with its index in either mode, the
// running statistics untouched (batch norm reads the check's result).
TEST_F(WavKanCudaLarge, NegativeRunningVarianceIsRefused) {
    Context ctx = cuda_test_context();
    for (const bool training : {true, false}) {
        Case c{6, 5, 70, WavKanParams{}, DType::kFloat32, 37};
        c.params.training = training;
        const Inputs in = make_inputs(c);
        std::vector<double> var = in.running.var.to_vector();
        var[69] = -0.25;
        WavKanRunningStats running{
            in.running.mean.to(kCuda),
            Tensor::from_vector(var, in.running.var.shape()).to(c.dtype).to(kCuda)};
        const std::vector<double> mean_before = running.mean.to(Device::cpu()).to_vector();
        expect_error_all(
            [&] {
                wavkan_forward(ctx, in.x.to(kCuda), to_device(in.w, kCuda), c.params, &running);
            },
            ErrorCode::kBadArgument, {"running.var must be finite and >= 0", "[69]"});
        EXPECT_EQ(running.mean.to(Device::cpu()).to_vector(), mean_before);
        EXPECT_EQ(running.var.to(Device::cpu()).to_vector()[69], -0.25);
    }
}

}  // namespace
}  // namespace wtconv::test
