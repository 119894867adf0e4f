#pragma once
// with_float_type: calls a generic lambda with a value of the C++ type of a floating DType, so
// every CPU entry point instantiates its template for float and double from one switch.
#include <wtconv/dtype.h>

namespace wtconv::cpu {

// f(T{}) with T = float for kFloat32, double for kFloat64; no default, so -Wswitch names this
// place when DType grows.
template <class F>
void with_float_type(DType dtype, F&& f) {
    switch (dtype) {
        case DType::kFloat32:
            f(float{});
            return;
        case DType::kFloat64:
            f(double{});
            return;
    }
}

}  // namespace wtconv::cpu
