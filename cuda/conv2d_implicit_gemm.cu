// conv2d forward on CUDA as an implicit GEMM (Conv2dAlgo::kImplicitGemm): the tile per dtype and
// shape, and the launches of the FMA (cuda/conv2d_implicit_gemm_fma.cuh) and tensor-core
// (cuda/conv2d_implicit_gemm_mma.cuh) kernels.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <type_traits>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/conv2d_implicit_gemm_fma.cuh"
#include "cuda/conv2d_implicit_gemm_mma.cuh"
#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/numeric.cuh"
#include "ops/conv2d_backends.h"

namespace wtconv::cuda {

namespace {

using implicit_gemm::FmaTile;
using implicit_gemm::GemmShape;
using implicit_gemm::MmaTile;
using Geometry = ::wtconv::detail::Conv2dGeometry;  // cuda::detail is check.h's

constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return (a + b - 1) / b;
}

// The kernels index in 32 bits where these hold; outside them (images of 2^30 rows, 2^31
// pixels) the request is valid but this algorithm does not serve it.
GemmShape gemm_shape(const Geometry& g, int bm, int bn, int bk, int splits) {
    WTCONV_CHECK_CODE(g.h + 2 * g.ph < (1 << 30) && g.w + 2 * g.pw < (1 << 30),
                      ErrorCode::kNotSupported,
                      "conv2d: the implicit GEMM algorithm needs H + 2 pad_h and W + 2 pad_w "
                      "below 2^30, got ",
                      g.h, "x", g.w, " padded by (", g.ph, ", ", g.pw, ")");
    const std::int64_t pixels = g.n * g.p();
    const std::int64_t m_tiles = ceil_div(g.og(), bm), p_tiles = ceil_div(pixels, bn);
    WTCONV_CHECK_CODE(g.k() + 2 * bk <= kIntMax && g.o <= kIntMax && g.n <= kIntMax &&
                          g.p() + bn <= kIntMax && g.groups * m_tiles * p_tiles <= kIntMax,
                      ErrorCode::kNotSupported,
                      "conv2d: the implicit GEMM algorithm needs C/groups kh kw, O, N, Ho Wo "
                      "and its tile count below 2^31, got C/groups kh kw = ",
                      g.k(), ", O = ", g.o, ", N = ", g.n, ", Ho Wo = ", g.p());
    GemmShape s{};
    s.n = static_cast<int>(g.n);
    s.h = static_cast<int>(g.h);
    s.w = static_cast<int>(g.w);
    s.hw = g.hw();
    s.x_image = g.c * g.hw();
    s.kh = g.kh;
    s.kw = g.kw;
    s.sh = g.sh;
    s.sw = g.sw;
    s.ph = g.ph;
    s.pw = g.pw;
    s.dh = g.dh;
    s.dw = g.dw;
    s.cg = static_cast<int>(g.cg());
    s.og = static_cast<int>(g.og());
    s.k = static_cast<int>(g.k());
    s.wo = static_cast<int>(g.wo);
    s.p = static_cast<int>(g.p());
    s.y_image = g.o * g.p();
    s.m_tiles = static_cast<int>(m_tiles);
    s.p_tiles = static_cast<int>(p_tiles);
    // Whole K tiles per split, and no empty split.
    s.k_split_len = static_cast<int>(ceil_div(ceil_div(g.k(), splits), bk) * bk);
    s.k_splits = static_cast<int>(ceil_div(g.k(), s.k_split_len));
    s.tile_step = implicit_gemm::tap_step(bk, g.kh, g.kw);
    s.row_step = implicit_gemm::tap_step(implicit_gemm::kWarps, g.kh, g.kw);
    return s;
}

dim3 grid(const Geometry& g, const GemmShape& s) {
    return dim3(static_cast<unsigned>(g.groups * static_cast<std::int64_t>(s.m_tiles) * s.p_tiles),
                static_cast<unsigned>(s.k_splits));
}

// Vector loads of the weights need every row start (a multiple of K) and the tensor aligned.
template <class S>
bool weights_aligned(const S* weight, std::int64_t k, int vector) {
    const auto address = reinterpret_cast<std::uintptr_t>(weight);
    return k % vector == 0 && address % (vector * sizeof(S)) == 0;
}

// The sums' type: float for every storage type but double.
template <class S>
using Accumulator = std::conditional_t<std::is_same_v<S, double>, double, float>;

template <class S>
struct Pointers {
    const S* x;
    const S* weight;
    const S* bias;  // null without bias
    S* y;
    Device device;
};

template <class S>
Pointers<S> pointers(const Tensor& x, const Conv2dWeights& w, Tensor& y) {
    return Pointers<S>{static_cast<const S*>(x.raw_data()),
                       static_cast<const S*>(w.weight.raw_data()),
                       w.bias.defined() ? static_cast<const S*>(w.bias.raw_data()) : nullptr,
                       static_cast<S*>(y.raw_data()), y.device()};
}

// y = bias + the splits' partial sums, added in split order: the second pass of split-K.
template <class S, class A>
__global__ void sum_splits_kernel(std::int64_t numel,
                                  int splits,
                                  int pixels,
                                  int channels,
                                  const A* __restrict__ partial,
                                  const S* __restrict__ bias,
                                  S* __restrict__ y) {
    WTCONV_GRID_STRIDE_LOOP(i, numel) {
        A v = partial[i];
        for (int split = 1; split < splits; ++split) {
            v += partial[split * numel + i];
        }
        if constexpr (std::is_same_v<S, A>) {
            y[i] = bias != nullptr ? v + bias[i / pixels % channels] : v;
        } else {
            y[i] = from_float<S>(bias != nullptr ? v + to_float(bias[i / pixels % channels]) : v);
        }
    }
}

// Partial sums of every split but the first, which goes straight into y, would save memory; the
// extra output-sized copies are small where splitting pays (few, small output tiles).
template <class S>
class SplitSums {
public:
    SplitSums(const GemmShape& s, const Pointers<S>& p) : s_(s), p_(p) {
        if (s.k_splits > 1) {
            partial_ = Tensor::empty(Shape{s.k_splits * numel()}, storage_dtype<Accumulator<S>>(),
                                     p.device);
        }
    }

