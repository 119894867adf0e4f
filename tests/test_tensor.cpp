// Tensor: construction, shapes, dtypes and their conversions, add_, copies between host and CUDA
// devices, CUDA memory statistics, and bad input. The CUDA cases skip without a GPU and run on the
// GPU machine (scripts/gpu-check).
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include <wtconv/context.h>
#include <wtconv/cuda_memory.h>
#include <wtconv/tensor.h>

#include "cpu/float_types.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

// The 16-bit formats from their definition, sharing nothing with the library's conversions.
struct Format16 {
    int exp_bits;
    int mant_bits;
    std::uint16_t inf() const {
        return static_cast<std::uint16_t>(((1 << exp_bits) - 1) << mant_bits);
    }
};
constexpr Format16 kHalf{5, 10};
constexpr Format16 kBf16{8, 7};

double decode(std::uint16_t bits, Format16 f) {  // finite patterns only
    const int bias = (1 << (f.exp_bits - 1)) - 1;
    const int e = (bits >> f.mant_bits) & ((1 << f.exp_bits) - 1);
    const int m = bits & ((1 << f.mant_bits) - 1);
    const double mag = e == 0 ? std::ldexp(m, 1 - bias - f.mant_bits)
                              : std::ldexp(m + (1 << f.mant_bits), e - bias - f.mant_bits);
    return (bits & 0x8000) != 0 ? -mag : mag;
}

