#pragma once
// conv2d implicit GEMM on the FMA pipe (float32, float64): a tiled SGEMM whose B tile is gathered
// from x. 256 threads, a K tile of BK rows (BK / 8 per warp), TM x TN outputs per thread as outer
// products from shared memory, two shared buffers with the next tile's loads held in registers.
#include <cstdint>

#include "cuda/conv2d_implicit_gemm_gather.cuh"

namespace wtconv::cuda::implicit_gemm {

template <class T, int BM, int BN, int TM, int TN, int kMinBlocksPerSm, int BK = kWarps>
struct FmaTile {
    static constexpr int kBM = BM, kBN = BN, kTM = TM, kTN = TN;
    static constexpr int kMinBlocks = kMinBlocksPerSm;
    static constexpr int kBK = BK;
    static constexpr int kRows = BK / kWarps;  // K rows a thread gathers: warp + kWarps i
    static constexpr int kThreadsN = BN / TN;
    static constexpr int kColumns = BN / 32;  // columns one lane gathers
    // Consecutive K entries of one weight row per thread; a 16-row tile leaves half the threads
    // idle.
    static constexpr int kAPerThread = BM * kBK >= kThreads ? BM * kBK / kThreads : 1;
    static constexpr int kALoaders = BM * kBK / kAPerThread;
    static constexpr int kAVector = kAPerThread * sizeof(T) > 16 ? 16 / sizeof(T) : kAPerThread;
    // Rows of BM + 4: the transposed weight stores of one warp then fall in distinct banks.
    static constexpr int kLdA = BM + 4;
    static_assert((BM / TM) * (BN / TN) == kThreads, "one thread per TM x TN outputs");
    static_assert(BN % 32 == 0, "a warp gathers whole rows of 32 columns");
    static_assert(kBK % kAPerThread == 0, "a thread's weights lie in one row");
    static_assert(kBK % kWarps == 0, "whole gather rows per warp");
};

// The kN entries of a shared row of length kLen that thread t uses: runs of kV consecutive
// entries kLen / kRuns apart, so that a warp's vector loads read consecutive addresses.
template <class T, int kN, int kLen>
struct Fragment {
    static constexpr int kV = kN * sizeof(T) >= 16 ? 16 / sizeof(T) : kN;
    static constexpr int kRuns = kN / kV;
    static constexpr int kRunStride = kLen / kRuns;

    __device__ static int index(int t, int i) { return i / kV * kRunStride + t * kV + i % kV; }

    __device__ static void load(T (&v)[kN], const T* row, int t) {
#pragma unroll
        for (int run = 0; run < kRuns; ++run) {
            load_vector<kV>(v + run * kV, row + run * kRunStride + t * kV);
        }
    }
};

// y (N, O, Ho, Wo) = bias + conv(x (N, C, H, W), weight (O, C / groups, kh, kw)); T = float or
// double, the storage and the arithmetic type. One block per (group, M tile, pixel tile) and K
// split; with several splits each writes its sums, without bias, to partial[split] (y's layout).
template <class T, class Tile>
__global__ void __launch_bounds__(kThreads, Tile::kMinBlocks)
    conv2d_implicit_gemm_fma_kernel(const GemmShape s,
                                    const T* __restrict__ x,
                                    const T* __restrict__ weight,
                                    const T* __restrict__ bias,
                                    bool weights_aligned,
                                    T* __restrict__ y,
                                    T* __restrict__ partial) {
    constexpr int BM = Tile::kBM, BN = Tile::kBN, BK = Tile::kBK;
    constexpr int TM = Tile::kTM, TN = Tile::kTN;
    constexpr int kRows = Tile::kRows, kColumns = Tile::kColumns, kAPer = Tile::kAPerThread;
    using FragmentA = Fragment<T, TM, BM>;
    using FragmentB = Fragment<T, TN, BN>;
    // Two buffers: tile t + 1 is written into one while the other may still be read for tile t.
    __shared__ __align__(16) T a_tiles[2][BK][Tile::kLdA];  // A transposed: a column of A per row
    __shared__ __align__(16) T b_tiles[2][BK][BN];

    const TileOrigin tile = tile_origin(s, BM, BN);
    const KRange ks = k_range(s);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    // Gather: lane + 32 j are this thread's columns, warp + kWarps i its K rows in every tile.
    ColumnSource columns[kColumns];
    {
        const PixelOrigin origin = pixel_origin(s, tile.p0);
#pragma unroll
        for (int j = 0; j < kColumns; ++j) {
            columns[j] = column_source(s, pixel_at(s, origin, lane + 32 * j), tile.group);
        }
    }
    Tap tap = tap_of(ks.begin + warp, s);

    // Weights: kAPer consecutive K entries of row a_row.
    const int a_row = threadIdx.x / (BK / kAPer);
    const int a_k = threadIdx.x % (BK / kAPer) * kAPer;
    const bool a_loader = threadIdx.x < Tile::kALoaders;
    const bool a_row_ok = a_loader && tile.m0 + a_row < s.og;
    const std::int64_t a_m =
        static_cast<std::int64_t>(tile.group) * s.og + (a_row_ok ? tile.m0 + a_row : 0);
    const T* const a_src = weight + a_m * s.k + a_k;

    T b_next[kRows][kColumns];
    T a_next[kAPer];
    const auto fetch = [&](int k0) {
        gather_tile(s, x, columns, tap, b_next);
        advance(tap, s.tile_step, s);
        load_weights<kAPer, Tile::kAVector>(a_next, a_src + k0, a_row_ok, s.k - k0 - a_k,
                                            weights_aligned);
    };
    const auto stash = [&](int buf) {
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
#pragma unroll
            for (int j = 0; j < kColumns; ++j) {
                b_tiles[buf][warp + kWarps * i][lane + 32 * j] = b_next[i][j];
            }
        }
        if (a_loader) {
#pragma unroll
            for (int v = 0; v < kAPer; ++v) {
                a_tiles[buf][a_k + v][a_row] = a_next[v];
            }
        }
    };

