// test_conv2d_cuda: conv2d on CUDA (kImg2col: columns + cuBLAS; kImplicitGemm) against the double
// reference on every edge shape and at least 300 seeded random configurations per dtype
// (float64, float32, float32 with TF32, float16, bfloat16), outputs NaN-poisoned; bitwise
// repeatability; the layer on CUDA against the layer on the CPU; what runs where.
#include <string>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <wtconv/layers/conv2d.h>
#include <wtconv/ops/conv2d.h>

#include "support/conv2d_cases.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

const Device kCuda = Device::cuda(0);
constexpr Conv2dAlgo kCudaAlgos[] = {Conv2dAlgo::kImg2col, Conv2dAlgo::kImplicitGemm};

// Relative L2 bounds against the double reference on the same rounded inputs. float32: as on
// the CPU. TF32 rounds both factors of every product to 11 significant bits (2^-11 relative
// each); float16/bfloat16 round the output once (2^-11, 2^-8), sums stay float32.
double tolerance(const Conv2dCase& tc) {
    switch (tc.dtype) {
        case DType::kFloat64:
            return 1e-12;
        case DType::kFloat32:
            return tc.params.allow_tf32 ? 5e-3 : 1e-5;
        case DType::kFloat16:
            return 2e-3;
        default:
            return 1.6e-2;
    }
}

Conv2dInputs to_device(const Conv2dInputs& in) {
    Conv2dInputs d;
    d.x = in.x.to(kCuda);
    d.dy = in.dy.to(kCuda);
    d.w.weight = in.w.weight.to(kCuda);
    if (in.w.bias.defined()) {
        d.w.bias = in.w.bias.to(kCuda);
    }
    return d;
}

// Forward and every gradient of both CUDA algorithms against the reference.
void expect_matches_reference(Conv2dCase tc) {
    const Conv2dInputs host = random_inputs(tc);
    const Conv2dExpected want = reference_conv2d(tc, host);
    const Conv2dInputs in = to_device(host);
    Context ctx = cuda_test_context();
    for (const Conv2dAlgo algo : kCudaAlgos) {
        tc.params.algo = algo;
        const double tol = tolerance(tc);
        Conv2dSaved saved;
        const Tensor y = conv2d_forward(ctx, in.x, in.w, tc.params, &saved);
        const Conv2dGrads g = conv2d_backward(ctx, in.dy, in.w, tc.params, saved);
        EXPECT_EQ(y.device(), kCuda);
        EXPECT_LT(rel_l2_error(y, want.y), tol) << "y, " << describe(tc);
        EXPECT_LT(rel_l2_error(g.dx, want.grads.dx), tol) << "dx, " << describe(tc);
        EXPECT_LT(rel_l2_error(g.dweights.weight, want.grads.dweight), tol)
            << "dweight, " << describe(tc);
        if (tc.params.bias) {
            EXPECT_LT(rel_l2_error(g.dweights.bias, want.grads.dbias), tol)
                << "dbias, " << describe(tc);
        } else {
            EXPECT_FALSE(g.dweights.bias.defined()) << describe(tc);
        }
    }
}

struct DTypeMode {
    DType dtype;
    bool tf32;
};
const DTypeMode kModes[] = {{DType::kFloat64, false},
                            {DType::kFloat32, false},
                            {DType::kFloat32, true},
                            {DType::kFloat16, false},
                            {DType::kBFloat16, false}};

Conv2dCase with_mode(Conv2dCase tc, const DTypeMode& mode) {
    tc.dtype = mode.dtype;
    tc.params.allow_tf32 = mode.tf32;
    return tc;
}

std::string mode_name(const testing::TestParamInfo<DTypeMode>& info) {
    return std::string(dtype_name(info.param.dtype)) + (info.param.tf32 ? "_tf32" : "");
}

std::string edge_name(const testing::TestParamInfo<Conv2dCase>& info) {
    return std::to_string(info.index) + "_" + case_label(info.param);
}

// One ctest entry per edge shape (every dtype and algo inside): a CUDA context per process is
// the slow part, so cases are grouped rather than one process each.
class Conv2dCudaEdge : public CudaTestWithParam<Conv2dCase> {};

