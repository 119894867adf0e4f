#pragma once
// alloc_output: every op allocates its outputs here, NaN-filled first when the context asks for
// it (Context::poison_outputs), so that an element a kernel forgets to write shows in the tests.
#include <limits>

#include <wtconv/context.h>
#include <wtconv/tensor.h>

namespace wtconv::detail {

inline Tensor alloc_output(Context& ctx, const Shape& shape, DType dtype, Device device) {
    Tensor t = Tensor::empty(shape, dtype, device);
    if (ctx.poison_outputs()) {
        // Integer outputs get their type's largest value (a fill saturates), which the tests'
        // inputs are chosen never to produce everywhere.
        t.fill(is_floating(dtype) ? std::numeric_limits<double>::quiet_NaN()
                                  : std::numeric_limits<double>::max());
    }
    return t;
}

}  // namespace wtconv::detail
