#pragma once
// The fused forward's last phase with levels (L >= 1), all in registers: a thread takes kFusedStrip
// level-1 positions of one row, filters the four raw bands there (plus the coarser reconstruction
// on the LL band), inverts the Haar step into 2 x kFusedFinishCols pixels, adds the base
// convolution on those pixels and stores them (rows that are no multiple of 8 bytes through
// shared memory, coalesced). Every value loaded from a window feeds several FMAs (16 level-1 and
// 16 base outputs a thread).
#include "cuda/wtconv2d_fused_stages.cuh"

namespace wtconv::cuda::fused {

// Prescaled kernel j (load_prescaled_kernels) in registers, by 16-byte loads.
template <int K>
__device__ inline void prescaled_kernel_to_registers(const float* kernels,
                                                     int j,
                                                     float (&wr)[K * K]) {
    constexpr int padded = (K * K + 3) / 4 * 4;
    const float4* src = reinterpret_cast<const float4*>(kernels + j * padded);
#pragma unroll
    for (int v = 0; v < padded / 4; ++v) {
        const float4 four = src[v];
        const float parts[4] = {four.x, four.y, four.z, four.w};
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            if (4 * v + q < K * K) {
                wr[4 * v + q] = parts[q];
            }
        }
    }
}

// v as kBytes-wide stores at dst (aligned to kBytes).
template <class S, int kBytes>
__device__ inline void store_by_vectors(S* dst, const float (&v)[kFusedFinishCols]) {
    using Bits = typename RawVector<kBytes>::Type;
    constexpr int kPerVector = kBytes / sizeof(S);
    static_assert(kFusedFinishCols % kPerVector == 0, "whole vectors");
#pragma unroll
    for (int first = 0; first < kFusedFinishCols; first += kPerVector) {
        union {
            Bits vector;
            S scalars[kPerVector];
        } pack;
#pragma unroll
        for (int q = 0; q < kPerVector; ++q) {
            pack.scalars[q] = from_float<S>(v[first + q]);
        }
        *reinterpret_cast<Bits*>(dst + first) = pack.vector;
    }
}

// Stores one row of kFusedFinishCols pixels starting at column gx0 of image row `row` (width w),
// the columns at or past w dropped; 16- or 8-byte stores when the row segment is whole and aligned.
template <class S>
__device__ inline void store_finished_row(S* row,
                                          int gx0,
                                          int w,
                                          const float (&v)[kFusedFinishCols]) {
    const auto address = reinterpret_cast<unsigned long long>(row + gx0);
    if (gx0 + kFusedFinishCols <= w && address % 16 == 0) {
        store_by_vectors<S, 16>(row + gx0, v);
        return;
    }
    if (gx0 + kFusedFinishCols <= w && address % 8 == 0) {
        store_by_vectors<S, 8>(row + gx0, v);
        return;
    }
#pragma unroll
    for (int q = 0; q < kFusedFinishCols; ++q) {
        if (gx0 + q < w) {
            row[gx0 + q] = from_float<S>(v[q]);
        }
    }
}