TEST_P(Conv2dCudaEdge, EveryDtypeAndAlgoMatchTheReference) {
    std::uint64_t seed = 500;
    for (const DTypeMode& mode : kModes) {
        Conv2dCase tc = with_mode(GetParam(), mode);
        tc.seed = seed++;
        expect_matches_reference(tc);
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dCudaEdge, testing::ValuesIn(edge_shapes()), edge_name);

class Conv2dCudaRandom : public CudaTestWithParam<DTypeMode> {};

TEST_P(Conv2dCudaRandom, ThreeHundredConfigurationsMatchTheReference) {
    const std::vector<Conv2dCase> shapes = random_shapes(300, test_seed() + 11);
    ASSERT_GE(shapes.size(), 1u);
    for (const Conv2dCase& shape : shapes) {
        expect_matches_reference(with_mode(shape, GetParam()));
        if (HasFailure()) {
            break;  // the first failing configuration says enough; the rest would repeat it
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Conv2dCudaRandom, testing::ValuesIn(kModes), mode_name);

// Same inputs, same bits: no atomics, fixed reduction orders, one cuBLAS configuration. K = 576
// over 12 output tiles: the implicit GEMM splits K (and the sanitizer runs see its partial sums).
class Conv2dCudaDeterminism : public CudaTestWithParam<DTypeMode> {};

TEST_P(Conv2dCudaDeterminism, RepeatedRunsGiveIdenticalBits) {
    Conv2dCase tc = with_mode(make_case(4, 64, 20, 19, 48, 3, 3, 1, 1, 1, 1, true), GetParam());
    tc.seed = 77;
    const Conv2dInputs in = to_device(random_inputs(tc));
    Context ctx = cuda_test_context();
    for (const Conv2dAlgo algo : kCudaAlgos) {
        tc.params.algo = algo;
        std::vector<std::string> first;
        for (int run = 0; run < 3; ++run) {
            Conv2dSaved saved;
            const Tensor y = conv2d_forward(ctx, in.x, in.w, tc.params, &saved);
            const Conv2dGrads g = conv2d_backward(ctx, in.dy, in.w, tc.params, saved);
            const std::vector<std::string> bytes{host_bytes(y), host_bytes(g.dx),
                                                 host_bytes(g.dweights.weight),
                                                 host_bytes(g.dweights.bias)};
            if (run == 0) {
                first = bytes;
            } else {
                EXPECT_EQ(bytes, first) << "run " << run << ", " << describe(tc);
            }
        }
    }
}

// On a non-blocking stream (which the legacy default stream does not wait for), behind a
// millisecond of other work, with the host allocating and filling memory on the legacy stream
// meanwhile: the same bits as on the legacy stream, and the host's memory untouched (the op's
// temporaries, such as img2col's columns, go back to the pool only after its kernels).
TEST_P(Conv2dCudaDeterminism, ANonBlockingStreamBehindOtherWorkGivesTheSameBits) {
    Conv2dCase tc = with_mode(make_case(4, 64, 20, 19, 48, 3, 3, 1, 1, 1, 1, true), GetParam());
    tc.seed = 78;
    const Conv2dInputs in = to_device(random_inputs(tc));
    Context ctx = cuda_test_context();
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the inputs have landed
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    Context late = cuda_test_context(stream);
    for (const Conv2dAlgo algo : kCudaAlgos) {
        tc.params.algo = algo;
        Conv2dSaved saved;
        const Tensor y = conv2d_forward(ctx, in.x, in.w, tc.params, &saved);
        const Conv2dGrads g = conv2d_backward(ctx, in.dy, in.w, tc.params, saved);
        const std::vector<Tensor> busy = queue_busy_work(late);
        Conv2dSaved saved_late;
        const Tensor y_late = conv2d_forward(late, in.x, in.w, tc.params, &saved_late);
        const Conv2dGrads g_late = conv2d_backward(late, in.dy, in.w, tc.params, saved_late);
        const std::vector<Tensor> blocks = fill_blocks(1e30);
        ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
        // booleans: a mismatch would print megabytes
        EXPECT_TRUE(host_bytes(y_late) == host_bytes(y)) << describe(tc);
        EXPECT_TRUE(host_bytes(g_late.dx) == host_bytes(g.dx)) << describe(tc);
        EXPECT_TRUE(host_bytes(g_late.dweights.weight) == host_bytes(g.dweights.weight))
            << describe(tc);
        EXPECT_TRUE(host_bytes(g_late.dweights.bias) == host_bytes(g.dweights.bias))
            << describe(tc);
        EXPECT_TRUE(blocks_hold(blocks, 1e30))
            << "memory the host allocated meanwhile was written by the op, " << describe(tc);
    }
    EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Conv2dCudaDeterminism, testing::ValuesIn(kModes), mode_name);

class Conv2dCudaLayer : public CudaTest {};

// nn::Conv2d on cuda:0 against the same layer on the CPU (float64, same weights).
TEST_F(Conv2dCudaLayer, MatchesTheCpuLayer) {
    LayerOptions cpu_options;
    cpu_options.dtype = DType::kFloat64;
    cpu_options.seed = 9;
    LayerOptions cuda_options = cpu_options;
    cuda_options.device = kCuda;
    nn::Conv2d on_cpu(6, 8, {3, 3}, {2, 1}, {1, 1}, {1, 1}, 2, true, cpu_options);
    nn::Conv2d on_gpu(6, 8, {3, 3}, {2, 1}, {1, 1}, {1, 1}, 2, true, cuda_options);
    on_gpu.weights().weight.copy_from(on_cpu.weights().weight);
    on_gpu.weights().bias.copy_from(on_cpu.weights().bias);
    Rng rng(21);
    const Tensor x = random_normal(rng, Shape{3, 6, 11, 10}, DType::kFloat64);
    const Tensor y = on_cpu.forward(x);
    const Tensor dy = random_normal(rng, y.shape(), DType::kFloat64);
    const Tensor dx = on_cpu.backward(dy);
    const Tensor y_gpu = on_gpu.forward(x.to(kCuda));
    const Tensor dx_gpu = on_gpu.backward(dy.to(kCuda));
    EXPECT_LT(rel_l2_error(y_gpu, to_ref(y)), 1e-12);
    EXPECT_LT(rel_l2_error(dx_gpu, to_ref(dx)), 1e-12);
    EXPECT_LT(rel_l2_error(on_gpu.grads().weight, to_ref(on_cpu.grads().weight)), 1e-12);
    EXPECT_LT(rel_l2_error(on_gpu.grads().bias, to_ref(on_cpu.grads().bias)), 1e-12);
}

class Conv2dCudaBadInput : public CudaTest {};

TEST_F(Conv2dCudaBadInput, TensorsOnAnotherDeviceAreNamed) {
    Conv2dCase tc = make_case(1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1, true);
    tc.dtype = DType::kFloat32;
    const Conv2dInputs host = random_inputs(tc);
    Conv2dInputs mixed = to_device(host);
    mixed.w.weight = host.w.weight;
    Context ctx = cuda_test_context();
    expect_error_all([&] { conv2d_forward(ctx, mixed.x, mixed.w, tc.params); },
                     ErrorCode::kBadArgument, {"weight", "cuda:0", "cpu"});
    Conv2dInputs bias_on_cpu = to_device(host);
    bias_on_cpu.w.bias = host.w.bias;
    expect_error_all([&] { conv2d_forward(ctx, bias_on_cpu.x, bias_on_cpu.w, tc.params); },
                     ErrorCode::kBadArgument, {"bias", "cuda:0", "cpu"});
    const Conv2dInputs in = to_device(host);
    Conv2dSaved saved;
    conv2d_forward(ctx, in.x, in.w, tc.params, &saved);
    expect_error_all([&] { conv2d_backward(ctx, host.dy, in.w, tc.params, saved); },
                     ErrorCode::kBadArgument, {"dy", "cuda:0", "cpu"});
}

// What runs where, promised by the header, without a GPU.
TEST(Conv2dCudaSupport, EveryFloatDtypeAndAlgoRunsOnCuda) {
    for (const DType dtype :
         {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
        for (const Conv2dAlgo algo :
             {Conv2dAlgo::kAuto, Conv2dAlgo::kImg2col, Conv2dAlgo::kImplicitGemm}) {
            EXPECT_TRUE(conv2d_supports(algo, kCuda, dtype))
                << conv2d_algo_name(algo) << " " << dtype_name(dtype);
        }
        EXPECT_FALSE(conv2d_supports(Conv2dAlgo::kImplicitGemm, Device::cpu(), dtype));
    }
    EXPECT_FALSE(conv2d_supports(Conv2dAlgo::kAuto, kCuda, DType::kInt8));
}

}  // namespace
}  // namespace wtconv::test
