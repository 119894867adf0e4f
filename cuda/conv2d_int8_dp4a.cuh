#pragma once
// The int8 conv's implicit GEMM on __dp4a (cuda/conv2d_int8.cu launches it), and the float32
// requantisation it shares with the element-wise kernels. Per group: Y (Og, N Ho Wo) =
// W (Og, K) col (K, N Ho Wo), K = Cg kh kw ordered (tap, channel); col is never stored, each tile
// gathers its words from x.
#include <cstdint>

#include <cuda_pipeline.h>
#include <cuda_runtime.h>

namespace wtconv::cuda::int8 {

using std::int64_t;
using std::uint8_t;

// ---- requantisation, bit for bit the CPU's (cpu/conv2d_int8.cpp) ------------------------------
// nvcc contracts a * b + c into one FMA by default, which rounds once where the CPU rounds twice:
// every operation is spelled with its rounding instead.

// q = clamp(rne(fl32(v inv)) + zero, lo, hi); NaN gives the zero point, as on the CPU.
__device__ inline uint8_t quantize_value(float v, float inv, float zero, float lo, float hi) {
    float q = __fadd_rn(rintf(__fmul_rn(v, inv)), zero);
    if (isnan(q)) {
        q = zero;
    }
    return static_cast<uint8_t>(__float2int_rn(fminf(fmaxf(q, lo), hi)));
}

struct Requant {
    float s_x;     // the input's scale
    float inv_y;   // fl32(1 / s_y), computed on the host as the CPU computes it
    float zero_y;  // the output's zero point
    float lo, hi;  // clamp: relu ? z_y : quant_min, and quant_max
    int x_shift;   // 128 - z_x: dp4a sees x - 128 (see requantize)
};

// acc_shifted = sum (x - 128) w over the row, padding holding z_x; row_sum = sum w. The CPU's
// acc = sum x w - z_x sum w equals acc_shifted + (128 - z_x) sum w in int32 (both wrap mod 2^32).
__device__ inline uint8_t requantize(
    int acc_shifted, int row_sum, float w_scale, float bias, const Requant& r) {
    const int acc =
        static_cast<int>(static_cast<unsigned>(acc_shifted) +
                         static_cast<unsigned>(r.x_shift) * static_cast<unsigned>(row_sum));
    const float m = __fmul_rn(r.s_x, w_scale);
    const float v = __fadd_rn(__fmul_rn(__int2float_rn(acc), m), bias);
    return quantize_value(v, r.inv_y, r.zero_y, r.lo, r.hi);
}

// ---- the GEMM ---------------------------------------------------------------------------------
// Both operands hold K in 32-bit words of 4 channels at one tap, as __dp4a takes them: the weights
// packed per call, the activations repacked channel-interleaved (N, groups, ceil(Cg / 4), H, W)
// with each byte stored as the int8 x - 128. One 32-bit load then gathers a whole word.

constexpr int kThreads = 256;  // 16 x 16, each owning TM x TN outputs
constexpr int kTileWords = 8;  // K words (32 bytes) per tile
// Marks a pixel past the last, and in a tap table an entry past K: src/ checks H + 2 pad < 2^30,
// so kInvalid plus any real row offset, or any real row plus kInvalid, is negative without
// overflowing, and the bounds test fails.
constexpr int kInvalid = -(1 << 30);

struct ConvArgs {
    const int* x4;         // activations: (N, groups, cq, H, W) words, cq = ceil(Cg / 4)
    const int* packed;     // weights: (groups, k4_pad, og_pad) words, K word = tap cq + quad
    const int* row_sum;    // (O): sum of each row's taps
    const int4* taps;      // tap table, generic gather only: (k4_pad) {offset, dy, dx, 0}
    const float* w_scale;  // (O)
    const float* bias;     // (O), or nullptr
    uint8_t* y;            // (N, O, Ho, Wo), when splits == 1
    int* partial;          // (splits, N, O, Ho, Wo), when splits > 1
    int64_t y_numel;       // N O Ho Wo: the stride between splits of partial
    int h, w, hw, o, og, og_pad, cq, groups, kw;
    int sh, sw, ph, pw, dh, dw;
    int wo, p, npix;                        // p = Ho Wo pixels per image, npix = N p GEMM columns
    int k4_pad;                             // words per packed row; a multiple of kTileWords
    int k_tiles, tiles_per_split, c_tiles;  // c_tiles = cq / 8 (channel gather only)
    int m_tiles, group0;  // blockIdx.x = pixel tile m_tiles + row tile; y = group - group0
    int pad_word;         // four bytes z_x - 128: padding adds (z_x - z_x) w = 0
    Requant rq;
};

// One block: rows [m0, m0 + 16 TM) of group g's W times columns [pix0, pix0 + 16 TN), over the
// K tiles of blockIdx.z. kChannelGather: cq % 8 == 0, so a K tile is 8 channel quads of one tap
// and a thread tests bounds once per tile; otherwise each word looks its tap up in a table.
//
// Weights reach shared memory by cp.async; activations by 32-bit loads into registers, issued
// before the current tile's products and stored after them, so their latency hides behind the
// dp4a. Two buffers: one __syncthreads per tile.
template <int TM, int TN, bool kChannelGather>
__global__ void __launch_bounds__(kThreads, 2) conv2d_int8_dp4a(const ConvArgs a) {
    constexpr int kRows = 16 * TM, kCols = 16 * TN;
    constexpr int kPerThread = kTileWords * kCols / kThreads;  // words each thread gathers per tile
    static_assert(TM % 4 == 0 && TN % 4 == 0, "int4 fragments");
    static_assert(kThreads % kCols == 0 && kPerThread >= 1, "whole threads per column");
    __shared__ __align__(16) int w_s[2][kTileWords][kRows];
    __shared__ __align__(16) int x_s[2][kTileWords][kCols];

    const int tid = static_cast<int>(threadIdx.x);
    const int tx = tid % 16, ty = tid / 16;
    // Row tiles vary fastest, so the blocks sharing a pixel tile run together and find its part
    // of x in L2.
    const int g = a.group0 + static_cast<int>(blockIdx.y);
    const int m0 = static_cast<int>(blockIdx.x) % a.m_tiles * kRows;
    const int pix0 = static_cast<int>(blockIdx.x) / a.m_tiles * kCols;
    const int t_begin = static_cast<int>(blockIdx.z) * a.tiles_per_split;
    const int t_end = min(a.k_tiles, t_begin + a.tiles_per_split);

    // The pixel this thread gathers for, and which kPerThread words of each K tile.
    const int col = tid % kCols;
    const int slice = tid / kCols * kPerThread;
    int ih0 = kInvalid, iw0 = kInvalid, image = 0;
    if (pix0 + col < a.npix) {
        const int n = (pix0 + col) / a.p, r = (pix0 + col) % a.p;
        ih0 = r / a.wo * a.sh - a.ph;
        iw0 = r % a.wo * a.sw - a.pw;
        image = (n * a.groups + g) * a.cq * a.hw;
    }

    int staged[kPerThread];
    const auto gather = [&](int t) {
        if constexpr (kChannelGather) {
            const int tap = t / a.c_tiles;
            const int q0 = (t - tap * a.c_tiles) * kTileWords + slice;
            const int ih = ih0 + tap / a.kw * a.dh, iw = iw0 + tap % a.kw * a.dw;
            const bool inside = static_cast<unsigned>(ih) < static_cast<unsigned>(a.h) &&
                                static_cast<unsigned>(iw) < static_cast<unsigned>(a.w);
            const int* src = a.x4 + (inside ? image + q0 * a.hw + ih * a.w + iw : 0);
#pragma unroll
            for (int u = 0; u < kPerThread; ++u) {
                staged[u] = inside ? __ldg(src + u * a.hw) : a.pad_word;
            }
        } else {
            const int4* e = a.taps + t * kTileWords + slice;
            const int corner = ih0 == kInvalid ? 0 : image + ih0 * a.w + iw0;
#pragma unroll
            for (int u = 0; u < kPerThread; ++u) {
                const int4 tap = __ldg(e + u);
                const bool inside =
                    static_cast<unsigned>(ih0 + tap.y) < static_cast<unsigned>(a.h) &&
                    static_cast<unsigned>(iw0 + tap.z) < static_cast<unsigned>(a.w);
                staged[u] = inside ? __ldg(a.x4 + corner + tap.x) : a.pad_word;
            }
        }
    };
    const auto store = [&](int buf) {
#pragma unroll
        for (int u = 0; u < kPerThread; ++u) {
            x_s[buf][slice + u][col] = staged[u];
        }
    };
    const auto load_weights = [&](int t, int buf) {
        const int* src =
            a.packed + (static_cast<int64_t>(g) * a.k4_pad + t * kTileWords) * a.og_pad + m0;
        for (int i = tid; i < kTileWords * kRows / 4; i += kThreads) {
            const int row = i / (kRows / 4), c4 = i % (kRows / 4) * 4;
            __pipeline_memcpy_async(&w_s[buf][row][c4],
                                    src + static_cast<int64_t>(row) * a.og_pad + c4, 16);
        }
        __pipeline_commit();
    };

    int acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            acc[i][j] = 0;
        }
    }

    load_weights(t_begin, 0);
    gather(t_begin);
    store(0);
    __pipeline_wait_prior(0);
    __syncthreads();  // tile t_begin visible to every thread
    for (int t = t_begin; t < t_end; ++t) {
        const int buf = (t - t_begin) & 1;
        const bool more = t + 1 < t_end;
        if (more) {  // into the other buffer, which every thread finished reading before the
                     // previous iteration's barrier
            load_weights(t + 1, buf ^ 1);
            gather(t + 1);
        }
#pragma unroll
        for (int k = 0; k < kTileWords; ++k) {
            int wv[TM], xv[TN];
#pragma unroll
            for (int q = 0; q < TM / 4; ++q) {
                const int4 v = *reinterpret_cast<const int4*>(&w_s[buf][k][q * 64 + ty * 4]);
                wv[4 * q] = v.x;
                wv[4 * q + 1] = v.y;
                wv[4 * q + 2] = v.z;
                wv[4 * q + 3] = v.w;
            }
#pragma unroll
            for (int q = 0; q < TN / 4; ++q) {
                const int4 v = *reinterpret_cast<const int4*>(&x_s[buf][k][q * 64 + tx * 4]);
                xv[4 * q] = v.x;
                xv[4 * q + 1] = v.y;
                xv[4 * q + 2] = v.z;
                xv[4 * q + 3] = v.w;
            }
#pragma unroll
            for (int i = 0; i < TM; ++i) {
#pragma unroll
                for (int j = 0; j < TN; ++j) {
                    acc[i][j] = __dp4a(wv[i], xv[j], acc[i][j]);
                }
            }
        }
        if (more) {
            store(buf ^ 1);
            __pipeline_wait_prior(0);
        }
        __syncthreads();  // tile t + 1 complete in buf ^ 1; buf free for tile t + 2
    }

    // Output offsets of this thread's columns without their channel term o p, or -1 past the end.
    int col_off[TN];