// Level m's four bands filtered at positions col1..col1 + 3 of row i and inverted by the Haar
// step into 2 x kFusedFinishCols values of level m - 1: band b adds its filtered value to the four
// values of a position with the signs (+, +, +, +) for LL, (+, +, -, -) for LH, (+, -, +, -) for
// HL and (+, -, -, +) for HH (haar_butterfly), the step's 1/2 and the band's scale folded into its
// prescaled kernel; y starts as the coarser reconstruction (m < L), which joins the LL band after
// its scale, through the same step (1/2 at all four). Positions past the level's tile width
// (whole planes whose width is no multiple of 4 positions) only feed values that are never stored.
// kBands < 4: only bands first_band.. first_band + kBands - 1 (the coarser reconstruction with
// the LL), a part of the sum that reconstruct_from_level's lanes add up.
template <int K, bool kAdjoint, int kBands = 4>
__device__ inline void invert_filtered_bands(const FusedPlan& p,
                                             const float* smem,
                                             int m,
                                             int i,
                                             int col1,
                                             float (&y)[2][kFusedFinishCols],
                                             int first_band = 0) {
    constexpr int before = kAdjoint ? K / 2 : (K - 1) / 2;
    const float* kernels = smem + p.prescaled_offset;
    const FusedLevel& lv = p.level[m];
    const int tw = p.tile_w >> m;
    const float* coarser = smem + recon_offset_of(p, m) + i * odd_pitch(tw);
#pragma unroll
    for (int q = 0; q < kFusedStrip; ++q) {
        const float r =
            first_band == 0 && m < p.levels && col1 + q < tw ? 0.5f * coarser[col1 + q] : 0.f;
        y[0][2 * q] = y[0][2 * q + 1] = y[1][2 * q] = y[1][2 * q + 1] = r;
    }
#pragma unroll 1
    for (int b = first_band; b < first_band + kBands; ++b) {
        float wr[K * K];
        prescaled_kernel_to_registers<K>(kernels, 1 + 4 * (m - 1) + b, wr);
        float acc[kFusedStrip] = {};
        correlate_strip<K>(
            level_array(p, smem, m, b) + (i + lv.ext - before) * lv.pitch + col1 + lv.ext - before,
            lv.pitch, wr, acc);
        const float sign_right = b < 2 ? 1.f : -1.f;       // (even row, odd column)
        const float sign_below = b % 2 == 0 ? 1.f : -1.f;  // (odd row, even column)
        const float sign_diagonal = sign_right * sign_below;
#pragma unroll
        for (int q = 0; q < kFusedStrip; ++q) {
            y[0][2 * q] += acc[q];
            y[0][2 * q + 1] = fmaf(sign_right, acc[q], y[0][2 * q + 1]);
            y[1][2 * q] = fmaf(sign_below, acc[q], y[1][2 * q]);
            y[1][2 * q + 1] = fmaf(sign_diagonal, acc[q], y[1][2 * q + 1]);
        }
    }
}

// Task (i, s): level-1 row i, positions 4s..4s+3 of the tile; pixels rows 2i, 2i + 1, columns
// 8s..8s+7 (col1 = 4s) into y. y = base_scale * (conv(x) + bias) + inverse Haar of the filtered
// level-1 bands. Adjoint: dx = base_scale * conv^T(dy) + ..., every pixel.
template <int K, bool kAdjoint>
__device__ inline void finish_task(
    const FusedPlan& p, const float* smem, int i, int col1, float (&y)[2][kFusedFinishCols]) {
    constexpr int before = kAdjoint ? K / 2 : (K - 1) / 2;
    constexpr int kCols = kFusedFinishCols;
    const float* weights = smem + p.weights_offset;
    const float* kernels = smem + p.prescaled_offset;
    const int convs = 1 + 4 * p.levels;
    const FusedLevel& l0 = p.level[0];
    invert_filtered_bands<K, kAdjoint>(p, smem, 1, i, col1, y);
    // the base convolution, its scale folded into the weights
    const float base_scale = weights[convs * K * K];
    float wr[K * K];
    prescaled_kernel_to_registers<K>(kernels, 0, wr);
    if (!kAdjoint) {
        const float bias = base_scale * weights[convs * K * K + convs];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
#pragma unroll
            for (int q = 0; q < kCols; ++q) {
                y[r][q] += bias;
            }
        }
    }
    const float* src = level_array(p, smem, 0, 0) + (2 * i + l0.ext - before) * l0.pitch +
                       2 * col1 + l0.ext - before;
#pragma unroll
    for (int a = 0; a < K + 1; ++a) {  // input row a feeds output rows a and a - 1
        float win[whole_loads(kCols + K - 1)];
        load_window_row(src + a * l0.pitch, win);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            if (a - r < 0 || a - r >= K) {
                continue;
            }
#pragma unroll
            for (int b = 0; b < K; ++b) {
#pragma unroll
                for (int q = 0; q < kCols; ++q) {
                    y[r][q] = fmaf(wr[(a - r) * K + b], win[q + b], y[r][q]);
                }
            }
        }
    }
}