    Accumulator<S>* partial() {
        return partial_.defined() ? static_cast<Accumulator<S>*>(partial_.raw_data()) : nullptr;
    }

    void finish(cudaStream_t stream) {
        if (s_.k_splits == 1) {
            return;
        }
        sum_splits_kernel<S, Accumulator<S>>
            <<<elementwise_blocks(numel()), kElementwiseThreads, 0, stream>>>(
                numel(), s_.k_splits, s_.p, static_cast<int>(s_.y_image / s_.p), partial(), p_.bias,
                p_.y);
        WTCONV_CUDA_CHECK_LAUNCH();
    }

private:
    std::int64_t numel() const { return s_.n * s_.y_image; }

    GemmShape s_;
    Pointers<S> p_;
    Tensor partial_;
};

template <class Tile, class T>
void launch_fma(cudaStream_t stream, const Geometry& g, const Pointers<T>& p, int splits) {
    const GemmShape s = gemm_shape(g, Tile::kBM, Tile::kBN, Tile::kBK, splits);
    const bool aligned = weights_aligned(p.weight, s.k, Tile::kAVector);
    SplitSums<T> sums(s, p);
    implicit_gemm::conv2d_implicit_gemm_fma_kernel<T, Tile>
        <<<grid(g, s), implicit_gemm::kThreads, 0, stream>>>(s, p.x, p.weight, p.bias, aligned, p.y,
                                                             sums.partial());
    WTCONV_CUDA_CHECK_LAUNCH();
    sums.finish(stream);
}

template <class Tile, class S>
void launch_mma(cudaStream_t stream, const Geometry& g, const Pointers<S>& p, int splits) {
    const GemmShape s = gemm_shape(g, Tile::kBM, Tile::kBN, Tile::kBK, splits);
    const bool aligned = weights_aligned(p.weight, s.k, Tile::kAVector);
    SplitSums<S> sums(s, p);
    const auto kernel = implicit_gemm::conv2d_implicit_gemm_mma_kernel<S, Tile>;
    // Above the default 48 KB for the larger tiles; cheap, so set before every launch.
    WTCONV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(Tile::kSmemBytes)));
    kernel<<<grid(g, s), implicit_gemm::kThreads, Tile::kSmemBytes, stream>>>(
        s, p.x, p.weight, p.bias, aligned, p.y, sums.partial());
    WTCONV_CUDA_CHECK_LAUNCH();
    sums.finish(stream);
}

