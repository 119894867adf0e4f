// test_conv2d_cuda, implicit GEMM tiles: the planner picks few of them at test sizes (thin random
// shapes take the 16-row tile), so each tile of each pipe runs here by force, unsplit and split
// three ways, on shapes past every tile edge, against the double reference with y NaN-poisoned.
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/ops/conv2d.h>

#include "ops/conv2d_backends.h"
#include "support/conv2d_cases.h"
#include "support/test_support.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

const Device kCuda = Device::cuda(0);

struct Mode {
    DType dtype;
    bool tf32;
    double tolerance;  // relative L2, as test_conv2d_cuda.cpp states them
};
const Mode kModes[] = {{DType::kFloat64, false, 1e-12},
                       {DType::kFloat32, false, 1e-5},
                       {DType::kFloat32, true, 5e-3},
                       {DType::kFloat16, false, 2e-3},
                       {DType::kBFloat16, false, 1.6e-2}};

// Output channels past one 128-row tile (136; two groups of 70), pixels past a 192-column tile
// and across images, K (360; 297 per group) with a partial last K tile when split three ways.
std::vector<Conv2dCase> shapes() {
    return {make_case(2, 40, 13, 11, 136, 3, 3, 1, 1, 1, 1, true),
            make_case(3, 66, 9, 10, 140, 3, 3, 2, 1, 1, 2, false)};
}

std::string mode_name(const Mode& m) {
    return std::string(dtype_name(m.dtype)) + (m.tf32 ? " tf32" : "");
}

class Conv2dImplicitGemmTiles : public CudaTest {};

TEST_F(Conv2dImplicitGemmTiles, EveryTileAndSplitMatchesTheReference) {
    Context ctx = cuda_test_context();
    std::uint64_t seed = 900;
    int runs = 0;
    for (const Mode& mode : kModes) {
        const std::vector<cuda::ImplicitGemmPlan> tiles =
            cuda::implicit_gemm_tiles(mode.dtype, mode.tf32);
        ASSERT_GE(tiles.size(), 3u) << mode_name(mode);  // double has the fewest
        for (Conv2dCase tc : shapes()) {
            tc.dtype = mode.dtype;
            tc.params.allow_tf32 = mode.tf32;
            tc.seed = seed++;
            const Conv2dInputs host = random_inputs(tc);
            const ref::Array want = reference_conv2d(tc, host).y;
            const detail::Conv2dGeometry g =
                detail::conv2d_geometry(tc.x_shape(), tc.weight_shape(), tc.params);
            const Tensor x = host.x.to(kCuda);
            Conv2dWeights w;
            w.weight = host.w.weight.to(kCuda);
            if (host.w.bias.defined()) {
                w.bias = host.w.bias.to(kCuda);
            }
            for (cuda::ImplicitGemmPlan plan : tiles) {
                for (const int splits : {1, 3}) {
                    plan.splits = splits;
                    Tensor y =
                        Tensor::full(Shape{g.n, g.o, g.ho, g.wo},
                                     std::numeric_limits<double>::quiet_NaN(), mode.dtype, kCuda);
                    cuda::conv2d_forward_implicit_gemm(ctx, g, x, w, mode.tf32, y, &plan);
                    EXPECT_LT(rel_l2_error(y, want), mode.tolerance)
                        << mode_name(mode) << ", tile " << plan.tile_rows << "x"
                        << plan.tile_columns << ", splits " << splits << ", " << describe(tc);
                    ++runs;
                }
            }
        }
    }
    // shapes x splits x tiles: float32 on the FMA pipe 7, float64 3, each tensor-core mode 5
    EXPECT_EQ(runs, 2 * 2 * (7 + 3 + 3 * 5));
}

TEST_F(Conv2dImplicitGemmTiles, ATileThePipeLacksIsRefused) {
    Context ctx = cuda_test_context();
    const Conv2dCase tc = make_case(1, 4, 5, 5, 8, 3, 3, 1, 1, 1, 1, false);
    const detail::Conv2dGeometry g =
        detail::conv2d_geometry(tc.x_shape(), tc.weight_shape(), tc.params);
    const Tensor x = Tensor::zeros(tc.x_shape(), DType::kFloat64, kCuda);
    Conv2dWeights w;
    w.weight = Tensor::zeros(tc.weight_shape(), DType::kFloat64, kCuda);
    Tensor y = Tensor::zeros(Shape{1, 8, 5, 5}, DType::kFloat64, kCuda);
    const cuda::ImplicitGemmPlan wide{128, 192, 1};  // float32's FMA tile, not double's
    EXPECT_THROW(cuda::conv2d_forward_implicit_gemm(ctx, g, x, w, false, y, &wide), Error);
    const cuda::ImplicitGemmPlan no_splits{64, 64, 0};
    EXPECT_THROW(cuda::conv2d_forward_implicit_gemm(ctx, g, x, w, false, y, &no_splits), Error);
}

}  // namespace
}  // namespace wtconv::test
