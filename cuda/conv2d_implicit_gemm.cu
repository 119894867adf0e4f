// conv2d forward on CUDA as an implicit GEMM (Conv2dAlgo::kImplicitGemm): the tile per dtype and
// shape, and the launches of the FMA (cuda/conv2d_implicit_gemm_fma.cuh) and tensor-core
// (cuda/conv2d_implicit_gemm_mma.cuh) kernels.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

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
GemmShape gemm_shape(const Geometry& g, int bm, int bn, int bk) {
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
    s.tile_step = implicit_gemm::tap_step(bk, g.kh, g.kw);
    s.row_step = implicit_gemm::tap_step(implicit_gemm::kWarps, g.kh, g.kw);
    return s;
}

unsigned block_count(const Geometry& g, const GemmShape& s) {
    return static_cast<unsigned>(g.groups * static_cast<std::int64_t>(s.m_tiles) * s.p_tiles);
}

// Vector loads of the weights need every row start (a multiple of K) and the tensor aligned.
template <class S>
bool weights_aligned(const S* weight, std::int64_t k, int vector) {
    const auto address = reinterpret_cast<std::uintptr_t>(weight);
    return k % vector == 0 && address % (vector * sizeof(S)) == 0;
}

template <class S>
struct Pointers {
    const S* x;
    const S* weight;
    const S* bias;  // null without bias
    S* y;
};

template <class S>
Pointers<S> pointers(const Tensor& x, const Conv2dWeights& w, Tensor& y) {
    return Pointers<S>{static_cast<const S*>(x.raw_data()),
                       static_cast<const S*>(w.weight.raw_data()),
                       w.bias.defined() ? static_cast<const S*>(w.bias.raw_data()) : nullptr,
                       static_cast<S*>(y.raw_data())};
}

template <class Tile, class T>
void launch_fma(cudaStream_t stream, const Geometry& g, const Pointers<T>& p) {
    const GemmShape s = gemm_shape(g, Tile::kBM, Tile::kBN, Tile::kBK);
    const bool aligned = weights_aligned(p.weight, s.k, Tile::kAVector);
    implicit_gemm::conv2d_implicit_gemm_fma_kernel<T, Tile>
        <<<block_count(g, s), implicit_gemm::kThreads, 0, stream>>>(s, p.x, p.weight, p.bias,
                                                                    aligned, p.y);
    WTCONV_CUDA_CHECK_LAUNCH();
}

template <class Tile, class S>
void launch_mma(cudaStream_t stream, const Geometry& g, const Pointers<S>& p) {
    const GemmShape s = gemm_shape(g, Tile::kBM, Tile::kBN, Tile::kBK);
    const bool aligned = weights_aligned(p.weight, s.k, Tile::kAVector);
    const auto kernel = implicit_gemm::conv2d_implicit_gemm_mma_kernel<S, Tile>;
    // Above the default 48 KB for the larger tiles; cheap, so set before every launch.
    WTCONV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(Tile::kSmemBytes)));
    kernel<<<block_count(g, s), implicit_gemm::kThreads, Tile::kSmemBytes, stream>>>(
        s, p.x, p.weight, p.bias, aligned, p.y);
    WTCONV_CUDA_CHECK_LAUNCH();
}

enum class TileKind { k128x128, k64x128, k64x64, k16x128 };

struct TileOption {
    TileKind kind;
    int bm, bn;
    double speed;  // outputs per unit time relative to 128x128: less reuse of each shared load
};

// Estimates until measured on the GPU (TODO(#5)).
constexpr TileOption kTileOptions[] = {
    {TileKind::k128x128, 128, 128, 1.0},
    {TileKind::k64x128, 64, 128, 0.85},
    {TileKind::k64x64, 64, 64, 0.7},
};