// The nearest pattern to a finite v, ties to the even pattern; past the largest finite value by
// half a step or more it is Inf (the largest value is odd, so its upper tie goes to Inf).
std::uint16_t nearest(double v, Format16 f) {
    const auto sign = static_cast<std::uint16_t>(std::signbit(v) ? 0x8000 : 0);
    const double a = std::fabs(v);
    int lo = 0;
    int hi = f.inf() - 1;
    while (lo < hi) {  // the largest pattern whose value is <= a
        const int mid = (lo + hi + 1) / 2;
        if (decode(static_cast<std::uint16_t>(mid), f) <= a) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    const double below = decode(static_cast<std::uint16_t>(lo), f);
    const double above = lo + 1 == f.inf() ? std::ldexp(1.0, 1 << (f.exp_bits - 1))
                                           : decode(static_cast<std::uint16_t>(lo + 1), f);
    // Exact differences: in range, a lies between neighbours less than a factor 2 apart
    // (Sterbenz); beyond it to_above is negative and Inf wins.
    const double to_below = a - below;
    const double to_above = above - a;
    const int pick = to_below < to_above ? lo : to_above < to_below ? lo + 1 : lo + (lo & 1);
    return static_cast<std::uint16_t>(sign | pick);
}

float float_from_bits(std::uint32_t bits) {
    float f = 0;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

bool is_quiet_nan(std::uint16_t bits, Format16 f) {
    const std::uint16_t inf = f.inf();
    return (bits & inf) == inf && (bits & (1u << (f.mant_bits - 1))) != 0;
}

TEST(DTypeConvert, EveryFiniteHalfRoundTripsThroughFloatBitExactly) {
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        const auto bits = static_cast<std::uint16_t>(b);
        const float f = half_to_float(Half{bits});
        if ((bits & kHalf.inf()) == kHalf.inf()) {  // Inf and NaN
            EXPECT_EQ(std::isnan(f), (bits & 0x3ff) != 0) << std::hex << b;
            continue;
        }
        ASSERT_EQ(static_cast<double>(f), decode(bits, kHalf)) << std::hex << b;
        ASSERT_EQ(float_to_half(f).bits, bits) << std::hex << b;
        ASSERT_EQ(double_to_half(decode(bits, kHalf)).bits, bits) << std::hex << b;
    }
}

TEST(DTypeConvert, HalfTiesGoToEvenAndNeighboursRoundOnce) {
    for (int sign = 0; sign < 2; ++sign) {
        for (int lo = 0; lo + 1 <= kHalf.inf(); ++lo) {
            const auto s = static_cast<std::uint16_t>(sign << 15);
            const auto lo_bits = static_cast<std::uint16_t>(s | lo);
            const auto hi_bits = static_cast<std::uint16_t>(s | (lo + 1));
            const auto even = (lo & 1) == 0 ? lo_bits : hi_bits;
            const double below = decode(static_cast<std::uint16_t>(lo), kHalf);
            const double above = lo + 1 == kHalf.inf() ? 65536.0 : decode(hi_bits & 0x7fff, kHalf);
            const double tie = (sign != 0 ? -0.5 : 0.5) * (below + above);  // exact in float
            ASSERT_EQ(float_to_half(static_cast<float>(tie)).bits, even) << tie;
            ASSERT_EQ(double_to_half(tie).bits, even) << tie;
            const double toward_zero = std::nextafter(tie, 0.0);
            const double away = std::nextafter(tie, sign != 0 ? -INFINITY : INFINITY);
            ASSERT_EQ(float_to_half(std::nextafter(static_cast<float>(tie), 0.0f)).bits, lo_bits);
            // One double ulp off the tie: rounding through float would land on the tie first.
            ASSERT_EQ(double_to_half(toward_zero).bits, lo_bits) << tie;
            ASSERT_EQ(double_to_half(away).bits, hi_bits) << tie;
        }
    }
}

TEST(DTypeConvert, HalfOverflowUnderflowZeroAndNaN) {
    EXPECT_EQ(float_to_half(65504.0f).bits, 0x7bff);
    EXPECT_EQ(float_to_half(65519.99f).bits, 0x7bff);
    EXPECT_EQ(float_to_half(65520.0f).bits, 0x7c00);  // the tie above the largest goes to Inf
    EXPECT_EQ(double_to_half(-1e300).bits, 0xfc00);
    EXPECT_EQ(float_to_half(INFINITY).bits, 0x7c00);
    EXPECT_EQ(float_to_half(-0.0f).bits, 0x8000);
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)).bits, 0x0400);  // smallest normal
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)).bits, 0x0001);  // smallest subnormal
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)).bits, 0x0000);  // tie: to even, zero
    EXPECT_EQ(double_to_half(std::ldexp(1.0, -25) * (1 + 1e-15)).bits, 0x0001);
    EXPECT_EQ(double_to_half(std::numeric_limits<double>::denorm_min()).bits, 0x0000);
    EXPECT_EQ(float_to_half(std::numeric_limits<float>::denorm_min()).bits, 0x0000);
    EXPECT_TRUE(is_quiet_nan(float_to_half(std::nanf("")).bits, kHalf));
    EXPECT_TRUE(is_quiet_nan(float_to_half(float_from_bits(0xff800001u)).bits, kHalf));  // sNaN
    EXPECT_EQ(float_to_half(float_from_bits(0xff800001u)).bits & 0x8000, 0x8000);
    EXPECT_TRUE(is_quiet_nan(double_to_half(std::nan("")).bits, kHalf));
    EXPECT_TRUE(std::isnan(half_to_float(Half{0x7c01})));  // a signalling half NaN
}

TEST(DTypeConvert, FloatsRoundToTheNearestHalfAndBFloat16OnADenseSample) {
    // About a million float patterns spread over every exponent, signs and NaNs included.
    for (std::uint64_t b = 0; b < (std::uint64_t{1} << 32); b += 4093) {
        const float f = float_from_bits(static_cast<std::uint32_t>(b));
        const std::uint16_t h = float_to_half(f).bits;
        const std::uint16_t bf = float_to_bfloat16(f).bits;
        if (std::isnan(f)) {
            ASSERT_TRUE(is_quiet_nan(h, kHalf) && is_quiet_nan(bf, kBf16)) << std::hex << b;
            continue;
        }
        const bool inf = std::isinf(f);
        const auto sign = static_cast<std::uint16_t>(std::signbit(f) ? 0x8000 : 0);
        ASSERT_EQ(h, inf ? sign | kHalf.inf() : nearest(f, kHalf)) << std::hex << b;
        ASSERT_EQ(bf, inf ? sign | kBf16.inf() : nearest(f, kBf16)) << std::hex << b;
        ASSERT_EQ(double_to_bfloat16(f).bits, bf) << std::hex << b;
    }
}