enum class TileKind { k128x192, k64x192, k128x128, k128x64, k64x128, k64x64, k16x128 };

// What a launch runs: a tile and how many K splits.
struct Plan {
    TileKind tile;
    int splits;
};

struct TileOption {
    TileKind kind;
    int bm, bn;
    int per_sm;    // blocks an SM holds at once
    double speed;  // outputs per unit time of a full SM relative to 128x128: reuse of each load
};

// A cost model per pipe, fitted to a sweep of every tile and split count (1 to 12) over
// ResNet-18's convolutions on the H100 (docs/conv2d.md): the pick is within 1.1 % (FMA) and 9 %
// (tensor cores) of the fastest variant at every shape.
struct PlanModel {
    const TileOption* tiles;
    int tile_count;
    double lone_block_speed;  // a block alone on a two-block SM, relative to the pair
    double split_cost;        // per split and output: the partial sums' round trip through L2
    int prologue_rows;        // K rows' worth of time a block spends before its loop runs full
};

constexpr TileOption kFmaTiles[] = {
    {TileKind::k128x192, 128, 192, 1, 1.1}, {TileKind::k64x192, 64, 192, 2, 0.9},
    {TileKind::k128x128, 128, 128, 1, 1.0}, {TileKind::k128x64, 128, 64, 2, 0.8},
    {TileKind::k64x128, 64, 128, 2, 0.8},   {TileKind::k64x64, 64, 64, 2, 0.8}};
constexpr TileOption kMmaTiles[] = {{TileKind::k128x128, 128, 128, 2, 1.0},
                                    {TileKind::k128x64, 128, 64, 2, 0.8},
                                    {TileKind::k64x128, 64, 128, 2, 0.7},
                                    {TileKind::k64x64, 64, 64, 2, 0.6}};
// double: the 128-row tiles' 64 accumulators would take 128 of a thread's 255 registers before
// any operand.
constexpr TileOption kFmaDoubleTiles[] = {{TileKind::k64x128, 64, 128, 1, 0.95},
                                          {TileKind::k64x64, 64, 64, 2, 0.7}};
constexpr PlanModel kFmaModel = {kFmaTiles, static_cast<int>(std::size(kFmaTiles)), 1.8, 0.1, 64};
constexpr PlanModel kFmaDoubleModel = {kFmaDoubleTiles,
                                       static_cast<int>(std::size(kFmaDoubleTiles)), 1.8, 0.2, 0};
constexpr PlanModel kMmaModel = {kMmaTiles, static_cast<int>(std::size(kMmaTiles)), 1.6, 2.0, 256};

constexpr int kMaxSplits = 12;
constexpr int kMinSplitRows = 256;  // shorter splits spend more on partial sums than they save
constexpr int kModelBk = 16;

// Estimated time of a tile and split count: blocks go round-robin over the SMs, per_sm at a time;
// a last block alone on a two-block SM runs faster than half speed.
double plan_time(
    const PlanModel& model, const TileOption& t, int splits, const Geometry& g, int sm_count) {
    const std::int64_t split_rows = ceil_div(ceil_div(g.k(), splits), kModelBk) * kModelBk;
    const std::int64_t blocks = g.groups * ceil_div(g.og(), t.bm) * ceil_div(g.n * g.p(), t.bn) *
                                ceil_div(g.k(), split_rows);
    const std::int64_t per_sm = ceil_div(blocks, sm_count);
    // Time of one block with the SM to itself (one-block tiles) or shared with another.
    const double block_work =
        static_cast<double>(t.bm) * t.bn * (split_rows + model.prologue_rows) / t.speed;
    double time = 0;
    if (t.per_sm == 1) {
        time = static_cast<double>(per_sm) * block_work;
    } else {
        time = static_cast<double>(per_sm / 2 * 2) * block_work +
               static_cast<double>(per_sm % 2) * 2 * block_work / model.lone_block_speed;
    }
    if (splits > 1) {
        time += model.split_cost * splits * static_cast<double>(g.o) * g.n * g.p();
    }
    return time;
}

