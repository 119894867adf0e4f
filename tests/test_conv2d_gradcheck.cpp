// conv2d backward, checked twice without the library's forward as judge of itself: the reference's
// gradients against central finite differences of the reference's forward, and the library's
// gradients against the adjoint (dot-product) identities of its own forward, which is linear in x
// and in the weight: <conv(x, W), dy> = <x, dx> = <W, dW>, and sum(dy) per channel = dbias.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include <wtconv/ops/conv2d.h>

#include "reference/conv2d_ref.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

struct GradCase {
    Shape x, weight;
    ref::Conv2dConfig cfg;
};

// Strides, one-sided and two-sided padding, dilation, groups, depthwise, a 1-pixel image.
std::vector<GradCase> grad_cases() {
    return {
        {Shape{2, 3, 6, 5}, Shape{4, 3, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
        {Shape{1, 4, 7, 8}, Shape{6, 2, 3, 2}, {2, 1, 1, 0, 1, 2, 2}},
        {Shape{2, 4, 5, 5}, Shape{8, 1, 3, 3}, {1, 2, 2, 1, 2, 1, 4}},
        {Shape{1, 2, 1, 1}, Shape{3, 2, 3, 3}, {1, 1, 1, 1, 1, 1, 1}},
        {Shape{3, 2, 9, 4}, Shape{2, 2, 2, 1}, {3, 2, 0, 3, 1, 1, 1}},
    };
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

ref::Array random_array(Rng& rng, const Shape& shape) {
    ref::Array a(shape.sizes());
    for (double& v : a.data) {
        v = rng.normal();
    }
    return a;
}

// L(x, W, b) = <conv(x, W, b), dy>; its gradient is what backward returns for upstream dy.
double loss(const ref::Array& x,
            const ref::Array& w,
            const ref::Array& b,
            const ref::Array& dy,
            const ref::Conv2dConfig& cfg) {
    return dot(ref::conv2d_forward(x, w, b, cfg).data, dy.data);
}

TEST(Conv2dGradcheck, ReferenceGradientsMatchFiniteDifferences) {
    Rng rng(11);
    for (const GradCase& gc : grad_cases()) {
        ref::Array x = random_array(rng, gc.x);
        ref::Array w = random_array(rng, gc.weight);
        ref::Array b = random_array(rng, Shape{gc.weight[0]});
        const ref::Array y = ref::conv2d_forward(x, w, b, gc.cfg);
        const ref::Array dy = random_array(rng, Shape(y.shape));
        const ref::Conv2dGrads g = ref::conv2d_backward(dy, x, w, gc.cfg);
        // The loss is linear in each argument, so the central difference is exact up to rounding
        // of O(1) sums: h = 1e-3 leaves ~1e-12 absolute error, bound 1e-8 relative.
        const double h = 1e-3;
        const auto check = [&](ref::Array& arg, const ref::Array& grad, const char* what) {
            std::vector<double> fd(arg.data.size());
            for (std::size_t e = 0; e < arg.data.size(); ++e) {
                const double keep = arg.data[e];
                arg.data[e] = keep + h;
                const double up = loss(x, w, b, dy, gc.cfg);
                arg.data[e] = keep - h;
                const double down = loss(x, w, b, dy, gc.cfg);
                arg.data[e] = keep;
                fd[e] = (up - down) / (2 * h);
            }
            EXPECT_LT(rel_l2_error(grad.data, fd), 1e-8) << what << " of case x " << gc.x;
        };
        check(x, g.dx, "dx");
        check(w, g.dweight, "dweight");
        check(b, g.dbias, "dbias");
    }
}

TEST(Conv2dGradcheck, LibraryGradientsAreTheAdjointOfItsForward) {
    Rng rng(12);
    for (const GradCase& gc : grad_cases()) {
        for (const int threads : {1, 2}) {
            Conv2dParams p;
            p.stride_h = gc.cfg.stride_h;
            p.stride_w = gc.cfg.stride_w;
            p.pad_h = gc.cfg.pad_h;
            p.pad_w = gc.cfg.pad_w;
            p.dilation_h = gc.cfg.dilation_h;
            p.dilation_w = gc.cfg.dilation_w;
            p.groups = gc.cfg.groups;
            p.bias = false;  // linear in x and in W only without bias
            ContextOptions options;
            options.num_threads = threads;
            options.poison_outputs = true;
            Context ctx(Device::cpu(), options);
            Conv2dWeights w{random_normal(rng, gc.weight, DType::kFloat64), Tensor()};
            const Tensor x = random_normal(rng, gc.x, DType::kFloat64);
            Conv2dSaved saved;
            const Tensor y = conv2d_forward(ctx, x, w, p, &saved);
            const Tensor dy = random_normal(rng, y.shape(), DType::kFloat64);
            const Conv2dGrads g = conv2d_backward(ctx, dy, w, p, saved);
            const double lhs = dot(y.to_vector(), dy.to_vector());
            // Each side sums the same products in another order: rounding only, ~1e-15.
            EXPECT_NEAR(dot(x.to_vector(), g.dx.to_vector()), lhs, 1e-12 * std::abs(lhs) + 1e-12)
                << "<x, dx> for x " << gc.x << ", threads " << threads;
            EXPECT_NEAR(dot(w.weight.to_vector(), g.dweights.weight.to_vector()), lhs,
                        1e-12 * std::abs(lhs) + 1e-12)
                << "<W, dW> for x " << gc.x << ", threads " << threads;
        }
    }
}

TEST(Conv2dBackward, SkippingDxLeavesItUndefinedAndTheWeightGradientsUnchanged) {
    Rng rng(13);
    Conv2dParams p;
    p.pad_h = p.pad_w = 1;
    Context ctx;
    Conv2dWeights w{random_normal(rng, Shape{4, 3, 3, 3}, DType::kFloat32),
                    random_normal(rng, Shape{4}, DType::kFloat32)};
    const Tensor x = random_normal(rng, Shape{2, 3, 8, 8}, DType::kFloat32);
    Conv2dSaved saved;
    const Tensor y = conv2d_forward(ctx, x, w, p, &saved);
    const Tensor dy = random_normal(rng, y.shape(), DType::kFloat32);
    const Conv2dGrads all = conv2d_backward(ctx, dy, w, p, saved);
    const Conv2dGrads no_dx = conv2d_backward(ctx, dy, w, p, saved, /*need_dx=*/false);
    EXPECT_FALSE(no_dx.dx.defined());
    EXPECT_EQ(host_bytes(no_dx.dweights.weight), host_bytes(all.dweights.weight));
    EXPECT_EQ(host_bytes(no_dx.dweights.bias), host_bytes(all.dweights.bias));
}

TEST(Conv2dBackward, RepeatedRunsAreBitwiseIdentical) {
    Rng rng(14);
    Conv2dParams p;
    p.pad_h = p.pad_w = 1;
    p.stride_h = 2;
    ContextOptions options;
    options.num_threads = 2;
    Context ctx(Device::cpu(), options);
    // Several chunks per image and more items than threads: the partial sums are combined.
    Conv2dWeights w{random_normal(rng, Shape{8, 64, 3, 3}, DType::kFloat32),
                    random_normal(rng, Shape{8}, DType::kFloat32)};
    const Tensor x = random_normal(rng, Shape{3, 64, 30, 30}, DType::kFloat32);
    Conv2dSaved saved;
    const Tensor y = conv2d_forward(ctx, x, w, p, &saved);
    const Tensor dy = random_normal(rng, y.shape(), DType::kFloat32);
    const Conv2dGrads first = conv2d_backward(ctx, dy, w, p, saved);
    for (int run = 0; run < 3; ++run) {
        EXPECT_EQ(host_bytes(conv2d_forward(ctx, x, w, p)), host_bytes(y));
        const Conv2dGrads again = conv2d_backward(ctx, dy, w, p, saved);
        EXPECT_EQ(host_bytes(again.dx), host_bytes(first.dx));
        EXPECT_EQ(host_bytes(again.dweights.weight), host_bytes(first.dweights.weight));
        EXPECT_EQ(host_bytes(again.dweights.bias), host_bytes(first.dweights.bias));
    }
}

}  // namespace
}  // namespace wtconv::test