#pragma unroll
    for (int j = 0; j < TN; ++j) {
        const int pix = pix0 + j / 4 * 64 + tx * 4 + j % 4;
        col_off[j] = pix < a.npix ? pix / a.p * a.o * a.p + pix % a.p : -1;
    }
    // Four pixels of one image side by side, 4-byte aligned: one store instead of four.
    const bool packed_store = a.p % 4 == 0;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int m = m0 + i / 4 * 64 + ty * 4 + i % 4;
        if (m >= a.og) {
            continue;
        }
        const int o = g * a.og + m;
        const int row = o * a.p;
        if (a.partial != nullptr) {
            int* out = a.partial + blockIdx.z * a.y_numel + row;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                if (col_off[j] >= 0) {
                    out[col_off[j]] = acc[i][j];
                }
            }
            continue;
        }
        const int rs = __ldg(a.row_sum + o);
        const float ws = __ldg(a.w_scale + o);
        const float b = a.bias != nullptr ? __ldg(a.bias + o) : 0.0f;
#pragma unroll
        for (int q = 0; q < TN / 4; ++q) {
            uint8_t v[4];
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                v[j] = requantize(acc[i][4 * q + j], rs, ws, b, a.rq);
            }
            if (packed_store && col_off[4 * q + 3] >= 0) {
                const unsigned word =
                    v[0] | v[1] << 8 | v[2] << 16 | static_cast<unsigned>(v[3]) << 24;
                *reinterpret_cast<unsigned*>(a.y + row + col_off[4 * q]) = word;
            } else {
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    if (col_off[4 * q + j] >= 0) {
                        a.y[row + col_off[4 * q + j]] = v[j];
                    }
                }
            }
        }
    }
}

}  // namespace wtconv::cuda::int8
