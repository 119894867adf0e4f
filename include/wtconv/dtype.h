#pragma once
// Element types, and the host storage types of the 16-bit ones with their conversions. The integer
// types hold quantised tensors (int8 inference); adding a value here makes -Wswitch point at every
// function that must learn it.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace wtconv {

enum class DType : std::uint8_t { kFloat32, kFloat64, kFloat16, kBFloat16, kInt8, kUInt8, kInt32 };

constexpr std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::kFloat32:
            return 4;
        case DType::kFloat64:
            return 8;
        case DType::kFloat16:
        case DType::kBFloat16:
            return 2;
        case DType::kInt8:
        case DType::kUInt8:
            return 1;
        case DType::kInt32:
            return 4;
    }
    return 0;
}

constexpr bool is_floating(DType dtype) {
    switch (dtype) {
        case DType::kFloat32:
        case DType::kFloat64:
        case DType::kFloat16:
        case DType::kBFloat16:
            return true;
        case DType::kInt8:
        case DType::kUInt8:
        case DType::kInt32:
            return false;
    }
    return false;
}

constexpr const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::kFloat32:
            return "float32";
        case DType::kFloat64:
            return "float64";
        case DType::kFloat16:
            return "float16";
        case DType::kBFloat16:
            return "bfloat16";
        case DType::kInt8:
            return "int8";
        case DType::kUInt8:
            return "uint8";
        case DType::kInt32:
            return "int32";
    }
    return "?";
}

// IEEE binary16 and bfloat16 as their raw bits. They have the size and alignment of CUDA's __half
// and __nv_bfloat16, so device code may reinterpret_cast a tensor's pointer; they carry no
// arithmetic, which happens in float after the conversions below.
struct Half {
    std::uint16_t bits;
};
struct BFloat16 {
    std::uint16_t bits;
};
static_assert(sizeof(Half) == 2 && alignof(Half) == 2, "Half must match __half");
static_assert(sizeof(BFloat16) == 2 && alignof(BFloat16) == 2, "BFloat16 must match __nv_bfloat16");

namespace detail {

template <class To, class From>
To bit_cast(const From& from) {  // std::bit_cast is C++20
    static_assert(sizeof(To) == sizeof(From), "bit_cast needs equal sizes");
    To to;
    std::memcpy(&to, &from, sizeof(To));
    return to;
}

inline int highest_bit(std::uint64_t v) {  // v > 0
    int i = 0;
    while (v >>= 1) {
        ++i;
    }
    return i;
}

// Rounds a binary float of kSrcExp exponent and kSrcMant fraction bits to the nearest value of a
// 16-bit format of kDstExp/kDstMant bits, ties to even, in one step: narrowing double to float
// first and then to 16 bits could round twice (a value just above a tie would land on the tie).
// Overflow gives Inf; NaN keeps its sign and top payload bits and is always quiet.
template <int kSrcExp, int kSrcMant, int kDstExp, int kDstMant>
std::uint16_t round_to_16(std::uint64_t bits) {
    static_assert(kDstExp + kDstMant == 15, "the target is a 16-bit format");
    constexpr int kSrcBias = (1 << (kSrcExp - 1)) - 1;
    constexpr int kDstBias = (1 << (kDstExp - 1)) - 1;
    constexpr std::uint64_t kSrcExpMax = (std::uint64_t{1} << kSrcExp) - 1;
    constexpr std::int64_t kDstInf = std::int64_t{(1 << kDstExp) - 1} << kDstMant;

    const auto sign = static_cast<std::uint16_t>((bits >> (kSrcExp + kSrcMant)) & 1u) << 15;
    const std::uint64_t exp_field = (bits >> kSrcMant) & kSrcExpMax;
    const std::uint64_t frac = bits & ((std::uint64_t{1} << kSrcMant) - 1);
    if (exp_field == kSrcExpMax) {
        if (frac == 0) {
            return static_cast<std::uint16_t>(sign | kDstInf);
        }
        const std::uint64_t quiet = std::uint64_t{1} << (kDstMant - 1);
        return static_cast<std::uint16_t>(sign | kDstInf | quiet | (frac >> (kSrcMant - kDstMant)));
    }
    if (exp_field == 0 && frac == 0) {
        return sign;
    }
    // |v| = sig * 2^e2 exactly, sig an integer; then v's exponent is e2 + highest_bit(sig).
    const std::uint64_t sig = exp_field == 0 ? frac : frac | (std::uint64_t{1} << kSrcMant);
    const int e2 = (exp_field == 0 ? 1 : static_cast<int>(exp_field)) - kSrcBias - kSrcMant;
    const int log2v = e2 + highest_bit(sig);
    // The target's spacing near v is 2^q; below its smallest normal the spacing stays fixed
    // (subnormals), so q never drops under that of the smallest normal.
    const int min_normal_exp = 1 - kDstBias;
    const int q = (log2v > min_normal_exp ? log2v : min_normal_exp) - kDstMant;
    // n = round(|v| / 2^q), ties to even.
    const int shift = q - e2;
    std::uint64_t n = 0;
    if (shift <= 0) {
        n = sig << -shift;  // the target is at least as fine here: exact
    } else if (shift < 64) {
        n = sig >> shift;
        const std::uint64_t rest = sig & ((std::uint64_t{1} << shift) - 1);
        const std::uint64_t half = std::uint64_t{1} << (shift - 1);
        if (rest > half || (rest == half && (n & 1u) != 0)) {
            ++n;
        }
    }  // shift >= 64: |v| < 2^(q-1), half the smallest subnormal, so it rounds to zero
    // Biased exponent minus one, shifted, plus n (which holds the implicit bit when normal): a
    // carry out of the fraction lands in the exponent, and subnormals get a zero exponent field.
    const std::int64_t biased = q + kDstMant + kDstBias;
    const std::int64_t magnitude = ((biased - 1) << kDstMant) + static_cast<std::int64_t>(n);
    return static_cast<std::uint16_t>(sign | (magnitude >= kDstInf ? kDstInf : magnitude));
}

}  // namespace detail

