#pragma once
// The fused WTConv2d forward kernel: one block per (plane, tile) stages x once, builds the Haar
// pyramid, runs every level's four convolutions, the inverse cascade and the base convolution in
// shared memory, and writes y once. The same kernel with kAdjoint computes dx: the adjoint of
// WTConv is WTConv with every kernel rotated by 180 degrees, the same scales and no bias, applied
// to dy zero-upsampled by the stride (the Haar block matrix is symmetric and orthogonal).
#include "cuda/wtconv2d_fused_finish.cuh"
#include "cuda/wtconv2d_fused_first_level.cuh"
#include "cuda/wtconv2d_fused_stages.cuh"

namespace wtconv::cuda::fused {

// Device pointers of one layer's parameters (or their gradients), in the tensors' storage type;
// S = const T for inputs.
template <class S>
struct Weights {
    S* base_weight;                      // (C, 1, K, K)
    S* base_bias;                        // (C) or null
    S* base_scale;                       // (C)
    S* wavelet_weight[kFusedMaxLevels];  // (4C, 1, K, K)
    S* wavelet_scale[kFusedMaxLevels];   // (4C)
};

// Shared-memory parameter block of one channel, as floats: the (1 + 4L) kernels, conv j = 0 the
// base one and j = 1 + 4(m - 1) + b band b of level m; then the matching scales; then the bias.
template <int K, class S>
__device__ void load_channel_weights(const FusedPlan& p,
                                     const Weights<const S>& w,
                                     int ch,
                                     float* dst) {
    constexpr int kk = K * K;  // a constant: the index arithmetic below needs no division
    const int convs = 1 + 4 * p.levels;
    stage_array<2>(
        1, convs * kk + convs + 1,
        [&](int, int i) {
            if (i < convs * kk) {
                const int j = i / kk, t = i % kk;
                return j == 0 ? to_float(w.base_weight[ch * kk + t])
                              : to_float(
                                    w.wavelet_weight[(j - 1) / 4][(4 * ch + (j - 1) % 4) * kk + t]);
            }
            if (i < convs * kk + convs) {
                const int j = i - convs * kk;
                return j == 0 ? to_float(w.base_scale[ch])
                              : to_float(w.wavelet_scale[(j - 1) / 4][4 * ch + (j - 1) % 4]);
            }
            return w.base_bias != nullptr ? to_float(w.base_bias[ch]) : 0.f;
        },
        [&](int i, float v) { dst[i] = v; });
}

// The (1 + 4L) kernels with their factors folded in, conv j as in load_channel_weights: base_scale
// w_0, and 0.5 scale_j w_j (the inverse Haar step's 1/2) for the bands; rotated by 180 degrees for
// the adjoint; each padded with zeros to a multiple of 4 floats, so that 16-byte loads read it.
// The raw weights region then needs only the base scale and the bias (finish_task).
template <int K, class S, bool kAdjoint>
__device__ void load_prescaled_kernels(
    const FusedPlan& p, const Weights<const S>& w, int ch, float* dst, float* raw) {
    constexpr int kk = K * K, padded = (kk + 3) / 4 * 4;
    const int convs = 1 + 4 * p.levels;
    for (int i = threadIdx.x; i < convs * padded; i += blockDim.x) {
        const int j = i / padded, t = i % padded, source = kAdjoint ? kk - 1 - t : t;
        float v = 0.f;
        if (t < kk) {
            if (j == 0) {
                v = to_float(w.base_scale[ch]) * to_float(w.base_weight[ch * kk + source]);
            } else {
                const int level = (j - 1) / 4, band = 4 * ch + (j - 1) % 4;
                v = 0.5f * to_float(w.wavelet_scale[level][band]) *
                    to_float(w.wavelet_weight[level][band * kk + source]);
            }
        }
        dst[i] = v;
    }
    if (threadIdx.x == 0) {
        raw[convs * kk] = to_float(w.base_scale[ch]);
    } else if (threadIdx.x == 1) {
        raw[convs * kk + convs] = w.base_bias != nullptr ? to_float(w.base_bias[ch]) : 0.f;
    }
}

// Kernel j in registers; rotated by 180 degrees for the adjoint.
template <int K, bool kAdjoint>
__device__ inline void kernel_to_registers(const float* weights, int j, float (&wr)[K * K]) {
#pragma unroll
    for (int t = 0; t < K * K; ++t) {
        wr[t] = weights[j * K * K + (kAdjoint ? K * K - 1 - t : t)];
    }
}

// Level m's (m >= 2) bands filtered, scaled and inverted into level m - 1's reconstruction, the
// coarser one joining the LL (invert_filtered_bands: the last phase's band half, 4 positions of a
// row a task). With kLanes = 2 a task's bands are split over two consecutive lanes, whose parts
// are summed by a shuffle, each lane storing one of the two rows (4 lanes a task were slower at
// 63x65 and 256x256, H100 2026-11-25). Only the values on the tile are stored.
template <int K, bool kAdjoint, int kLanes>
__device__ void reconstruct_from_level(const FusedPlan& p, int m, int tasks, float* smem) {
    constexpr int kCols = kFusedFinishCols;
    static_assert(kLanes == 1 || kLanes == 2, "1 or 2 lanes a task");
    const int th = p.tile_h >> m, tw = p.tile_w >> m;
    const int pitch = odd_pitch(2 * tw);
    float* out = smem + recon_offset_of(p, m - 1);
    const int part = threadIdx.x % kLanes;
    // whole warps run the loop (their shuffles need every lane); rows fastest across the tasks,
    // as in the last phase; lanes past the last task compute it again and store nothing
    for (int warp_first = threadIdx.x / 32 * 32; warp_first < kLanes * tasks;
         warp_first += blockDim.x) {
        const int task = (warp_first + threadIdx.x % 32) / kLanes;
        const int own = min(task, tasks - 1);
        const int i = own % th, col1 = own / th * kFusedStrip;
        float y[2][kCols];
        invert_filtered_bands<K, kAdjoint, 4 / kLanes>(p, smem, m, i, col1, y, part * 4 / kLanes);
        // reduce-scatter over the pair: a lane keeps row `row`
        int row = 0;
        float mine[kCols];
#pragma unroll
        for (int q = 0; q < kCols; ++q) {
            mine[q] = y[0][q];
        }
        if constexpr (kLanes == 2) {
            const bool upper = part != 0;  // keeps row 1
            row = upper ? 1 : 0;
#pragma unroll
            for (int q = 0; q < kCols; ++q) {
                const float give = upper ? y[0][q] : y[1][q];
                const float keep = upper ? y[1][q] : y[0][q];
                mine[q] = keep + __shfl_xor_sync(0xffffffffu, give, 1);
            }
        }
        if (task < tasks) {
#pragma unroll
            for (int q = 0; q < kCols; ++q) {
                const int col = 2 * col1 + q;
                if (col < 2 * tw) {
                    out[(2 * i + row) * pitch + col] = mine[q];
                }
            }
            if constexpr (kLanes == 1) {
#pragma unroll
                for (int q = 0; q < kCols; ++q) {
                    if (2 * col1 + q < 2 * tw) {
                        out[(2 * i + 1) * pitch + 2 * col1 + q] = y[1][q];
                    }
                }
            }
        }
    }
}

// Without levels: y = base_scale * (conv(x) + bias) on the tile, stored where the stride keeps a
// pixel. Adjoint: dx = base_scale * conv^T(dy) at every pixel.
template <int K, class S, bool kAdjoint>
__device__ void finish_tile_without_levels(const FusedPlan& p,
                                           const TileIndex& t,
                                           float* smem,
                                           S* __restrict__ out) {
    constexpr int before = kAdjoint ? K / 2 : (K - 1) / 2;
    const float* weights = smem + p.weights_offset;
    float wr[K * K];
    kernel_to_registers<K, kAdjoint>(weights, 0, wr);
    const float scale = weights[K * K];
    const float bias = kAdjoint ? 0.f : weights[K * K + 1];
    const FusedLevel& lv = p.level[0];
    const float* image = level_array(p, smem, 0, 0);
    const int th = p.tile_h, tw = p.tile_w;
    const int strips = (tw + kFusedStrip - 1) / kFusedStrip;
    // The finished tile goes to shared memory first (lanes hold one strip each of 32 different
    // rows: stored directly, every store instruction would touch 32 sectors), then to y row by
    // row, coalesced.
    float* staged = smem + p.out_offset;
    const int sp = odd_pitch(tw);
    for (int task = threadIdx.x; task < th * strips; task += blockDim.x) {
        const int row = task % th, col0 = task / th * kFusedStrip;  // as in the last phase
        float acc[kFusedStrip] = {};
        correlate_strip<K>(image + (row + lv.ext - before) * lv.pitch + col0 + lv.ext - before,
                           lv.pitch, wr, acc);
#pragma unroll
        for (int q = 0; q < kFusedStrip; ++q) {
            if (col0 + q < tw) {
                staged[row * sp + col0 + q] = scale * (acc[q] + bias);
            }
        }
    }
    __syncthreads();
    const int out_h = kAdjoint ? p.h : p.ho, out_w = kAdjoint ? p.w : p.wo;
    S* plane = out + static_cast<long long>(t.plane) * out_h * out_w;
    const int s = kAdjoint ? 1 : p.stride;
    // the tile's kept pixels: rows and columns gy = t.row + row with gy % s == 0, gy < h
    const int first_y = (s - t.row % s) % s, first_x = (s - t.col % s) % s;
    const int rows = max(0, (min(th, p.h - t.row) - first_y + s - 1) / s);
    const int cols = max(0, (min(tw, p.w - t.col) - first_x + s - 1) / s);
    WTCONV_FOR_ROWS(r, c, rows, cols) {
        const int row = first_y + r * s, col = first_x + c * s;
        plane[(t.row + row) / s * out_w + (t.col + col) / s] =
            from_float<S>(staged[row * sp + col]);
    }
}

// Registers a thread of the forward and dx kernels: at most 64 for K <= 5 (four blocks of 256
// threads an SM: at 56x56 L3 four 224-thread blocks instead of three, 4 % faster) and 80 for K7
// (three: 64x64 K7 L2 5 % faster than with 96). The float32 kernel that stages x first gets 72:
// at 64 it spilled 8 bytes where nvcc 13.0 ran with g++ 13 as its host compiler (not with g++ 12)
// once the windows were read by 16-byte loads. It runs tiles in blocks of 2 warps, rows that are
// no multiple of 4 pixels, dx at a stride and every L = 0 plan: the benchmark's 63x65 plan keeps
// its 3 blocks an SM (set by shared memory), while 256-thread blocks that shared memory would let
// 4 or more share an SM (L = 0, small planes) fit 3 by registers.
template <int K, class S, bool kStageFirstLevel>
constexpr int forward_registers() {
    return K > 5 ? 80 : sizeof(S) == 4 && !kStageFirstLevel ? 72 : 64;
}

// kStageFirstLevel: the image staged together with level 1, and level 2 for whole planes
// (forward_stages_first_level), a
// kernel of its own: one kernel with both staging paths made ptxas spill (nvcc 13.0, K5 float32 at
// 64 registers). The bounds are set directly (forward_registers): blocks of up to
// kFusedMaxThreads would otherwise lower them.
template <int K, class S, bool kAdjoint, bool kStageFirstLevel>
__global__ void __launch_bounds__(kFusedMaxThreads,
                                  (forward_registers<K, S, kStageFirstLevel>() == 64 ? 3 : 2))
    __maxnreg__((forward_registers<K, S, kStageFirstLevel>())) wtconv2d_fused_kernel(
        FusedPlan p, Weights<const S> w, const S* __restrict__ in, S* __restrict__ out) {
    extern __shared__ __align__(16) float smem[];
    const TileIndex t = tile_of_block(p, blockIdx.x);
    if (p.levels > 0) {
        load_prescaled_kernels<K, S, kAdjoint>(p, w, t.channel, smem + p.prescaled_offset,
                                               smem + p.weights_offset);
    } else {
        load_channel_weights<K, S>(p, w, t.channel, smem + p.weights_offset);
    }
    int staged = 0;  // the deepest level staged with the image
    if constexpr (kStageFirstLevel) {
        staged = stage_image_and_first_levels<S>(p, in, t, smem);
    } else {
        stage_image<S, kAdjoint>(p, in, t, smem);
    }
    build_pyramid(p, t, smem, staged + 1);  // ends with a barrier
    if (p.levels == 0) {
        finish_tile_without_levels<K, S, kAdjoint>(p, t, smem, out);
        return;
    }
    for (int m = p.levels; m >= 2; --m) {
        // 2 lanes a task where the block has 4 threads a task or more: with a thread a task
        // most of the block waited at the barrier below (ncu, 56x56 L3: a quarter of the stall
        // samples); H100, 2026-11-25: 28x28 L2 forward 6 % faster, 56x56 L3 3 %, but 63x65 L2
        // (80 tasks, 288 threads) 6 % slower
        const int tasks = (p.tile_h >> m) * (((p.tile_w >> m) + kFusedStrip - 1) / kFusedStrip);
        if (4 * tasks <= static_cast<int>(blockDim.x)) {
            reconstruct_from_level<K, kAdjoint, 2>(p, m, tasks, smem);
        } else {
            reconstruct_from_level<K, kAdjoint, 1>(p, m, tasks, smem);
        }
        __syncthreads();
    }
    finish_tile_with_levels<K, S, kAdjoint>(p, t, smem, out);
}

}  // namespace wtconv::cuda::fused