TEST(DTypeConvert, EveryBFloat16RoundTripsAndDoublesRoundOnce) {
    Rng rng(17);
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        const auto bits = static_cast<std::uint16_t>(b);
        const float f = bfloat16_to_float(BFloat16{bits});
        if ((bits & kBf16.inf()) == kBf16.inf()) {
            EXPECT_EQ(std::isnan(f), (bits & 0x7f) != 0) << std::hex << b;
            continue;
        }
        ASSERT_EQ(static_cast<double>(f), decode(bits, kBf16)) << std::hex << b;
        ASSERT_EQ(float_to_bfloat16(f).bits, bits) << std::hex << b;
        // Doubles a hair off the tie above: through float they would round twice.
        if ((bits & 0x7fff) + 1 < kBf16.inf()) {
            const auto next = static_cast<std::uint16_t>(bits + 1);
            const double tie = 0.5 * (decode(bits, kBf16) + decode(next, kBf16));
            const double hair = std::ldexp(std::fabs(tie), -40) * (1 + rng.uniform_int(0, 7));
            const bool neg = (bits & 0x8000) != 0;
            EXPECT_EQ(double_to_bfloat16(neg ? tie + hair : tie - hair).bits, bits) << tie;
            EXPECT_EQ(double_to_bfloat16(neg ? tie - hair : tie + hair).bits, next) << tie;
            EXPECT_EQ(double_to_bfloat16(tie).bits, (bits & 1) == 0 ? bits : next) << tie;
        }
    }
    EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::max()).bits, 0x7f80);  // tie up: Inf
    EXPECT_EQ(double_to_bfloat16(1e39).bits, 0x7f80);
    EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::denorm_min()).bits, 0x0000);
    EXPECT_EQ(float_to_bfloat16(std::ldexp(1.0f, -133)).bits, 0x0001);  // smallest subnormal
    EXPECT_TRUE(std::isnan(bfloat16_to_float(BFloat16{0xff81})));
}

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

constexpr DType kAllDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16,
                                DType::kBFloat16};

TEST(TensorHost, SixteenBitTypesStoreConvertAndCopy) {
    EXPECT_EQ(dtype_size(DType::kFloat16), 2u);
    EXPECT_STREQ(dtype_name(DType::kBFloat16), "bfloat16");
    const std::vector<double> exact{0.5, -2.0, 3.25, 1024.0, 0.0};  // in all four dtypes
    const Tensor t = Tensor::from_vector(exact, {5});
    for (const DType a : kAllDTypes) {
        const Tensor ta = t.to(a);
        EXPECT_EQ(ta.nbytes(), 5 * dtype_size(a));
        EXPECT_EQ(ta.to_vector(), exact) << dtype_name(a);
        for (const DType b : kAllDTypes) {
            EXPECT_EQ(ta.to(b).to_vector(), exact) << dtype_name(a) << " -> " << dtype_name(b);
        }
        EXPECT_EQ(Tensor::full({3}, 3.25, a).to_vector(), std::vector<double>(3, 3.25));
        Tensor copy = Tensor::zeros({5}, a);
        copy.copy_from(ta);
        EXPECT_EQ(copy.clone().reshape({5, 1}).to_vector(), exact);
    }
    const Tensor h = Tensor::from_vector(std::vector<Half>{Half{0x3c00}, Half{0xfc00}}, {2});
    EXPECT_EQ(h.dtype(), DType::kFloat16);
    EXPECT_EQ(h.to_vector(), (std::vector<double>{1.0, -INFINITY}));
    EXPECT_EQ(h.data<Half>()[1].bits, 0xfc00);
    const Tensor bf = Tensor::from_vector(std::vector<BFloat16>{BFloat16{0x4049}}, {1});
    EXPECT_EQ(bf.data<BFloat16>()[0].bits, 0x4049);
    EXPECT_EQ(bf.to_vector(), std::vector<double>{3.140625});
}