// The tile of least estimated time: waves of one block per SM, each as long as a block's outputs
// over its speed. Without split-K the small images of deep layers (512 channels at 7x7) need
// smaller tiles to fill the GPU, and a last wave of a few blocks costs as much as a full one.
// The choice never changes a result: every tile sums an output's K products in the same order.
TileKind choose_tile(const Geometry& g, int sm_count, bool has_128x128) {
    if (g.og() <= 16) {
        return TileKind::k16x128;  // depthwise and other thin groups: the 16-row tile wastes least
    }
    TileKind best = TileKind::k64x64;
    double best_time = 0;
    for (const TileOption& t : kTileOptions) {
        if (t.kind == TileKind::k128x128 && !has_128x128) {
            continue;
        }
        const std::int64_t blocks = g.groups * ceil_div(g.og(), t.bm) * ceil_div(g.n * g.p(), t.bn);
        const double time = static_cast<double>(ceil_div(blocks, sm_count)) * t.bm * t.bn / t.speed;
        if (best_time == 0 || time < best_time) {
            best = t.kind;
            best_time = time;
        }
    }
    return best;
}

// float32 (IEEE products) and float64 on the FMA pipe. The 128x128 tile is float only: 64 double
// accumulators would take 128 of a thread's 255 registers before any operand.
template <class T>
void forward_fma(cudaStream_t stream, const Geometry& g, int sm_count, const Pointers<T>& p) {
    constexpr bool kFloat = sizeof(T) == 4;
    switch (choose_tile(g, sm_count, kFloat)) {
        case TileKind::k128x128:
            if constexpr (kFloat) {
                return launch_fma<FmaTile<T, 128, 128, 8, 8, 1>>(stream, g, p);
            }
            [[fallthrough]];  // not offered for double
        case TileKind::k64x128:
            return launch_fma<FmaTile<T, 64, 128, 4, 8, 1>>(stream, g, p);
        case TileKind::k64x64:
            return launch_fma<FmaTile<T, 64, 64, 4, 4, 2>>(stream, g, p);
        case TileKind::k16x128:
            return launch_fma<FmaTile<T, 16, 128, 2, 4, 2>>(stream, g, p);
    }
}

// TF32 for float32, and float16, bfloat16: warps 2 x 4 (1 x 8 for the 16-row tile). Two blocks
// per SM where the registers allow it without spilling (not TF32's larger staging at 64x128).
template <class S>
void forward_mma(cudaStream_t stream, const Geometry& g, int sm_count, const Pointers<S>& p) {
    constexpr bool kTwoByte = sizeof(S) == 2;
    switch (choose_tile(g, sm_count, true)) {
        case TileKind::k128x128:
            return launch_mma<MmaTile<S, 128, 128, 2, 1>>(stream, g, p);
        case TileKind::k64x128:
            return launch_mma<MmaTile<S, 64, 128, 2, kTwoByte ? 2 : 1>>(stream, g, p);
        case TileKind::k64x64:
            return launch_mma<MmaTile<S, 64, 64, 2, 2>>(stream, g, p);
        case TileKind::k16x128:
            return launch_mma<MmaTile<S, 16, 128, 1, 2>>(stream, g, p);
    }
}

}  // namespace

void conv2d_forward_implicit_gemm(Context& ctx,
                                  const ::wtconv::detail::Conv2dGeometry& g,
                                  const Tensor& x,
                                  const Conv2dWeights& w,
                                  bool allow_tf32,
                                  Tensor& y) {
    const DType dtype = x.dtype();
    if (y.numel() == 0) {
        return;  // an empty grid is a launch error
    }
    const DeviceGuard guard(x.device().index);
    int sm_count = 1;
    WTCONV_CUDA_CHECK(
        cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, x.device().index));
    sm_count = std::max(sm_count, 1);
    const cudaStream_t stream = ctx.cuda_stream();
    with_storage_type("conv2d", dtype, [&](auto tag) {
        using T = decltype(tag);
        // TF32, float16 and bfloat16 multiply on the tensor cores; float32 and float64 on the FMA
        // pipe.
        if constexpr (std::is_same_v<T, double>) {
            forward_fma(stream, g, sm_count, pointers<T>(x, w, y));
        } else if constexpr (std::is_same_v<T, float>) {
            if (allow_tf32) {
                forward_mma(stream, g, sm_count, pointers<T>(x, w, y));
            } else {
                forward_fma(stream, g, sm_count, pointers<T>(x, w, y));
            }
        } else {
            forward_mma(stream, g, sm_count, pointers<T>(x, w, y));
        }
    });
}

}  // namespace wtconv::cuda
