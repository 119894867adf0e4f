// One comparison of the library against the double reference (see wtconv_check.h).
#include "support/wtconv_check.h"

#include <gtest/gtest.h>

#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>

namespace wtconv::test {

Shape wtconv_output_shape(const WTConvCase& tc) {
    const int s = tc.params.stride;
    if (tc.spatial == 1) {
        return Shape{tc.n, tc.c, s > 1 ? tc.w / s : tc.w};
    }
    return Shape{tc.n, tc.c, s > 1 ? (tc.h - 1) / s + 1 : tc.h, s > 1 ? (tc.w - 1) / s + 1 : tc.w};
}

Tensor wtconv_forward(Context& ctx,
                      const WTConvCase& tc,
                      const Tensor& x,
                      const WTConvWeights& w,
                      WTConvSaved* saved) {
    return tc.spatial == 2 ? wtconv2d_forward(ctx, x, w, tc.params, saved)
                           : wtconv1d_forward(ctx, x, w, tc.params, saved);
}

WTConvGrads wtconv_backward(Context& ctx,
                            const WTConvCase& tc,
                            const Tensor& dy,
                            const WTConvWeights& w,
                            const WTConvSaved& saved) {
    return tc.spatial == 2 ? wtconv2d_backward(ctx, dy, w, tc.params, saved)
                           : wtconv1d_backward(ctx, dy, w, tc.params, saved);
}

WTConvRun wtconv_run(
    Context& ctx, const WTConvCase& tc, const Tensor& x, const WTConvWeights& w, const Tensor& dy) {
    WTConvSaved saved;
    WTConvRun run;
    run.y = wtconv_forward(ctx, tc, x, w, &saved);
    run.grads = wtconv_backward(ctx, tc, dy, w, saved);
    return run;
}

ref::Array reference_forward(const WTConvCase& tc, const ref::Array& x, const ref::Weights& w) {
    const ref::FilterBank fb = reference_filter_bank(tc.params.wavelet);
    const ref::Config cfg = to_ref_config(tc.params);
    return tc.spatial == 2 ? ref::wtconv2d_forward(x, w, cfg, fb)
                           : ref::wtconv1d_forward(x, w, cfg, fb);
}

ref::Grads reference_backward(const WTConvCase& tc,
                              const ref::Array& x,
                              const ref::Array& dy,
                              const ref::Weights& w) {
    const ref::FilterBank fb = reference_filter_bank(tc.params.wavelet);
    const ref::Config cfg = to_ref_config(tc.params);
    return tc.spatial == 2 ? ref::wtconv2d_backward(x, dy, w, cfg, fb)
                           : ref::wtconv1d_backward(x, dy, w, cfg, fb);
}

std::vector<WTConvAlgo> algos_on(Device device) {
    switch (device.type) {
        case DeviceType::kCpu:
            return {WTConvAlgo::kPlanewise, WTConvAlgo::kDirect};
        case DeviceType::kCuda:
            break;
    }
    return {};  // TODO(#4): the CUDA direct and fused algorithms
}

void expect_matches_reference(Context& ctx, const WTConvCase& tc) {
    Rng rng(tc.seed);
    const Device dev = ctx.device();
    const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype, dev);
    const WTConvWeights w = random_wtconv_weights(rng, tc, dev);
    const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype, dev);
    const ref::Array rx = to_ref(x);
    const ref::Weights rw = to_ref(w);
    const ref::Array want_y = reference_forward(tc, rx, rw);
    const ref::Grads want = reference_backward(tc, rx, to_ref(dy), rw);
    const double tol = tolerance(tc.dtype);

    for (const WTConvAlgo algo : algos_on(dev)) {
        WTConvCase run_case = tc;
        run_case.params.algo = algo;
        const WTConvRun run = wtconv_run(ctx, run_case, x, w, dy);
        const std::string where =
            std::string(" by ") + wtconv_algo_name(algo) + " of " + describe(tc);
        EXPECT_LT(rel_l2_error(run.y, want_y), tol) << "y" << where;
        for (const auto& [name, err] : gradient_errors(run.grads, want, tc.params)) {
            EXPECT_LT(err, tol) << name << where;
        }
    }
}

}  // namespace wtconv::test