// The plan of least estimated time. Split-K changes the order of an output's sum, so results
// depend on the plan (which depends on the shape and the SM count), never on anything else.
Plan choose_plan(const PlanModel& model, const Geometry& g, int sm_count) {
    if (g.og() <= 16) {
        return Plan{TileKind::k16x128,
                    1};  // depthwise and thin groups: the 16-row tile wastes least
    }
    Plan best{TileKind::k64x64, 1};
    double best_time = -1;
    for (int i = 0; i < model.tile_count; ++i) {
        const TileOption& t = model.tiles[i];
        for (int splits = 1; splits <= kMaxSplits; ++splits) {
            if (splits > 1 && g.k() < static_cast<std::int64_t>(splits) * kMinSplitRows) {
                break;
            }
            const double time = plan_time(model, t, splits, g, sm_count);
            if (best_time < 0 || time < best_time) {
                best = Plan{t.kind, splits};
                best_time = time;
            }
        }
    }
    return best;
}

// float32 (IEEE products) and float64 on the FMA pipe, K tiles of 16 rows for float.
template <class T>
void forward_fma(cudaStream_t stream, const Geometry& g, const Plan& plan, const Pointers<T>& p) {
    if constexpr (sizeof(T) == 4) {
        switch (plan.tile) {
            case TileKind::k128x192:
                return launch_fma<FmaTile<T, 128, 192, 8, 12, 1, 16>>(stream, g, p, plan.splits);
            case TileKind::k64x192:
                return launch_fma<FmaTile<T, 64, 192, 4, 12, 2, 16>>(stream, g, p, plan.splits);
            case TileKind::k128x128:
                // One block per SM: two would spill (within 4 % of two in the sweep).
                return launch_fma<FmaTile<T, 128, 128, 8, 8, 1, 16>>(stream, g, p, plan.splits);
            case TileKind::k128x64:
                return launch_fma<FmaTile<T, 128, 64, 8, 4, 2, 16>>(stream, g, p, plan.splits);
            case TileKind::k64x128:
                return launch_fma<FmaTile<T, 64, 128, 4, 8, 2, 16>>(stream, g, p, plan.splits);
            case TileKind::k64x64:
                return launch_fma<FmaTile<T, 64, 64, 4, 4, 2, 16>>(stream, g, p, plan.splits);
            case TileKind::k16x128:
                return launch_fma<FmaTile<T, 16, 128, 2, 4, 2>>(stream, g, p, plan.splits);
        }
    } else {
        switch (plan.tile) {
            case TileKind::k64x128:
                return launch_fma<FmaTile<T, 64, 128, 4, 8, 1>>(stream, g, p, plan.splits);
            case TileKind::k16x128:
                return launch_fma<FmaTile<T, 16, 128, 2, 4, 2>>(stream, g, p, plan.splits);
            default:  // kFmaDoubleModel offers no other
                return launch_fma<FmaTile<T, 64, 64, 4, 4, 2>>(stream, g, p, plan.splits);
        }
    }
}

// TF32 for float32, and float16, bfloat16: warps 2 x 4 (4 x 2 for 128x64, 1 x 8 for the 16-row
// tile). Two blocks per SM where the registers allow it without spilling (not TF32's larger
// staging at the 128-row and 64x128 tiles, nor bfloat16's conversions at 128x128).
template <class S>
void forward_mma(cudaStream_t stream, const Geometry& g, const Plan& plan, const Pointers<S>& p) {
    constexpr int kTwo = sizeof(S) == 2 ? 2 : 1;
    constexpr int kTwoAt128 = std::is_same_v<S, __half> ? 2 : 1;  // bfloat16's would spill
    switch (plan.tile) {
        case TileKind::k128x128:
            return launch_mma<MmaTile<S, 128, 128, 2, kTwoAt128>>(stream, g, p, plan.splits);
        case TileKind::k128x64:
            return launch_mma<MmaTile<S, 128, 64, 4, kTwo>>(stream, g, p, plan.splits);
        case TileKind::k64x128:
            return launch_mma<MmaTile<S, 64, 128, 2, kTwo>>(stream, g, p, plan.splits);
        case TileKind::k128x192:  // the 192-column tiles are the FMA pipe's only
        case TileKind::k64x192:
        case TileKind::k64x64:
            return launch_mma<MmaTile<S, 64, 64, 2, 2>>(stream, g, p, plan.splits);
        case TileKind::k16x128:
            return launch_mma<MmaTile<S, 16, 128, 1, 2>>(stream, g, p, plan.splits);
    }
}