// The finished tile, staged in shared memory as rows of `pitch` floats, into the image's rows
// (width w) that it covers. Consecutive threads take consecutive pixels of the tile's rows laid end
// to end, so each warp's stores cover one or two row segments of 32 pixels: with rows that are no
// multiple of 8 bytes, a thread's own 8 pixels went out by 8 scalar stores whose 32 lanes touched
// 32 rows.
template <class S>
__device__ inline void store_staged_tile(const TileIndex& t,
                                         int h,
                                         int w,
                                         const float* staged,
                                         int pitch,
                                         int tile_h,
                                         int tile_w,
                                         S* plane) {
    const int rows = min(tile_h, h - t.row), cols = min(tile_w, w - t.col);
    if (rows <= 0 || cols <= 0) {
        return;
    }
    // this thread's first pixel, then steps of blockDim.x pixels without division
    int row = threadIdx.x / cols, col = threadIdx.x % cols;
    const int step_rows = blockDim.x / cols, step_cols = blockDim.x % cols;
    for (; row < rows;) {
        plane[static_cast<long long>(t.row + row) * w + t.col + col] =
            from_float<S>(staged[row * pitch + col]);
        row += step_rows;
        col += step_cols;
        if (col >= cols) {
            col -= cols;
            ++row;
        }
    }
}

// The last phase with levels: every task (finish_task) of the tile, stored where the stride keeps
// a pixel. At stride 1 with rows that are no multiple of 8 bytes, when the block has a thread for
// every task, the finished tile goes through shared memory (over x's array, read by then) and out
// row by row (store_staged_tile): 63x65 forward 0.081 -> 0.062 ms in float32, 0.091 -> 0.060 in
// bfloat16 (H100). Else each thread stores its 2 x 8 pixels itself, by 16- or 8-byte stores where
// the rows allow: staged, 28x28 bfloat16 (56-byte rows) was 8 % slower.
template <int K, class S, bool kAdjoint>
__device__ void finish_tile_with_levels(const FusedPlan& p,
                                        const TileIndex& t,
                                        float* smem,
                                        S* __restrict__ out) {
    constexpr int kCols = kFusedFinishCols;
    const int th = p.tile_h / 2, tw = p.tile_w / 2;
    const int tasks = th * ((tw + kFusedStrip - 1) / kFusedStrip);
    const int out_h = kAdjoint ? p.h : p.ho, out_w = kAdjoint ? p.w : p.wo;
    const int s = kAdjoint ? 1 : p.stride;
    S* plane = out + static_cast<long long>(t.plane) * out_h * out_w;
    // uniform across the block: its barriers are reached by every thread, once
    const bool staged =
        s == 1 && (p.w * sizeof(S)) % 8 != 0 && tasks <= static_cast<int>(blockDim.x);
    // rows fastest across the lanes: with pitches of 4 x odd floats the 16-byte loads of 8 lanes'
    // level-1 rows fall in 8 different groups of 4 banks
    for (int task = threadIdx.x; task < tasks || (staged && task == threadIdx.x);
         task += blockDim.x) {
        // a staged block's threads past the last task compute the last one again and store
        // nothing (a branch around the computation made ptxas spill in the half types)
        const int own = min(task, tasks - 1);
        const int i = own % th, col1 = own / th * kFusedStrip;
        float y[2][kCols];
        finish_task<K, kAdjoint>(p, smem, i, col1, y);
        if (staged) {
            __syncthreads();
            float* tile = level_array(p, smem, 0, 0);
            // strips x 8 columns (up to tile_w + 6), odd: narrower than x's rows, which hold the
            // last strip's 16-byte loads (level_pitch)
            const int pitch = odd_pitch(tasks / th * kCols);
            if (task < tasks) {
#pragma unroll
                for (int r = 0; r < 2; ++r) {
#pragma unroll
                    for (int q = 0; q < kCols; ++q) {
                        tile[(2 * i + r) * pitch + 2 * col1 + q] = y[r][q];
                    }
                }
            }
            __syncthreads();
            store_staged_tile<S>(t, p.h, p.w, tile, pitch, p.tile_h, p.tile_w, plane);
            return;
        }
        const int gx0 = t.col + 2 * col1;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int gy = t.row + 2 * i + r;
            if (gy >= p.h) {
                continue;
            }
            if (s == 1) {
                store_finished_row<S>(plane + static_cast<long long>(gy) * out_w, gx0, p.w, y[r]);
            } else if (gy % s == 0) {
                S* row = plane + static_cast<long long>(gy / s) * out_w;
#pragma unroll
                for (int q = 0; q < kCols; ++q) {
                    const int gx = gx0 + q;
                    if (gx < p.w && gx % s == 0) {
                        row[gx / s] = from_float<S>(y[r][q]);
                    }
                }
            }
        }
    }
}

}  // namespace wtconv::cuda::fused
