// Tensor: construction, shapes, dtypes, copies between host and CUDA devices, and bad input.
// The CUDA cases skip without a GPU and run on the GPU machine (scripts/gpu-check).
#include <cmath>

#include <gtest/gtest.h>

#include <wtconv/context.h>
#include <wtconv/tensor.h>

#include "support/test_support.h"

namespace wtconv::test {
namespace {

TEST(TensorHost, EmptyHasShapeDtypeAndAlignedStorage) {
    const Tensor t = Tensor::empty({2, 3, 4}, DType::kFloat32);
    EXPECT_TRUE(t.defined());
    EXPECT_EQ(t.dim(), 3);
    EXPECT_EQ(t.numel(), 24);
    EXPECT_EQ(t.nbytes(), 96u);
    EXPECT_EQ(t.size(-1), 4);
    EXPECT_EQ(t.device(), Device::cpu());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64, 0u);
}

TEST(TensorHost, RankZeroToSixAndZeroSizedWork) {
    EXPECT_EQ(Tensor::zeros({}, DType::kFloat64).numel(), 1);
    EXPECT_EQ(Tensor::zeros({1, 2, 1, 2, 1, 2}, DType::kFloat64).numel(), 8);
    EXPECT_EQ(Tensor::zeros({3, 0, 2}, DType::kFloat32).numel(), 0);
}

TEST(TensorHost, FullFromVectorToVectorAndCast) {
    const Tensor t = Tensor::from_vector(std::vector<double>{1.5, -2.0, 3.25}, {3});
    EXPECT_EQ(t.to_vector(), (std::vector<double>{1.5, -2.0, 3.25}));
    const Tensor f = t.to(DType::kFloat32);
    EXPECT_EQ(f.dtype(), DType::kFloat32);
    EXPECT_EQ(f.to_vector(), (std::vector<double>{1.5, -2.0, 3.25}));
    EXPECT_EQ(Tensor::full({2}, 7.0, DType::kFloat32).to_vector(), (std::vector<double>{7, 7}));
}

TEST(TensorHost, CopiesShareOrCopyAsDocumented) {
    Tensor a = Tensor::full({4}, 1.0, DType::kFloat64);
    Tensor shared = a;                // shares storage
    const Tensor cloned = a.clone();  // owns a copy
    const Tensor viewed = a.reshape({2, 2});
    a.data<double>()[0] = 9.0;
    EXPECT_EQ(shared.data<double>()[0], 9.0);
    EXPECT_EQ(viewed.data<double>()[0], 9.0);
    EXPECT_EQ(cloned.data<double>()[0], 1.0);
}

TEST(TensorHost, BadInputThrowsWithCategoryAndMessage) {
    expect_error(
        [] {
            Tensor::empty({1, 1, 1, 1, 1, 1, 1}, DType::kFloat32);
        },
        ErrorCode::kBadArgument, "rank must be <= 6");
    expect_error(
        [] {
            Tensor::empty({2, -1}, DType::kFloat32);
        },
        ErrorCode::kBadArgument, "sizes must be >= 0");
    expect_error(
        [] {
            Tensor::empty({1LL << 40, 1LL << 40}, DType::kFloat32);
        },
        ErrorCode::kBadArgument, "must fit in int64");
    expect_error([] { Tensor::zeros({3}, DType::kFloat32).data<double>(); },
                 ErrorCode::kBadArgument, "must match the dtype float32");
    expect_error(
        [] {
            Tensor::zeros({3}, DType::kFloat32).reshape({2, 2});
        },
        ErrorCode::kBadArgument, "reshape must keep 3 elements");
    expect_error(
        [] {
            Tensor::from_vector(std::vector<float>{1, 2}, {3});
        },
        ErrorCode::kBadArgument, "needs 3 values");
    expect_error([] { Tensor().to(Device::cpu()); }, ErrorCode::kBadArgument, "undefined");
    expect_error(
        [] {
            Tensor a = Tensor::zeros({2}, DType::kFloat32);
            a.copy_from(Tensor::zeros({2}, DType::kFloat64));
        },
        ErrorCode::kBadArgument, "must be float32, got float64");
}

TEST(TensorHost, PoisonContextOptionIsOffByDefault) {
    EXPECT_FALSE(Context().poison_outputs());
    EXPECT_GE(Context().num_threads(), 1);
    Context ctx(Device::cpu(), ContextOptions{3, true});
    EXPECT_EQ(ctx.num_threads(), 3);
    EXPECT_TRUE(ctx.poison_outputs());
}

TEST(TensorCuda, WithoutCudaSupportRequestsFailClearly) {
    if (cuda_built()) {
        GTEST_SKIP() << "this build has CUDA support";
    }
    expect_error([] { Tensor::empty({2}, DType::kFloat32, Device::cuda(0)); },
                 ErrorCode::kNotSupported, "built without CUDA");
}

class TensorCudaDevice : public testing::Test {
protected:
    void SetUp() override {
        if (!cuda_present()) {
            GTEST_SKIP() << "no CUDA device";
        }
    }
};

TEST_F(TensorCudaDevice, RoundTripHostDeviceHostKeepsEveryBit) {
    Rng rng(5);
    for (const DType dtype : {DType::kFloat32, DType::kFloat64}) {
        const Tensor h = random_normal(rng, {3, 5, 7}, dtype);
        const Tensor d = h.to(Device::cuda(0));
        EXPECT_EQ(d.device(), Device::cuda(0));
        const Tensor d2 = d.clone();  // device to device
        EXPECT_NE(d2.raw_data(), d.raw_data());
        EXPECT_EQ(d2.to(Device::cpu()).to_vector(), h.to_vector());
    }
}

TEST_F(TensorCudaDevice, FillAndZerosWorkOnDevice) {
    Tensor d = Tensor::full({1000}, 2.5, DType::kFloat32, Device::cuda(0));
    EXPECT_EQ(d.to(Device::cpu()).to_vector(), std::vector<double>(1000, 2.5));
    d.fill(std::nan(""));
    for (const double v : d.to(Device::cpu()).to_vector()) {
        EXPECT_TRUE(std::isnan(v));
    }
    const Tensor z = Tensor::zeros({17}, DType::kFloat64, Device::cuda(0));
    EXPECT_EQ(z.to(Device::cpu()).to_vector(), std::vector<double>(17, 0.0));
}

TEST_F(TensorCudaDevice, EveryDeviceIndexWorksAndBadIndexThrows) {
    const int count = cuda_device_count();
    for (int i = 0; i < count; ++i) {
        const Tensor d = Tensor::full({4}, i, DType::kFloat64, Device::cuda(i));
        EXPECT_EQ(d.device().index, i);
        EXPECT_EQ(d.to(Device::cpu()).to_vector(), std::vector<double>(4, i));
    }
    expect_error([count] { Tensor::empty({2}, DType::kFloat32, Device::cuda(count)); },
                 ErrorCode::kBadArgument, "CUDA device index must be in [0, ");
}

TEST_F(TensorCudaDevice, HugeAllocationThrowsOutOfMemory) {
    expect_error([] { Tensor::empty({1LL << 46}, DType::kFloat32, Device::cuda(0)); },
                 ErrorCode::kOutOfMemory, "cudaMalloc");
}

}  // namespace
}  // namespace wtconv::test
