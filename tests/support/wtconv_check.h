#pragma once
// Runs WTConv2d or WTConv1d (by tc.spatial) through the library and through the double reference,
// so that one test body serves both ranks.
#include <wtconv/context.h>

#include "support/wtconv_cases.h"

namespace wtconv::test {

// Relative L2 bounds against the double reference. float64: the library and the reference order
// their sums differently (separable vs direct transforms), a few ulps per op, far below 1e-11.
// float32: the golden README's bound; a float32 run with exact filters stays within 1e-6.
constexpr double kTolFloat64 = 1e-11;
constexpr double kTolFloat32 = 1e-5;
inline double tolerance(DType dtype) {
    return dtype == DType::kFloat32 ? kTolFloat32 : kTolFloat64;
}

struct WTConvRun {
    Tensor y;
    WTConvGrads grads;
};

Shape wtconv_output_shape(const WTConvCase& tc);
Tensor wtconv_forward(Context& ctx,
                      const WTConvCase& tc,
                      const Tensor& x,
                      const WTConvWeights& w,
                      WTConvSaved* saved = nullptr);
WTConvGrads wtconv_backward(Context& ctx,
                            const WTConvCase& tc,
                            const Tensor& dy,
                            const WTConvWeights& w,
                            const WTConvSaved& saved);
// Forward, then backward with dy.
WTConvRun wtconv_run(
    Context& ctx, const WTConvCase& tc, const Tensor& x, const WTConvWeights& w, const Tensor& dy);

ref::Array reference_forward(const WTConvCase& tc, const ref::Array& x, const ref::Weights& w);
ref::Grads reference_backward(const WTConvCase& tc,
                              const ref::Array& x,
                              const ref::Array& dy,
                              const ref::Weights& w);

// Every algorithm the device runs (CPU: planewise and direct).
std::vector<WTConvAlgo> algos_on(Device device);

// The whole comparison: random x, weights and dy from tc.seed; library on ctx's device vs the
// reference, forward and every gradient, for every algorithm of the device, each error under
// tolerance(tc.dtype).
void expect_matches_reference(Context& ctx, const WTConvCase& tc);

}  // namespace wtconv::test
