#pragma once
// conv2d implicit GEMM on the tensor cores (wmma): float32 as TF32 (m16n16k8), float16 and
// bfloat16 (m16n16k16), float sums rounded once on store. 8 warps, a K tile of 32 rows, each warp
// a patch of 16x16 fragments; the output tile goes through shared memory so that the stores to y
// are coalesced and the bias is added in float.
#include <cstddef>
#include <cstdint>
#include <mma.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/conv2d_implicit_gemm_gather.cuh"
#include "cuda/numeric.cuh"

namespace wtconv::cuda::implicit_gemm {

namespace wmma = nvcuda::wmma;

// Fragment types per storage type; Elem is what the shared tiles hold.
template <class S>
struct MmaTraits;

template <>
struct MmaTraits<float> {
    using Elem = float;
    static constexpr int kK = 8;
    using FragmentA =
        wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
    using FragmentB =
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
    using Accumulator = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
    // Rounded to TF32 (nearest) once, as the tile is stored; the fragments then load it as is.
    __device__ static float to_elem(float v) { return wmma::__float_to_tf32(v); }
};

template <class Half>
struct MmaTraits16 {
    using Elem = Half;
    static constexpr int kK = 16;
    using FragmentA = wmma::fragment<wmma::matrix_a, 16, 16, 16, Half, wmma::row_major>;
    using FragmentB = wmma::fragment<wmma::matrix_b, 16, 16, 16, Half, wmma::row_major>;
    using Accumulator = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
    __device__ static Half to_elem(Half v) { return v; }
};

template <>
struct MmaTraits<__half> : MmaTraits16<__half> {};
template <>
struct MmaTraits<__nv_bfloat16> : MmaTraits16<__nv_bfloat16> {};

template <class S, int BM, int BN, int kWarpsAlongM, int kMinBlocksPerSm>
struct MmaTile {
    using Elem = typename MmaTraits<S>::Elem;
    static constexpr int kBM = BM, kBN = BN, kBK = 32;
    static constexpr int kMinBlocks = kMinBlocksPerSm;
    static constexpr int kWarpsM = kWarpsAlongM, kWarpsN = kWarps / kWarpsAlongM;
    static constexpr int kWarpM = BM / kWarpsM, kWarpN = BN / kWarpsN;  // a warp's patch
    static constexpr int kFragmentsM = kWarpM / 16, kFragmentsN = kWarpN / 16;
    static constexpr int kRows = kBK / kWarps;  // K rows a thread gathers: warp + kWarps i
    static constexpr int kColumns = BN / 32;    // columns a lane gathers: lane + 32 j
    static constexpr int kAPerThread = BM * kBK / kThreads;
    static constexpr int kAVector = kAPerThread * sizeof(S) > 16 ? 16 / sizeof(S) : kAPerThread;
    static constexpr int kAStore = kAPerThread * sizeof(Elem) > 16 ? 16 / sizeof(Elem)
                                                                   : kAPerThread;
    // Rows padded by 16 bytes, off the bank pattern of the fragment loads; every fragment then
    // starts 32-byte aligned, as wmma requires (16 rows of A, 8 or 16 rows of B, 16 columns).
    static constexpr int kPad = 16 / sizeof(Elem);
    static constexpr int kLdA = kBK + kPad, kLdB = BN + kPad, kLdC = BN + 4;
    static constexpr int kABuffer = BM * kLdA, kBBuffer = kBK * kLdB;  // elements of one buffer
    static constexpr std::size_t kTilesBytes = 2 * (kABuffer + kBBuffer) * sizeof(Elem);
    static constexpr std::size_t kOutputBytes = BM * kLdC * sizeof(float);
    static constexpr std::size_t kSmemBytes =
        kTilesBytes > kOutputBytes ? kTilesBytes : kOutputBytes;
    static_assert(kWarpM % 16 == 0 && kWarpN % 16 == 0, "warp patches of whole fragments");
    static_assert(kAPerThread >= 1 && kBK % kAPerThread == 0, "a thread's weights lie in one row");
    static_assert(BN % 32 == 0 && kBK % kWarps == 0, "whole gather rows and columns");
};

// y (N, O, Ho, Wo) = bias + conv(x (N, C, H, W), weight (O, C / groups, kh, kw)), S the storage
// type of all four. One block per (group, M tile, pixel tile) and K split; with several splits each
// writes its float sums, without bias, to partial[split] (y's layout). Dynamic shared memory
// Tile::kSmemBytes.
template <class S, class Tile>
__global__ void __launch_bounds__(kThreads, Tile::kMinBlocks)
    conv2d_implicit_gemm_mma_kernel(const GemmShape s,
                                    const S* __restrict__ x,
                                    const S* __restrict__ weight,
                                    const S* __restrict__ bias,
                                    bool weights_aligned,
                                    S* __restrict__ y,
                                    float* __restrict__ partial) {
    using Traits = MmaTraits<S>;
    using E = typename Traits::Elem;
    constexpr int BM = Tile::kBM, BN = Tile::kBN, BK = Tile::kBK;
    constexpr int kRows = Tile::kRows, kColumns = Tile::kColumns, kAPer = Tile::kAPerThread;
    constexpr int kLdA = Tile::kLdA, kLdB = Tile::kLdB, kLdC = Tile::kLdC;
    extern __shared__ __align__(128) unsigned char smem[];
    E* const a_tiles = reinterpret_cast<E*>(smem);         // [2][BM][kLdA]
    E* const b_tiles = a_tiles + 2 * Tile::kABuffer;       // [2][BK][kLdB]
    float* const c_tile = reinterpret_cast<float*>(smem);  // [BM][kLdC], after the K loop

    const TileOrigin tile = tile_origin(s, BM, BN);
    const KRange ks = k_range(s);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    const PixelOrigin origin = pixel_origin(s, tile.p0);
    ColumnSource columns[kColumns];
#pragma unroll
    for (int j = 0; j < kColumns; ++j) {
        columns[j] = column_source(s, pixel_at(s, origin, lane + 32 * j), tile.group);
    }
    Tap tap = tap_of(ks.begin + warp, s);  // the thread's first K row of the next tile to gather

    const int a_row = threadIdx.x / (BK / kAPer);
    const int a_k = threadIdx.x % (BK / kAPer) * kAPer;
    const bool a_row_ok = tile.m0 + a_row < s.og;
    const std::int64_t a_m =
        static_cast<std::int64_t>(tile.group) * s.og + (a_row_ok ? tile.m0 + a_row : 0);
    const S* const a_src = weight + a_m * s.k + a_k;

    S b_next[kRows][kColumns];
    S a_next[kAPer];
    const auto fetch = [&](int k0) {
        gather_tile(s, x, columns, tap, b_next);
        advance(tap, s.tile_step, s);
        load_weights<kAPer, Tile::kAVector>(a_next, a_src + k0, a_row_ok, s.k - k0 - a_k,
                                            weights_aligned);
    };
    const auto stash = [&](int buf) {
        E* const b = b_tiles + buf * Tile::kBBuffer;
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
#pragma unroll
            for (int j = 0; j < kColumns; ++j) {
                b[(warp + kWarps * i) * kLdB + lane + 32 * j] = Traits::to_elem(b_next[i][j]);
            }
        }
        E a[kAPer];
#pragma unroll
        for (int v = 0; v < kAPer; ++v) {
            a[v] = Traits::to_elem(a_next[v]);
        }
        E* const a_dst = a_tiles + buf * Tile::kABuffer + a_row * kLdA + a_k;
#pragma unroll
        for (int v = 0; v < kAPer; v += Tile::kAStore) {
            store_vector<Tile::kAStore>(a_dst + v, a + v);
        }
    };