    const int tm = threadIdx.x / Tile::kThreadsN, tn = threadIdx.x % Tile::kThreadsN;
    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            acc[i][j] = T{};
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
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            T a[TM];
            T b[TN];
            FragmentA::load(a, &a_tiles[buf][kk][0], tm);
            FragmentB::load(b, &b_tiles[buf][kk][0], tn);
#pragma unroll
            for (int i = 0; i < TM; ++i) {
#pragma unroll
                for (int j = 0; j < TN; ++j) {
                    acc[i][j] = fma(a[i], b[j], acc[i][j]);
                }
            }
        }
        if (more) {
            stash(buf ^ 1);  // read last in iteration t - 1, whose barrier every thread has passed
        }
        __syncthreads();  // tile t + 1 complete, and tile t read, before the next iteration
    }

    // Every output's sum ran over its split's k in order, whatever the tile: results depend on the
    // split, not on the tile.
    const PixelOrigin origin = pixel_origin(s, tile.p0);  // recomputed, not live through the loop
    std::int64_t out[TN];
#pragma unroll
    for (int j = 0; j < TN; ++j) {
        out[j] = output_base(s, pixel_at(s, origin, FragmentB::index(tn, j)));
    }
    const bool split = s.k_splits > 1;
    T* const dst = split ? partial + blockIdx.y * (s.n * s.y_image) : y;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int m = tile.m0 + FragmentA::index(tm, i);
        if (m >= s.og) {
            continue;
        }
        const int channel = tile.group * s.og + m;
        const T b = bias != nullptr && !split ? bias[channel] : T{};
        T* const row = dst + static_cast<std::int64_t>(channel) * s.p;
        // A run of kV columns is kV consecutive pixels: one vector store where they lie in one
        // image and the address allows it, so that a warp writes whole sectors.
        constexpr int kV = FragmentB::kV;
#pragma unroll
        for (int run = 0; run < FragmentB::kRuns; ++run) {
            const int j0 = run * kV;
            T v[kV];
#pragma unroll
            for (int e = 0; e < kV; ++e) {
                v[e] = acc[i][j0 + e] + b;
            }
            const std::int64_t first = out[j0];
            if (first >= 0 && out[j0 + kV - 1] == first + kV - 1 &&
                reinterpret_cast<std::uintptr_t>(row + first) % (kV * sizeof(T)) == 0) {
                store_vector<kV>(row + first, v);
                continue;
            }
#pragma unroll
            for (int e = 0; e < kV; ++e) {
                if (out[j0 + e] >= 0) {
                    row[out[j0 + e]] = v[e];
                }
            }
        }
    }
}

}  // namespace wtconv::cuda::implicit_gemm
