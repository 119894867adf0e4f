// test_wtconv_cuda: nn::WTConv2d / nn::WTConv1d on cuda:0. Layers return all their device memory
// when destroyed, and a CUDA layer computes what the CPU layer of the same seed computes.
#include <algorithm>
#include <memory>

#include <gtest/gtest.h>

#include <wtconv/cuda_memory.h>
#include <wtconv/layers/wtconv.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

class WTConvCudaLayers : public CudaTest {};

// One of twelve layer shapes by i (i mod 12), forward always, backward every other time (so that
// the saved state is released too); returns the allocated bytes while the layer was alive.
std::size_t run_layer(int i) {
    const Device dev = Device::cuda(0);
    const LayerOptions options{DType::kFloat32, dev, static_cast<unsigned long long>(i)};
    Rng rng(static_cast<std::uint64_t>(i));
    std::unique_ptr<nn::WTConvLayer> layer;
    Tensor x;
    const int levels = 1 + i % 4;
    if (i % 2 == 0) {
        layer = std::make_unique<nn::WTConv2d>(3, 3, 5, 1 + i % 3, true, levels, "db1", options);
        x = random_normal(rng, {2, 3, 33, 31}, DType::kFloat32, dev);
    } else {
        layer = std::make_unique<nn::WTConv1d>(4, 4, 4, 1, false, levels, "db2", options);
        x = random_normal(rng, {2, 4, 257}, DType::kFloat32, dev);
    }
    const Tensor y = layer->forward(x);
    if (i % 4 < 2) {
        layer->backward(random_normal(rng, y.shape(), DType::kFloat32, dev));
    }
    return cuda_memory_stats(0).allocated_bytes;
}

TEST_F(WTConvCudaLayers, HundredLayersCreatedAndDestroyedLeaveAllocatedBytesUnchanged) {
    // Warm-up: the calling thread's default context creates its stream and workspace on first use
    // and keeps them on purpose; every layer shape runs once so that the workspace has its size.
    for (int i = 0; i < 12; ++i) {
        run_layer(i);
    }
    const std::size_t start = cuda_memory_stats(0).allocated_bytes;
    std::size_t alive = 0;
    for (int i = 0; i < 100; ++i) {
        alive = std::max(alive, run_layer(i));
    }
    EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, start);
    // The statistic must see the layers at all, or the equality above would prove nothing.
    EXPECT_GT(alive, start);
}

struct LayerCase {
    int spatial;
    std::int64_t n, c, h, w;
    int k, stride;
    bool bias;
    int levels;
    const char* wavelet;
    DType dtype;
};

std::unique_ptr<nn::WTConvLayer> make_layer(const LayerCase& lc, Device device) {
    const LayerOptions o{lc.dtype, device, 1234};
    if (lc.spatial == 2) {
        return std::make_unique<nn::WTConv2d>(lc.c, lc.c, lc.k, lc.stride, lc.bias, lc.levels,
                                              lc.wavelet, o);
    }
    return std::make_unique<nn::WTConv1d>(lc.c, lc.c, lc.k, lc.stride, lc.bias, lc.levels,
                                          lc.wavelet, o);
}

// kAuto in every layer: fused for Haar float32 on CUDA, direct otherwise.
TEST_F(WTConvCudaLayers, CudaLayerMatchesTheCpuLayerOfTheSameSeed) {
    const LayerCase cases[] = {
        {2, 2, 3, 19, 23, 5, 1, true, 2, "db1", DType::kFloat32},
        {2, 1, 2, 16, 9, 4, 2, false, 3, "db1", DType::kFloat64},
        {2, 2, 2, 12, 12, 3, 1, true, 2, "db2", DType::kFloat32},
        {1, 2, 3, 1, 101, 5, 1, true, 3, "db1", DType::kFloat32},
        {1, 1, 2, 1, 64, 3, 2, true, 2, "sym2", DType::kFloat64},
    };
    const Device dev = Device::cuda(0);
    std::uint64_t seed = 50;
    for (const LayerCase& lc : cases) {
        WTConvCase tc;  // for the names and sizes in the messages and tolerances
        tc.spatial = lc.spatial;
        tc.n = lc.n;
        tc.c = lc.c;
        tc.h = lc.h;
        tc.w = lc.w;
        tc.params.kernel_size = lc.k;
        tc.params.levels = lc.levels;
        tc.params.stride = lc.stride;
        tc.params.bias = lc.bias;
        tc.params.wavelet = lc.wavelet;
        tc.dtype = lc.dtype;
        tc.seed = seed++;
        const std::unique_ptr<nn::WTConvLayer> cpu = make_layer(lc, Device::cpu());
        const std::unique_ptr<nn::WTConvLayer> gpu = make_layer(lc, dev);
        const std::vector<NamedParameter> cpu_params = cpu->named_parameters();
        const std::vector<NamedParameter> gpu_params = gpu->named_parameters();
        ASSERT_EQ(cpu_params.size(), gpu_params.size()) << describe(tc);
        for (std::size_t i = 0; i < cpu_params.size(); ++i) {
            EXPECT_EQ(gpu_params[i].value->device(), dev) << gpu_params[i].name;
            // The seed alone fixes the initial values, whatever the device.
            EXPECT_TRUE(host_bytes(*gpu_params[i].value) == host_bytes(*cpu_params[i].value))
                << gpu_params[i].name << " differs at initialisation, " << describe(tc);
        }

        Rng rng(tc.seed);
        const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype);
        const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype);
        const Tensor y = cpu->forward(x);
        const Tensor y_gpu = gpu->forward(x.to(dev));
        ASSERT_EQ(y_gpu.device(), dev);
        EXPECT_LT(rel_l2_error(y_gpu, to_ref(y)), tolerance(tc.dtype)) << "y, " << describe(tc);
        // Twice: the layers accumulate parameter gradients, on the device as on the host.
        for (int pass = 1; pass <= 2; ++pass) {
            const Tensor dx = cpu->backward(dy);
            const Tensor dx_gpu = gpu->backward(dy.to(dev));
            EXPECT_LT(rel_l2_error(dx_gpu, to_ref(dx)), tolerance(tc.dtype))
                << "dx, pass " << pass << ", " << describe(tc);
        }
        for (std::size_t i = 0; i < cpu_params.size(); ++i) {
            EXPECT_LT(rel_l2_error(*gpu_params[i].grad, to_ref(*cpu_params[i].grad)),
                      tolerance(tc.dtype))
                << "accumulated gradient of " << gpu_params[i].name << ", " << describe(tc);
        }
    }
}

}  // namespace
}  // namespace wtconv::test