TEST(TensorHost, ConversionsRoundOnceToNearestAndOverflowToInf) {
    // 1 + 2^-11 + 2^-40 sits just above the float16 tie between 1 and 1 + 2^-10. Through float
    // it would become the tie and round to even (1); rounded once it goes up.
    const Tensor d =
        Tensor::from_vector(std::vector<double>{1 + 0x1p-11 + 0x1p-40, 1e6, -1e6}, {3});
    EXPECT_EQ(d.to(DType::kFloat16).to_vector(),
              (std::vector<double>{1 + 0x1p-10, INFINITY, -INFINITY}));
    EXPECT_EQ(Tensor::full({1}, 1 + 0x1p-11 + 0x1p-40, DType::kFloat16).to_vector()[0],
              1 + 0x1p-10);
    EXPECT_EQ(d.to(DType::kBFloat16).to_vector()[1], 999424.0);  // 1e6 to 8 significant bits
    EXPECT_EQ(d.to(DType::kFloat32).to(DType::kBFloat16).to_vector()[1], 999424.0);
    const Tensor nan = Tensor::full({2}, std::nan(""), DType::kFloat64);
    for (const DType dtype : kAllDTypes) {
        EXPECT_TRUE(std::isnan(nan.to(dtype).to_vector()[1])) << dtype_name(dtype);
    }
}

// What add_ must give: the exact sum (a double holds the sum of two 16-bit or float values
// exactly), rounded once to the dtype.
std::vector<double> rounded_sums(const Tensor& a, const Tensor& b) {
    const std::vector<double> x = a.to_vector();
    const std::vector<double> y = b.to_vector();
    std::vector<double> sums(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        sums[i] = x[i] + y[i];
    }
    return Tensor::from_vector(sums, a.shape()).to(a.dtype()).to_vector();
}

TEST(TensorHost, AddAccumulatesEveryDtypeRoundedOnce) {
    Rng rng(3);
    for (const DType dtype : kAllDTypes) {
        Tensor a = random_normal(rng, {4, 33}, dtype);
        const Tensor b = random_normal(rng, {4, 33}, dtype);
        const std::vector<double> want = rounded_sums(a, b);
        a.add_(b);
        EXPECT_EQ(a.to_vector(), want) << dtype_name(dtype);
        const std::vector<double> doubled = rounded_sums(a, a);
        a.add_(a);  // other may be this tensor
        EXPECT_EQ(a.to_vector(), doubled) << dtype_name(dtype);
    }
}

TEST(TensorHost, MulMultipliesEveryDtypeRoundedOnce) {
    Rng rng(4);
    for (const DType dtype : kAllDTypes) {
        Tensor a = random_normal(rng, {3, 17}, dtype);
        const Tensor b = random_normal(rng, {3, 17}, dtype);
        const std::vector<double> x = a.to_vector();
        const std::vector<double> y = b.to_vector();
        std::vector<double> products(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
            products[i] = x[i] * y[i];
        }
        a.mul_(b);
        EXPECT_EQ(a.to_vector(), Tensor::from_vector(products, a.shape()).to(dtype).to_vector())
            << dtype_name(dtype);
    }
    Tensor c = Tensor::zeros({2}, DType::kFloat32);
    expect_error([&] { c.mul_(Tensor::zeros({3}, DType::kFloat32)); }, ErrorCode::kBadArgument,
                 "mul_ other must have shape (2,), got (3,)");
}

TEST(TensorHost, IntegerConversionsRoundToNearestEvenAndSaturate) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const Tensor x = Tensor::from_vector(
        std::vector<double>{-200, -128.5, -1.5, -0.5, 0.5, 1.5, 2.5, 127.5, 300, nan}, {10});
    EXPECT_EQ(x.to(DType::kInt8).to_vector(),
              (std::vector<double>{-128, -128, -2, 0, 0, 2, 2, 127, 127, 0}));
    EXPECT_EQ(x.to(DType::kUInt8).to_vector(),
              (std::vector<double>{0, 0, 0, 0, 0, 2, 2, 128, 255, 0}));
    EXPECT_EQ(x.to(DType::kInt32).to_vector(),
              (std::vector<double>{-200, -128, -2, 0, 0, 2, 2, 128, 300, 0}));
    const Tensor big =
        Tensor::from_vector(std::vector<std::int32_t>{2147483647, -2147483647 - 1}, {2});
    EXPECT_EQ(big.to_vector(), (std::vector<double>{2147483647.0, -2147483648.0}));
    EXPECT_EQ(big.to(DType::kFloat64).to(DType::kInt32).to_vector(), big.to_vector());
    Tensor acc = Tensor::full({3}, 100, DType::kInt8);
    acc.add_(Tensor::full({3}, 100, DType::kInt8));  // saturates, never wraps
    EXPECT_EQ(acc.to_vector(), (std::vector<double>{127, 127, 127}));
    EXPECT_STREQ(dtype_name(DType::kUInt8), "uint8");
    EXPECT_EQ(dtype_size(DType::kInt32), 4u);
    EXPECT_FALSE(is_floating(DType::kInt8));
}

