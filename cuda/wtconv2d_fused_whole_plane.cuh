#pragma once
// Staging a whole plane (the tile at the origin) with the first levels of its Haar pyramid in one
// pass: x into the level arrays (windows widened by e_m = R), or dy into the weight gradient's
// arrays (not widened). Every element of the windows outside the image is zero, so the
// arrays are zeroed by 16-byte stores while the first items' loads are in flight, and each item
// then stores its pixels and bands with no bounds test. The window-by-window pass
// (stage_window_and_first_level) spent about 220 instructions an item of 2 rows x 4 pixels on
// bounds and index arithmetic (ncu, 56x56 L3 forward: 20 % of the kernel's instructions).
#include "cuda/wtconv2d_fused_stages.cuh"

namespace wtconv::cuda::fused {

// Zeros n floats from a (16-byte aligned, n a multiple of 4) by 16-byte stores.
__device__ inline void zero_floats(float* a, int n) {
    float4* v = reinterpret_cast<float4*>(a);
    for (int i = threadIdx.x; i < n / 4; i += blockDim.x) {
        v[i] = make_float4(0.f, 0.f, 0.f, 0.f);
    }
}

// Whether stage_whole_plane_levels can stage this plan's image (the caller has checked
// first_level_fusable: a level 1, rows a multiple of 4 pixels, not a zero-upsampled dy): a whole
// plane whose first levels' arrays start 16-byte aligned, as they always do (e_m = K/2,
// window_aligned_offset; the plan test checks), tested again so that a plan change falls back to
// the window-by-window pass instead of misaligned stores.
__host__ __device__ inline bool whole_plane_stageable(const FusedPlan& p) {
    if (!p.whole_plane) {
        return false;
    }
    for (int m = 0; m <= p.levels && m <= 2; ++m) {
        if (p.level[m].offset % 4 != 0 || p.level[m].pitch % 4 != 0) {
            return false;
        }
    }
    return true;
}

// Where a whole plane's first levels go, read from the plan where they are used (a struct of
// their values made the forward kernels' address arithmetic 64-bit and their tiles 2 % slower,
// H100): level m's array (its band b at b * band(m) floats past at(m) for m >= 1) holds position
// (r, c) at at(m)[(r + ext(m)) * pitch(m) + c + ext(m)]; zeros(m) floats from at(m) are zero
// wherever no pixel or band lands.
struct ImageLevels {  // the forward's level arrays (FusedLevel: windows widened by e_m = R)
    const FusedPlan& p;
    float* smem;
    __device__ float* at(int m) const { return level_array(p, smem, m, 0); }
    __device__ int pitch(int m) const { return p.level[m].pitch; }
    __device__ int ext(int m) const { return p.level[m].ext; }
    __device__ int band(int m) const { return p.level[m].rows * p.level[m].pitch; }
    __device__ int zeros(int m) const { return (m == 0 ? 1 : 4) * band(m); }
};

struct GradientLevels {  // the weight-gradient kernel's dy pyramid (the tile, no widening)
    const FusedPlan& p;
    float* smem;
    __device__ float* at(int m) const { return smem + p.grad_offset[m]; }
    __device__ int pitch(int m) const { return p.grad_pitch[m]; }
    __device__ int ext(int) const { return 0; }
    __device__ int band(int m) const { return (p.tile_h >> m) * p.grad_pitch[m]; }
    __device__ int zeros(int m) const { return (m == 0 ? 1 : 4) * band(m); }
};

// Zeros levels 0..kLevels of `a` by 16-byte stores.
template <int kLevels, class Levels>
__device__ void zero_whole_plane_levels(const Levels& a) {
#pragma unroll
    for (int m = 0; m <= kLevels; ++m) {
        zero_floats(a.at(m), a.zeros(m));
    }
}

// Levels 0..kLevels (1 or 2) of a whole plane whose rows are a multiple of 4 pixels into `a`,
// exactly as staging the image and building its pyramid would leave them; returns this thread's
// share of the pixels' sum. kZero: the arrays are zeroed here, the first items' loads in flight
// meanwhile, then a barrier; otherwise the caller has zeroed them and passed a barrier since.
// Item (i, k): image rows 2^kLevels i + r and columns 4k..4k + 3 (rows past the height zero); it
// stores 2^kLevels x 4 pixels, 2^(kLevels-1) x 2 level-1 positions' four bands and, for kLevels =
// 2, one level-2 position's from their LLs.
template <class S, int kLevels, bool kZero, class Levels>
__device__ float stage_whole_plane_levels(const FusedPlan& p,
                                          const S* __restrict__ src,
                                          const TileIndex& t,
                                          const Levels& a) {
    static_assert(kLevels == 1 || kLevels == 2, "levels 1 or 2");
    constexpr int kPixels = 4;
    constexpr int kRows = 2 << (kLevels - 1);
    constexpr int kBatch = 2 / kLevels;  // 16 values in flight a thread
    using Bits = typename RawVector<kPixels * sizeof(S)>::Type;
    const int h = p.h, w = p.w;
    float* x = a.at(0);
    float* bands1 = a.at(1);
    float* bands2 = a.at(kLevels);  // used for kLevels = 2 only
    const int band1 = a.band(1), band2 = a.band(kLevels);
    const S* plane = src + static_cast<long long>(t.plane) * h * w;
    const int chunks = w / kPixels, count = (h + kRows - 1) / kRows * chunks;
    // item = i * chunks + k, stepped by blockDim.x without dividing
    const int step_i = blockDim.x / chunks, step_k = blockDim.x % chunks;
    int i = threadIdx.x / chunks, k = threadIdx.x % chunks;
    float sum = 0.f;
    float v[kBatch][kRows][kPixels];
    int item_i[kBatch], item_k[kBatch];
    const auto load_batch = [&](int first) {
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            item_i[u] = i;
            item_k[u] = k;
            i += step_i;
            k += step_k;
            if (k >= chunks) {
                k -= chunks;
                ++i;
            }
            const bool inside = first + u * blockDim.x < count;
#pragma unroll
            for (int r = 0; r < kRows; ++r) {
                union {
                    Bits vector;
                    S scalars[kPixels];
                } pack;
                pack.vector = Bits{};
                const int row = kRows * item_i[u] + r;
                if (inside && row < h) {
                    pack.vector =
                        *reinterpret_cast<const Bits*>(plane + row * w + kPixels * item_k[u]);
                }
#pragma unroll
                for (int q = 0; q < kPixels; ++q) {
                    v[u][r][q] = to_float(pack.scalars[q]);
                }
            }
        }
    };
    const auto store_batch = [&](int first) {
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            if (first + u * blockDim.x >= count) {
                break;
            }
            float* x_at =
                x + (kRows * item_i[u] + a.ext(0)) * a.pitch(0) + kPixels * item_k[u] + a.ext(0);
#pragma unroll
            for (int r = 0; r < kRows; ++r) {
#pragma unroll
                for (int q = 0; q < kPixels; ++q) {
                    x_at[r * a.pitch(0) + q] = v[u][r][q];
                    sum += v[u][r][q];
                }
            }
            float* band1_at =
                bands1 + (kRows / 2 * item_i[u] + a.ext(1)) * a.pitch(1) + 2 * item_k[u] + a.ext(1);
            float ll[kRows / 2][2];
#pragma unroll
            for (int rr = 0; rr < kRows / 2; ++rr) {
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    float b[4];
                    haar_butterfly(v[u][2 * rr][2 * j], v[u][2 * rr][2 * j + 1],
                                   v[u][2 * rr + 1][2 * j], v[u][2 * rr + 1][2 * j + 1], b);
                    ll[rr][j] = b[0];
#pragma unroll
                    for (int band = 0; band < 4; ++band) {
                        band1_at[band * band1 + rr * a.pitch(1) + j] = b[band];
                    }
                }
            }
            if constexpr (kLevels == 2) {
                float b[4];
                haar_butterfly(ll[0][0], ll[0][1], ll[1][0], ll[1][1], b);
                float* band2_at =
                    bands2 + (item_i[u] + a.ext(2)) * a.pitch(2) + item_k[u] + a.ext(2);
#pragma unroll
                for (int band = 0; band < 4; ++band) {
                    band2_at[band * band2] = b[band];
                }
            }
        }
    };
    load_batch(threadIdx.x);
    if constexpr (kZero) {
        zero_floats(x, a.zeros(0));
        zero_floats(bands1, a.zeros(1));
        if constexpr (kLevels == 2) {
            zero_floats(bands2, a.zeros(2));
        }
        __syncthreads();  // the zeros before any item's values
    }
    store_batch(threadIdx.x);
    for (int first = threadIdx.x + kBatch * blockDim.x; first < count;
         first += kBatch * blockDim.x) {
        load_batch(first);
        store_batch(first);
    }
    return sum;
}

}  // namespace wtconv::cuda::fused