// Exact widenings: every Half and BFloat16 value is a float. NaN comes back quiet.
inline float half_to_float(Half h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
    const std::uint32_t exp_field = (h.bits >> 10) & 0x1fu;
    const std::uint32_t frac = h.bits & 0x3ffu;
    std::uint32_t bits = 0;
    if (exp_field == 0x1f) {
        bits = sign | 0x7f800000u | (frac << 13) | (frac != 0 ? 0x400000u : 0u);
    } else if (exp_field != 0) {
        bits = sign | ((exp_field + 112) << 23) | (frac << 13);  // rebias 15 -> 127
    } else if (frac != 0) {
        const int top = detail::highest_bit(frac);  // subnormal: frac * 2^-24
        bits = sign | (static_cast<std::uint32_t>(top + 103) << 23) |
               ((frac << (23 - top)) & 0x7fffffu);
    } else {
        bits = sign;
    }
    return detail::bit_cast<float>(bits);
}
inline float bfloat16_to_float(BFloat16 b) {
    const bool nan = (b.bits & 0x7f80u) == 0x7f80u && (b.bits & 0x7fu) != 0;
    return detail::bit_cast<float>(static_cast<std::uint32_t>(b.bits | (nan ? 0x40u : 0u)) << 16);
}

// Round to nearest, ties to even; out of range gives +-Inf; NaN stays NaN (quiet).
inline Half float_to_half(float v) {
    return Half{detail::round_to_16<8, 23, 5, 10>(detail::bit_cast<std::uint32_t>(v))};
}
inline Half double_to_half(double v) {
    return Half{detail::round_to_16<11, 52, 5, 10>(detail::bit_cast<std::uint64_t>(v))};
}
inline BFloat16 float_to_bfloat16(float v) {
    return BFloat16{detail::round_to_16<8, 23, 8, 7>(detail::bit_cast<std::uint32_t>(v))};
}
inline BFloat16 double_to_bfloat16(double v) {
    return BFloat16{detail::round_to_16<11, 52, 8, 7>(detail::bit_cast<std::uint64_t>(v))};
}

template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
    static constexpr DType value = DType::kFloat32;
};
template <>
struct DTypeOf<double> {
    static constexpr DType value = DType::kFloat64;
};
template <>
struct DTypeOf<Half> {
    static constexpr DType value = DType::kFloat16;
};
template <>
struct DTypeOf<BFloat16> {
    static constexpr DType value = DType::kBFloat16;
};
template <>
struct DTypeOf<std::int8_t> {
    static constexpr DType value = DType::kInt8;
};
template <>
struct DTypeOf<std::uint8_t> {
    static constexpr DType value = DType::kUInt8;
};
template <>
struct DTypeOf<std::int32_t> {
    static constexpr DType value = DType::kInt32;
};
template <class T>
constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace wtconv