TEST(TensorHost, AddAndCpuKernelsRejectWhatTheyCannotServe) {
    Tensor a = Tensor::zeros({2, 3}, DType::kFloat16);
    expect_error(
        [&] {
            a.add_(Tensor::zeros({3, 2}, DType::kFloat16));
        },
        ErrorCode::kBadArgument, "add_ other must have shape (2, 3), got (3, 2)");
    expect_error(
        [&] {
            a.add_(Tensor::zeros({2, 3}, DType::kBFloat16));
        },
        ErrorCode::kBadArgument, "add_ other must be float16, got bfloat16");
    expect_error([&] { a.add_(Tensor()); }, ErrorCode::kBadArgument, "add_ other must be a tensor");
    expect_error([] { Tensor::zeros({3}, DType::kBFloat16).data<Half>(); }, ErrorCode::kBadArgument,
                 "must match the dtype bfloat16");
    expect_error([] { cpu::with_float_type(DType::kBFloat16, [](auto) {}); },
                 ErrorCode::kNotSupported, "got bfloat16");
    expect_error([] { cpu::with_float_type(DType::kFloat16, [](auto) {}); },
                 ErrorCode::kNotSupported, "got float16");
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
    for (const DType dtype : kAllDTypes) {
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

TEST_F(TensorCudaDevice, FillWritesTheBitsAHostFillWrites) {
    for (const DType dtype : kAllDTypes) {
        for (const double v : {2.5, -1e6, 1 + 0x1p-11 + 0x1p-40, double{NAN}}) {
            const Tensor host = Tensor::full({1001}, v, dtype);
            const Tensor back = Tensor::full({1001}, v, dtype, Device::cuda(0)).to(Device::cpu());
            EXPECT_EQ(std::memcmp(back.raw_data(), host.raw_data(), host.nbytes()), 0)
                << dtype_name(dtype) << " " << v;
        }
    }
}

TEST_F(TensorCudaDevice, AddAndMulMatchTheHostForEveryDtype) {
    Rng rng(9);
    // Less than one block, and many blocks with a ragged last one.
    for (const Shape& shape : {Shape{7}, Shape{3, 100003}}) {
        for (const DType dtype : kAllDTypes) {
            Tensor a = random_normal(rng, shape, dtype);
            const Tensor b = random_normal(rng, shape, dtype);
            Tensor da = a.to(Device::cuda(0));
            da.add_(b.to(Device::cuda(0)));
            a.add_(b);
            da.add_(da);
            a.add_(a);
            da.mul_(b.to(Device::cuda(0)));
            a.mul_(b);
            const Tensor back = da.to(Device::cpu());
            EXPECT_EQ(std::memcmp(back.raw_data(), a.raw_data(), a.nbytes()), 0)
                << dtype_name(dtype) << " " << shape;
        }
    }
    Tensor d = Tensor::zeros({4}, DType::kFloat32, Device::cuda(0));
    expect_error([&] { d.add_(Tensor::zeros({4}, DType::kFloat32)); }, ErrorCode::kBadArgument,
                 "add_ other must be on cuda:0, got cpu");
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

TEST_F(TensorCudaDevice, HugeAllocationThrowsOutOfMemoryAndLeavesTheDeviceUsable) {
    const std::size_t before = cuda_memory_stats(0).allocated_bytes;
    expect_error([] { Tensor::empty({1LL << 46}, DType::kFloat32, Device::cuda(0)); },
                 ErrorCode::kOutOfMemory, "cudaMalloc");
    EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, before);
    // The failed allocation must not surface later as the error of an unrelated launch.
    EXPECT_EQ(
        Tensor::full({4}, 1.0, DType::kFloat32, Device::cuda(0)).to(Device::cpu()).to_vector(),
        std::vector<double>(4, 1.0));
}

TEST_F(TensorCudaDevice, AllocatedBytesCountLiveTensorsAndPeakTracksTheMost) {
    const std::size_t start = cuda_memory_stats(0).allocated_bytes;
    cuda_reset_peak_memory(0);
    EXPECT_EQ(cuda_memory_stats(0).peak_allocated_bytes, start);
    {
        const Tensor a = Tensor::empty({1 << 20}, DType::kFloat32, Device::cuda(0));  // 4 MiB
        {
            const Tensor b = Tensor::empty({1 << 20}, DType::kFloat16, Device::cuda(0));  // 2 MiB
            EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, start + (6u << 20));
        }
        EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, start + (4u << 20));
        EXPECT_EQ(cuda_memory_stats(0).peak_allocated_bytes, start + (6u << 20));
        cuda_reset_peak_memory(0);
        EXPECT_EQ(cuda_memory_stats(0).peak_allocated_bytes, start + (4u << 20));
        EXPECT_GE(cuda_memory_stats(0).reserved_bytes, 4u << 20);
    }
    EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, start);
    EXPECT_EQ(cuda_memory_stats(0).peak_allocated_bytes, start + (4u << 20));
}