    const int warp_m = warp / Tile::kWarpsN, warp_n = warp % Tile::kWarpsN;
    typename Traits::Accumulator acc[Tile::kFragmentsM][Tile::kFragmentsN];
#pragma unroll
    for (int fi = 0; fi < Tile::kFragmentsM; ++fi) {
#pragma unroll
        for (int fj = 0; fj < Tile::kFragmentsN; ++fj) {
            wmma::fill_fragment(acc[fi][fj], 0.f);
        }
    }
    const int tiles = (ks.end - ks.begin + BK - 1) / BK;
    fetch(ks.begin);
    stash(0);
    __syncthreads();  // tile 0 complete before anyone reads it
    for (int t = 0; t < tiles; ++t) {
        const int buf = t & 1;
        const bool more = t + 1 < tiles;
        if (more) {
            fetch(ks.begin + (t + 1) * BK);  // in flight during the products below
        }
        const E* const a = a_tiles + buf * Tile::kABuffer + warp_m * Tile::kWarpM * kLdA;
        const E* const b = b_tiles + buf * Tile::kBBuffer + warp_n * Tile::kWarpN;
#pragma unroll
        for (int kk = 0; kk < BK; kk += Traits::kK) {
            typename Traits::FragmentB b_frag[Tile::kFragmentsN];
#pragma unroll
            for (int fj = 0; fj < Tile::kFragmentsN; ++fj) {
                wmma::load_matrix_sync(b_frag[fj], b + kk * kLdB + fj * 16, kLdB);
            }
#pragma unroll
            for (int fi = 0; fi < Tile::kFragmentsM; ++fi) {
                typename Traits::FragmentA a_frag;
                wmma::load_matrix_sync(a_frag, a + fi * 16 * kLdA + kk, kLdA);
#pragma unroll
                for (int fj = 0; fj < Tile::kFragmentsN; ++fj) {
                    wmma::mma_sync(acc[fi][fj], a_frag, b_frag[fj], acc[fi][fj]);
                }
            }
        }
        if (more) {
            stash(buf ^ 1);  // read last in iteration t - 1, whose barrier every thread has passed
        }
        __syncthreads();  // tile t + 1 complete, and tile t read, before the next iteration
    }

    // c_tile overlays both buffers: the loop's last barrier has every warp done reading them.
#pragma unroll
    for (int fi = 0; fi < Tile::kFragmentsM; ++fi) {
#pragma unroll
        for (int fj = 0; fj < Tile::kFragmentsN; ++fj) {
            float* const dst =
                c_tile + (warp_m * Tile::kWarpM + fi * 16) * kLdC + warp_n * Tile::kWarpN + fj * 16;
            wmma::store_matrix_sync(dst, acc[fi][fj], kLdC, wmma::mem_row_major);
        }
    }
    __syncthreads();  // the whole output tile is in c_tile before it is read across warps

    // One column per thread, consecutive threads consecutive pixels: coalesced stores.
    const int col = threadIdx.x % BN;
    const std::int64_t out = output_base(s, pixel_at(s, origin, col));
    if (out < 0) {
        return;
    }
    const bool split = s.k_splits > 1;
    float* const split_dst = split ? partial + blockIdx.y * (s.n * s.y_image) : nullptr;
    for (int row = threadIdx.x / BN; row < BM && tile.m0 + row < s.og; row += kThreads / BN) {
        const int channel = tile.group * s.og + tile.m0 + row;
        float v = c_tile[row * kLdC + col];
        const std::int64_t at = out + static_cast<std::int64_t>(channel) * s.p;
        if (split) {
            split_dst[at] = v;
            continue;
        }
        if (bias != nullptr) {
            v += to_float(bias[channel]);
        }
        y[at] = from_float<S>(v);
    }
}

}  // namespace wtconv::cuda::implicit_gemm
