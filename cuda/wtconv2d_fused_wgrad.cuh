#pragma once
// The fused WTConv2d weight gradients, deterministic: every (1 + 4L) x K^2 correlation
//   G_j[a][b] = sum over positions of dT_j(p) * Z_j(p - before + (a, b))
// (Z_j: the Haar pyramid of x, dT_j: the Haar pyramid of dy zero-upsampled by the stride; j = 0
// the base conv on x and dy themselves), plus sum(dy). A block (channel c, group g) walks the
// items (n, tile) with n * tiles + tile = g, g + G, ... in order, every thread owning one
// (conv j, kernel row a, row group) and K register accumulators; the block writes one vector of
// partials, and finalize sums the G vectors in index order and applies the chain rule
// (dW = scale G, dscale = sum W G, base: + bias sum(dy), dbias = base_scale sum(dy)). No atomics:
// the same input gives bitwise identical gradients.
#include <cuda_pipeline.h>

#include "cuda/reduce.cuh"
#include "cuda/wtconv2d_fused_forward.cuh"

namespace wtconv::cuda::fused {

constexpr int kMaxConvs = 1 + 4 * kFusedMaxLevels;

// Which threads own which conv: conv j's K x groups[j] threads start at first_thread[j]
// (thread = first + kernel row * groups + row group); threads from first_thread[convs] idle.
struct GradThreads {
    int first_thread[kMaxConvs + 1];
    int groups[kMaxConvs];
};

// Levels first..L of dy's pyramid on the tile from level first - 1's LL (complete: the caller
// has passed a barrier since it was stored), each followed by a barrier.
__device__ inline void build_dy_levels(const FusedPlan& p, float* smem, int first) {
    for (int m = first; m <= p.levels; ++m) {
        const int th = p.tile_h >> m, pitch = p.grad_pitch[m], up = p.grad_pitch[m - 1];
        const float* src = smem + p.grad_offset[m - 1];  // LL (band 0) of level m - 1
        float* bands = smem + p.grad_offset[m];
        for_each_element(th, pitch, [&](int r, int cidx, int i) {
            float v[4] = {};
            if (cidx < (p.tile_w >> m)) {
                const float* s0 = src + 2 * r * up + 2 * cidx;
                haar_butterfly(s0[0], s0[1], s0[up], s0[up + 1], v);
            }
            const int band = th * pitch;
            bands[i] = v[0];
            bands[band + i] = v[1];
            bands[2 * band + i] = v[2];
            bands[3 * band + i] = v[3];
        });
        __syncthreads();
    }
}

// dy on the tile (zero-upsampled by the stride, zero beyond the image) and its Haar pyramid on the
// tile; returns this thread's share of sum(dy).
template <class S>
__device__ float stage_dy_pyramid(const FusedPlan& p,
                                  const S* __restrict__ dy,
                                  const TileIndex& t,
                                  float* smem) {
    float sum = 0.f;
    const S* plane = dy + static_cast<long long>(t.plane) * p.ho * p.wo;
    float* d0 = smem + p.grad_offset[0];
    const auto store = [&](int i, float v) {
        d0[i] = v;
        sum += v;
    };
    // dy zero-upsampled by the stride: an image of x's size (the vectors need stride 1)
    const ImageWindow win{p.h, p.w, t.row, t.col, p.tile_h, p.tile_w, p.grad_pitch[0]};
    stage_window(dy, dy + static_cast<long long>(p.n) * p.c * p.ho * p.wo, plane, p.wo, p.stride,
                 win, store);
    __syncthreads();
    build_dy_levels(p, smem, 1);
    return sum;
}

// Whether stage_whole_plane_x_and_dy can stage this plan's item: a whole plane that x's one-pass
// staging takes (first_level_fusable, whole_plane_stageable), dy not zero-upsampled.
__host__ __device__ inline bool whole_plane_x_and_dy_stageable(const FusedPlan& p) {
    return first_level_fusable(p, false) && whole_plane_stageable(p) && p.stride == 1;
}

// x with its pyramid and dy with its, as stage_image_and_first_levels + build_pyramid and
// stage_dy_pyramid leave them, for a whole_plane_x_and_dy_stageable plan: dy's first levels by
// the same one pass as x's, its arrays zeroed before x's barrier, so that an item of L <= 2 passes
// 2 barriers instead of 5. Returns this thread's share of sum(dy).
template <class S>
__device__ float stage_whole_plane_x_and_dy(const FusedPlan& p,
                                            const S* __restrict__ x,
                                            const S* __restrict__ dy,
                                            const TileIndex& t,
                                            float* smem) {
    const GradientLevels dy_arrays{p, smem};
    float sum;
    if (p.levels >= 2) {
        zero_whole_plane_levels<2>(dy_arrays);
        stage_whole_plane_levels<S, 2, true>(p, x, t, ImageLevels{p, smem});
        sum = stage_whole_plane_levels<S, 2, false>(p, dy, t, dy_arrays);
    } else {
        zero_whole_plane_levels<1>(dy_arrays);
        stage_whole_plane_levels<S, 1, true>(p, x, t, ImageLevels{p, smem});
        sum = stage_whole_plane_levels<S, 1, false>(p, dy, t, dy_arrays);
    }
    const int staged = min(p.levels, 2);
    build_pyramid(p, t, smem, staged + 1);  // ends with a barrier
    build_dy_levels(p, smem, staged + 1);
    return sum;
}

// Starts copying plane `plane` of src (elements S values, a multiple of 16 bytes) into raw by
// 16-byte cp.async copies; the caller commits and waits.
template <class S>
__device__ void copy_plane_async(const S* __restrict__ src, int plane, int elements, float* raw) {
    const char* from =
        reinterpret_cast<const char*>(src + static_cast<long long>(plane) * elements);
    char* to = reinterpret_cast<char*>(raw);
    const int chunks = elements * static_cast<int>(sizeof(S)) / 16;
    for (int i = threadIdx.x; i < chunks; i += blockDim.x) {
        __pipeline_memcpy_async(to + 16 * i, from + 16 * i, 16);
    }
}

// This thread's role: conv j, kernel row a and row group; j == convs for the idle threads.
struct GradRole {
    int j, a, row_group, groups;
};

__device__ inline GradRole grad_role(const FusedPlan& p, const GradThreads& g) {
    const int convs = 1 + 4 * p.levels;
    GradRole r{0, 0, 0, 1};
    while (r.j < convs && threadIdx.x >= g.first_thread[r.j + 1]) {
        ++r.j;
    }
    if (r.j < convs) {
        const int local = threadIdx.x - g.first_thread[r.j];
        r.groups = g.groups[r.j];
        r.a = local / r.groups;
        r.row_group = local % r.groups;
    }
    return r;
}

// acc[c] += this thread's share of its conv's kernel row a on the staged item: the rows
// row_group, row_group + groups, ... of dT_j against Z_j shifted by (a, c).
template <int K>
__device__ void correlate_item(const FusedPlan& p,
                               const GradThreads& g,
                               const float* smem,
                               float (&acc)[K]) {
    constexpr int before = (K - 1) / 2;
    // recomputed for every item rather than kept across the staging, which needs the registers
    const GradRole role = grad_role(p, g);
    if (role.j == 1 + 4 * p.levels) {
        return;
    }
    const int m = role.j == 0 ? 0 : 1 + (role.j - 1) / 4, b = role.j == 0 ? 0 : (role.j - 1) % 4;
    const int th = p.tile_h >> m, tw = p.tile_w >> m;
    const FusedLevel& lv = p.level[m];
    const float* z =
        level_array(p, smem, m, b) + (lv.ext - before + role.a) * lv.pitch + lv.ext - before;
    const float* d = smem + p.grad_offset[m] + b * th * p.grad_pitch[m];
    for (int row = role.row_group; row < th; row += role.groups) {
        for (int col0 = 0; col0 < tw; col0 += kFusedStrip) {
            static_assert(kFusedStrip == 4, "one 16-byte load of dy a strip");
            const float4 d4 = *reinterpret_cast<const float4*>(d + row * p.grad_pitch[m] + col0);
            const float dv[kFusedStrip] = {d4.x, d4.y, d4.z, d4.w};
            float win[whole_loads(kFusedStrip + K - 1)];
            load_window_row(z + row * lv.pitch + col0, win);
#pragma unroll
            for (int c = 0; c < K; ++c) {
#pragma unroll
                for (int q = 0; q < kFusedStrip; ++q) {
                    acc[c] = fmaf(dv[q], win[q + c], acc[c]);
                }
            }
        }
    }
}

// kStageFirstLevel: x staged together with level 1 (first_level_fusable), and for whole planes
// level 2 and dy's first levels by the same pass (stage_whole_plane_x_and_dy), a kernel of its own
// as the forward's (both staging paths in one made ptxas spill at K7).
template <int K, class S, bool kStageFirstLevel>
__global__ void __launch_bounds__(kFusedGradThreads, 2)
    wtconv2d_fused_wgrad_kernel(FusedPlan p,
                                GradThreads g,
                                const S* __restrict__ x,
                                const S* __restrict__ dy,
                                int groups,
                                float* __restrict__ partials) {
    extern __shared__ __align__(16) float smem[];
    __shared__ float reduce_scratch[kFusedReduceScratch];
    // channels on x: gridDim.y stops at 65535
    const int channel = blockIdx.x, group = blockIdx.y;
    const int convs = 1 + 4 * p.levels;
    float acc[K] = {};
    float dy_sum = 0.f;
    const int tiles = p.tiles_h * p.tiles_w, items = p.n * tiles;
    // Whole planes whose raw copies fit beside the arrays (grad_prefetch) arrive by cp.async while
    // the previous item is correlated: staging then reads shared memory, not global.
    const int plane_elements = p.h * p.w;
    const bool prefetch = kStageFirstLevel && p.grad_prefetch &&
                          whole_plane_x_and_dy_stageable(p) &&
                          plane_elements * static_cast<int>(sizeof(S)) % 16 == 0;
    float* raw_x = smem + p.grad_raw_offset;
    float* raw_dy = raw_x + plane_elements * static_cast<int>(sizeof(S)) / 4;
    if (prefetch && group < items) {
        const int plane = group / tiles * p.c + channel;
        copy_plane_async(x, plane, plane_elements, raw_x);
        copy_plane_async(dy, plane, plane_elements, raw_dy);
        __pipeline_commit();
    }
    for (int item = group; item < items; item += groups) {
        TileIndex t;
        t.plane = item / tiles * p.c + channel;
        t.channel = channel;
        t.row = item % tiles / p.tiles_w * p.tile_h;
        t.col = item % tiles % p.tiles_w * p.tile_w;
        if (prefetch) {
            __pipeline_wait_prior(0);
            __syncthreads();  // the item's raw planes arrived; the previous arrays are not read
            TileIndex staged = t;
            staged.plane = 0;  // the raw planes hold just this item's
            dy_sum += stage_whole_plane_x_and_dy<S>(p, reinterpret_cast<const S*>(raw_x),
                                                    reinterpret_cast<const S*>(raw_dy), staged,
                                                    smem);  // ends with a barrier
            const int next = item + groups;
            if (next < items) {
                const int plane = next / tiles * p.c + channel;
                copy_plane_async(x, plane, plane_elements, raw_x);
                copy_plane_async(dy, plane, plane_elements, raw_dy);
                __pipeline_commit();
            }
            correlate_item<K>(p, g, smem, acc);
            continue;
        }
        __syncthreads();  // the previous item's arrays are no longer read
        if (kStageFirstLevel && whole_plane_x_and_dy_stageable(p)) {
            dy_sum += stage_whole_plane_x_and_dy<S>(p, x, dy, t, smem);
        } else {
            int staged = 0;  // the deepest level staged with the image
            if constexpr (kStageFirstLevel) {
                staged = stage_image_and_first_levels<S>(p, x, t, smem);
            } else {
                stage_image<S, false>(p, x, t, smem);
            }
            build_pyramid(p, t, smem, staged + 1);
            dy_sum += stage_dy_pyramid(p, dy, t, smem);
        }
        correlate_item<K>(p, g, smem, acc);
    }
    // Combine the row groups of each (conv, kernel row) in a fixed order.
    __syncthreads();
    float* scratch = smem;  // blockDim.x x K
#pragma unroll
    for (int c = 0; c < K; ++c) {
        scratch[threadIdx.x * K + c] = acc[c];  // zero on idle threads
    }
    dy_sum = block_sum(dy_sum, reduce_scratch);  // contains a barrier
    const int values = convs * K * K;
    float* out = partials + (static_cast<long long>(channel) * groups + group) * (values + 1);
    for (int v = threadIdx.x; v < values; v += blockDim.x) {
        const int jj = v / (K * K), aa = v % (K * K) / K, cc = v % K;
        const int first = g.first_thread[jj] + aa * g.groups[jj];
        float total = 0.f;
        for (int r = 0; r < g.groups[jj]; ++r) {
            total += scratch[(first + r) * K + cc];
        }
        out[v] = total;
    }
    if (threadIdx.x == 0) {
        out[values] = dy_sum;
    }
}

// One thread per (channel, conv): sums the groups' partials in order, applies the chain rule and
// stores the gradients in the parameters' storage type.
template <int K, class S>
__global__ void wtconv2d_fused_finalize_kernel(FusedPlan p,
                                               Weights<const S> w,
                                               int groups,
                                               const float* __restrict__ partials,
                                               Weights<S> grads) {
    const int convs = 1 + 4 * p.levels;
    const int id = blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= p.c * convs) {
        return;
    }
    const int ch = id / convs, j = id % convs, values = convs * K * K;
    float gsum[K * K] = {};
    float dy_sum = 0.f;
    for (int r = 0; r < groups; ++r) {
        const float* part = partials + (static_cast<long long>(ch) * groups + r) * (values + 1);
#pragma unroll
        for (int t = 0; t < K * K; ++t) {
            gsum[t] += part[j * K * K + t];
        }
        dy_sum += part[values];
    }
    const int m = (j - 1) / 4, row = 4 * ch + (j - 1) % 4;  // wavelet conv: level m, row 4c + b
    const S* weight = j == 0 ? w.base_weight + ch * K * K : w.wavelet_weight[m] + row * K * K;
    const float scale = to_float(j == 0 ? w.base_scale[ch] : w.wavelet_scale[m][row]);
    S* dweight = j == 0 ? grads.base_weight + ch * K * K : grads.wavelet_weight[m] + row * K * K;
    float dscale = 0.f;
#pragma unroll
    for (int t = 0; t < K * K; ++t) {
        dweight[t] = from_float<S>(scale * gsum[t]);
        dscale = fmaf(to_float(weight[t]), gsum[t], dscale);
    }
    if (j == 0) {
        if (w.base_bias != nullptr) {
            dscale = fmaf(to_float(w.base_bias[ch]), dy_sum, dscale);
            grads.base_bias[ch] = from_float<S>(scale * dy_sum);
        }
        grads.base_scale[ch] = from_float<S>(dscale);
    } else {
        grads.wavelet_scale[m][row] = from_float<S>(dscale);
    }
}

}  // namespace wtconv::cuda::fused
