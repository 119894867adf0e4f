#pragma once
// Element types. float16, bfloat16 and int8 join later (issues #4, #5): adding a value here makes
// -Wswitch point at every function that must learn it.
#include <cstddef>
#include <cstdint>

namespace wtconv {

enum class DType : std::uint8_t { kFloat32, kFloat64 };

constexpr std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::kFloat32:
            return 4;
        case DType::kFloat64:
            return 8;
    }
    return 0;
}

constexpr const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::kFloat32:
            return "float32";
        case DType::kFloat64:
            return "float64";
    }
    return "?";
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
template <class T>
constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace wtconv