// The model of the pipe that serves dtype: TF32, float16 and bfloat16 multiply on the tensor
// cores, float32 and float64 on the FMA pipe.
const PlanModel& pipe_model(DType dtype, bool allow_tf32) {
    if (dtype == DType::kFloat64) {
        return kFmaDoubleModel;
    }
    return dtype == DType::kFloat32 && !allow_tf32 ? kFmaModel : kMmaModel;
}

// The 16-row tile, outside the models, serves thin groups on both pipes.
constexpr TileOption kThinTile = {TileKind::k16x128, 16, 128, 2, 1.0};

Plan forced_plan(const PlanModel& model, const ImplicitGemmPlan& forced) {
    WTCONV_CHECK(forced.splits >= 1, "conv2d: a forced implicit GEMM plan needs splits >= 1, got ",
                 forced.splits);
    for (int i = 0; i <= model.tile_count; ++i) {
        const TileOption& t = i < model.tile_count ? model.tiles[i] : kThinTile;
        if (t.bm == forced.tile_rows && t.bn == forced.tile_columns) {
            return Plan{t.kind, forced.splits};
        }
    }
    throw Error(ErrorCode::kNotSupported,
                ::wtconv::detail::concat("conv2d: the implicit GEMM has no ", forced.tile_rows, "x",
                                         forced.tile_columns, " tile for this dtype"));
}

}  // namespace

std::vector<ImplicitGemmPlan> implicit_gemm_tiles(DType dtype, bool allow_tf32) {
    const PlanModel& model = pipe_model(dtype, allow_tf32);
    std::vector<ImplicitGemmPlan> tiles;
    for (int i = 0; i < model.tile_count; ++i) {
        tiles.push_back(ImplicitGemmPlan{model.tiles[i].bm, model.tiles[i].bn, 1});
    }
    tiles.push_back(ImplicitGemmPlan{kThinTile.bm, kThinTile.bn, 1});
    return tiles;
}

void conv2d_forward_implicit_gemm(Context& ctx,
                                  const ::wtconv::detail::Conv2dGeometry& g,
                                  const Tensor& x,
                                  const Conv2dWeights& w,
                                  bool allow_tf32,
                                  Tensor& y,
                                  const ImplicitGemmPlan* forced) {
    const DType dtype = x.dtype();
    if (y.numel() == 0) {
        return;  // an empty grid is a launch error
    }
    const DeviceGuard guard(x.device().index);
    int sm_count = 1;
    WTCONV_CUDA_CHECK(
        cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, x.device().index));
    sm_count = std::max(sm_count, 1);
    const PlanModel& model = pipe_model(dtype, allow_tf32);
    const Plan plan =
        forced != nullptr ? forced_plan(model, *forced) : choose_plan(model, g, sm_count);
    const cudaStream_t stream = ctx.cuda_stream();
    with_storage_type("conv2d", dtype, [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, double>) {
            forward_fma(stream, g, plan, pointers<T>(x, w, y));
        } else if constexpr (std::is_same_v<T, float>) {
            if (allow_tf32) {
                forward_mma(stream, g, plan, pointers<T>(x, w, y));
            } else {
                forward_fma(stream, g, plan, pointers<T>(x, w, y));
            }
        } else {
            forward_mma(stream, g, plan, pointers<T>(x, w, y));
        }
    });
}

}  // namespace wtconv::cuda