TEST_F(TensorCudaDevice, FreedMemoryStaysCachedUntilEmptyCache) {
    cuda_empty_cache(0);
    const std::size_t start = cuda_memory_stats(0).reserved_bytes;
    constexpr std::size_t kBytes = std::size_t{64} << 20;
    {
        const Tensor t = Tensor::zeros({static_cast<std::int64_t>(kBytes / 4)}, DType::kFloat32,
                                       Device::cuda(0));
        EXPECT_GE(cuda_memory_stats(0).reserved_bytes, start + kBytes);
    }
    // A synchronising copy: a pool with the default release threshold would give the memory
    // back here.
    Tensor::zeros({1}, DType::kFloat32, Device::cuda(0)).to(Device::cpu());
    EXPECT_GE(cuda_memory_stats(0).reserved_bytes, start + kBytes);
    cuda_empty_cache(0);
    EXPECT_LE(cuda_memory_stats(0).reserved_bytes, start);
}

TEST_F(TensorCudaDevice, ManyAllocationCyclesReuseTheCache) {
    const CudaMemoryStats start = cuda_memory_stats(0);
    for (int i = 0; i < 1000; ++i) {
        const Tensor t = Tensor::empty({4 << 20}, DType::kFloat32, Device::cuda(0));  // 16 MiB
    }
    const CudaMemoryStats end = cuda_memory_stats(0);
    EXPECT_EQ(end.allocated_bytes, start.allocated_bytes);
    // Each cycle reuses the block the last one freed; without reuse this would be 16 GB.
    EXPECT_LE(end.reserved_bytes, start.reserved_bytes + (std::size_t{256} << 20));
}

TEST(CudaMemory, BadDeviceIndexThrowsNamingDeviceAndCpuBuildsReportZeros) {
    if (!cuda_built()) {
        EXPECT_EQ(cuda_memory_stats(0).reserved_bytes, 0u);
        cuda_reset_peak_memory(0);
        cuda_empty_cache(0);
        return;
    }
    const int count = cuda_device_count();
    for (const int bad : {-1, count}) {
        expect_error([bad] { cuda_memory_stats(bad); }, ErrorCode::kBadArgument,
                     "cuda_memory_stats: device must be in [0, ");
        expect_error([bad] { cuda_reset_peak_memory(bad); }, ErrorCode::kBadArgument,
                     "cuda_reset_peak_memory: device must be in [0, ");
        expect_error([bad] { cuda_empty_cache(bad); }, ErrorCode::kBadArgument,
                     "cuda_empty_cache: device must be in [0, ");
    }
}

}  // namespace
}  // namespace wtconv::test
