#pragma once
// Staging x and building level 1 of its Haar pyramid in one pass, for images whose rows are a
// multiple of 4 pixels (not a zero-upsampled dy): each load of 2 rows x 4 pixels gives both the
// level-0 array and two level-1 positions' four bands. Staging first and building level 1 from
// shared memory took 39 % of the 56x56 L3 forward's instructions (ncu, H100): generic per-element
// index arithmetic around every value, twice.
#include "cuda/wtconv2d_fused_stages.cuh"
#include "cuda/wtconv2d_fused_whole_plane.cuh"

namespace wtconv::cuda::fused {

// first_level_fusable (cuda/wtconv2d_fused_plan.h): whether stage_image_and_first_levels can stage
// a plan's image.
// Whether the forward and dx kernels do: whole planes always (stage_whole_plane_levels,
// H100 2026-11-25 against staging first: 28x28 L2 forward 10 % faster in float32, 12 % in
// bfloat16); tiles in float32 (16-byte loads) with blocks of 4 warps or more. Tiles'
// window-by-window pass was up to 5 % slower than staging first in float16 and bfloat16 (8-byte
// loads of 4 pixels) and with 2-warp blocks (H100, 2026-11-24).
template <class S>
__host__ __device__ constexpr bool forward_stages_first_level(const FusedPlan& p, bool adjoint) {
    return first_level_fusable(p, adjoint) &&
           (p.whole_plane || (sizeof(S) == 4 && p.threads >= 128));
}

// Level 0 (x on the tile widened by e_0) and level 1's four bands (on the tile widened by e_1),
// exactly as stage_image followed by build_pyramid's first step would leave them: zero outside
// the image and in the slack columns. Work item (i, k): image rows 2i, 2i + 1 and columns
// 4k..4k + 3 past the covered area's corner, which starts at an even row and a multiple of 4
// columns and covers both windows.
template <class S>
__device__ void stage_window_and_first_level(const FusedPlan& p,
                                             const S* __restrict__ src,
                                             const TileIndex& t,
                                             float* smem) {
    constexpr int kPixels = 4;
    constexpr int kBatch = 2;  // 16 values in flight a thread
    using Bits = typename RawVector<kPixels * sizeof(S)>::Type;
    const FusedLevel& l0 = p.level[0];
    const FusedLevel& l1 = p.level[1];
    const int h = p.h, w = p.w;
    float* x = level_array(p, smem, 0, 0);
    float* bands = level_array(p, smem, 1, 0);
    const int band_size = l1.rows * l1.pitch;
    const S* plane = src + static_cast<long long>(t.plane) * h * w;
    // the windows' image origins: level 0 in pixels, level 1 in positions
    const int y0 = t.row - l0.ext, x0 = t.col - l0.ext;
    const int y1 = (t.row >> 1) - l1.ext, x1 = (t.col >> 1) - l1.ext;
    // 2 y1 <= y0 and 2 x1 <= x0 (e_0 <= 2 e_1); & ~3 rounds down, negative values too
    const int first_y = 2 * y1, first_x = (2 * x1) & ~3;
    const int end_y = max(2 * (y1 + l1.rows), y0 + l0.rows);
    const int end_x = max(2 * (x1 + l1.pitch), x0 + l0.pitch);
    const int pairs = (end_y - first_y + 1) / 2, chunks = (end_x - first_x + kPixels - 1) / kPixels;
    const int count = pairs * chunks;
    // item = i * chunks + k, stepped by blockDim.x without dividing
    const int step_i = blockDim.x / chunks, step_k = blockDim.x % chunks;
    int i = threadIdx.x / chunks, k = threadIdx.x % chunks;
    for (int first = threadIdx.x; first < count; first += kBatch * blockDim.x) {
        float v[kBatch][2][kPixels];
        int gy[kBatch], gx[kBatch];  // image row and column of the item's first pixel
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            gy[u] = first_y + 2 * i;
            gx[u] = first_x + kPixels * k;
            i += step_i;
            k += step_k;
            if (k >= chunks) {
                k -= chunks;
                ++i;
            }
            const bool columns_inside = first + u * blockDim.x < count && gx[u] >= 0 && gx[u] < w;
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                union {
                    Bits vector;
                    S scalars[kPixels];
                } pack;
                pack.vector = Bits{};
                const int row = gy[u] + r;
                if (columns_inside && row >= 0 && row < h) {
                    pack.vector = *reinterpret_cast<const Bits*>(plane + row * w + gx[u]);
                }
#pragma unroll
                for (int q = 0; q < kPixels; ++q) {
                    v[u][r][q] = to_float(pack.scalars[q]);
                }
            }
        }
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            if (first + u * blockDim.x >= count) {
                break;
            }
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                const int r0 = gy[u] + r - y0;
                if (r0 >= 0 && r0 < l0.rows) {
#pragma unroll
                    for (int q = 0; q < kPixels; ++q) {
                        const int c0 = gx[u] + q - x0;
                        if (c0 >= 0 && c0 < l0.pitch) {
                            x[r0 * l0.pitch + c0] = c0 < l0.cols ? v[u][r][q] : 0.f;
                        }
                    }
                }
            }
            const int r1 = (gy[u] >> 1) - y1;
            if (r1 >= 0 && r1 < l1.rows) {
#pragma unroll
                for (int j = 0; j < kPixels / 2; ++j) {
                    const int c1 = (gx[u] >> 1) + j - x1;
                    if (c1 >= 0 && c1 < l1.pitch) {
                        float b[4] = {};
                        if (c1 < l1.cols) {
                            haar_butterfly(v[u][0][2 * j], v[u][0][2 * j + 1], v[u][1][2 * j],
                                           v[u][1][2 * j + 1], b);
                        }
#pragma unroll
                        for (int band = 0; band < 4; ++band) {
                            bands[band * band_size + r1 * l1.pitch + c1] = b[band];
                        }
                    }
                }
            }
        }
    }
}

// Level 0 and level 1's four bands of the tile (stage_window_and_first_level), and for whole
// planes level 2's too where there is one (stage_whole_plane_levels); returns the deepest level
// staged, so that build_pyramid starts past it.
template <class S>
__device__ int stage_image_and_first_levels(const FusedPlan& p,
                                            const S* __restrict__ src,
                                            const TileIndex& t,
                                            float* smem) {
    if (whole_plane_stageable(p)) {
        if (p.levels >= 2) {
            stage_whole_plane_levels<S, 2, true>(p, src, t, ImageLevels{p, smem});
            return 2;
        }
        stage_whole_plane_levels<S, 1, true>(p, src, t, ImageLevels{p, smem});
        return 1;
    }
    stage_window_and_first_level<S>(p, src, t, smem);
    return 1;
}

}  // namespace wtconv::cuda::fused
