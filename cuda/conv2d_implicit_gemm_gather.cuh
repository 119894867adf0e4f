#pragma once
// conv2d implicit GEMM: the index math that both kernels share. Per group, C = A B with A the
// group's weights (og x K, K = cg kh kw, row-major) and B the column matrix (K x pixels), never
// stored: a K row k = (c kh + r) kw + s is a tap (c, r, s), a column an output pixel.
#include <cstdint>
#include <cstring>

#include <cuda_runtime.h>

#include "cuda/numeric.cuh"

namespace wtconv::cuda::implicit_gemm {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

// ih0 of a column past the last pixel: far enough below row 0 that ih0 + r dh < 0 for every tap,
// so its gathers read nothing (the host checks h + 2 ph < 2^30).
constexpr int kOutsideRow = -(1 << 30);

// A move along K by a fixed number of rows as (channels, kernel rows, kernel columns) with
// dr < kh and ds < kw, so that advancing a tap carries at most once per axis: no division.
struct TapStep {
    int dc, dr, ds;
};

// The tap of one K row.
struct Tap {
    int c, r, s;
};

// Every size a kernel reads, narrowed to 32 bits where the host checked that it fits.
struct GemmShape {
    int n, h, w;
    std::int64_t hw;       // H W: one channel of x
    std::int64_t x_image;  // C H W: one image of x
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int cg;                // input channels of a group
    int og;                // output channels of a group: GEMM M
    int k;                 // cg kh kw: GEMM K
    int wo;                // output width
    int p;                 // Ho Wo: pixels of one output image
    std::int64_t y_image;  // O Ho Wo: one image of y
    int m_tiles, p_tiles;  // tiles along M and along the n Ho Wo pixels
    // Split-K: blockIdx.y of k_splits sums K rows [y k_split_len, (y + 1) k_split_len) (whole K
    // tiles) into its own partial output; a second pass adds the partials in split order.
    int k_splits, k_split_len;
    TapStep tile_step;  // one K tile
    TapStep row_step;   // kWarps rows: between the K rows one thread gathers in a tile
};

inline TapStep tap_step(int rows, int kh, int kw) {
    const int khw = kh * kw;
    return TapStep{rows / khw, rows % khw / kw, rows % kw};
}

__device__ inline Tap tap_of(int k, const GemmShape& s) {
    const int khw = s.kh * s.kw;
    return Tap{k / khw, k % khw / s.kw, k % s.kw};
}

__device__ inline void advance(Tap& t, const TapStep& d, const GemmShape& s) {
    t.s += d.ds;
    const int carry_s = t.s >= s.kw ? 1 : 0;
    t.s -= carry_s * s.kw;
    t.r += d.dr + carry_s;
    const int carry_r = t.r >= s.kh ? 1 : 0;
    t.r -= carry_r * s.kh;
    t.c += d.dc + carry_r;
}

// The block's tile: M tile fastest, so the blocks that run together share their pixels (x is read
// from DRAM about once) and cycle through the same weights.
struct TileOrigin {
    int group;
    int m0;           // first output channel within the group
    std::int64_t p0;  // first pixel of the n Ho Wo
};

__device__ inline TileOrigin tile_origin(const GemmShape& s, int bm, int bn) {
    const unsigned block = blockIdx.x;
    const unsigned rest = block / s.m_tiles;
    const unsigned p_tile = rest % s.p_tiles;
    return TileOrigin{static_cast<int>(rest / s.p_tiles), static_cast<int>(block % s.m_tiles) * bm,
                      static_cast<std::int64_t>(p_tile) * bn};
}

// The K rows of this block's split.
struct KRange {
    int begin, end;
};

__device__ inline KRange k_range(const GemmShape& s) {
    const int begin = static_cast<int>(blockIdx.y) * s.k_split_len;
    return KRange{begin, min(s.k, begin + s.k_split_len)};
}

// Pixel p0 + col of the tile; image >= n marks a column past the last pixel.
struct Pixel {
    std::int64_t image;
    int q;  // oh wo + ow
    int oh, ow;
};

// The one 64-bit division of a thread: where the tile starts; each column then divides in 32
// bits (the host checks Ho Wo + tile width < 2^31).
struct PixelOrigin {
    std::int64_t image;
    int q;
};

__device__ inline PixelOrigin pixel_origin(const GemmShape& s, std::int64_t p0) {
    const std::int64_t image = p0 / s.p;
    return PixelOrigin{image, static_cast<int>(p0 - image * s.p)};
}

__device__ inline Pixel pixel_at(const GemmShape& s, const PixelOrigin& o, int col) {
    int q = o.q + col;
    const int wrapped = q / s.p;
    q -= wrapped * s.p;
    const int oh = q / s.wo;
    return Pixel{o.image + wrapped, q, oh, q - oh * s.wo};
}

// Where a column gathers from: x offset of tap (0, 0, 0) in its image and group, which may lie
// outside x when the tap is in the padding, plus the tap's input row and column.
struct ColumnSource {
    std::int64_t base;
    int ih0, iw0;
};

__device__ inline ColumnSource column_source(const GemmShape& s, const Pixel& px, int group) {
    if (px.image >= s.n) {
        return ColumnSource{0, kOutsideRow, 0};
    }
    const int ih0 = px.oh * s.sh - s.ph;
    const int iw0 = px.ow * s.sw - s.pw;
    const std::int64_t channel0 = static_cast<std::int64_t>(group) * s.cg;
    return ColumnSource{
        px.image * s.x_image + channel0 * s.hw + static_cast<std::int64_t>(ih0) * s.w + iw0, ih0,
        iw0};
}

// Offset of a tap from a column's base, computed once per K row and shared by its columns.
struct RowSource {
    std::int64_t offset;
    int dy, dx;  // r dh, s dw
    bool valid;  // k < K
};

__device__ inline RowSource row_source(const GemmShape& s, const Tap& t) {
    const int dy = t.r * s.dh;
    const int dx = t.s * s.dw;
    return RowSource{t.c * s.hw + static_cast<std::int64_t>(dy) * s.w + dx, dy, dx, t.c < s.cg};
}

// One element of the column matrix: x at the tap, zero in the padding and past K or the pixels.
template <class S>
__device__ inline S gather(const GemmShape& s,
                           const S* __restrict__ x,
                           const ColumnSource& col,
                           const RowSource& row) {
    const bool inside = row.valid &&
                        static_cast<unsigned>(col.ih0 + row.dy) < static_cast<unsigned>(s.h) &&
                        static_cast<unsigned>(col.iw0 + row.dx) < static_cast<unsigned>(s.w);
    return inside ? x[col.base + row.offset] : S{};
}

// This thread's share of a K tile of the column matrix: K rows tap, then row_step (kWarps rows)
// apart, at the columns whose sources are in columns (lane + 32 j of the tile).
template <int kRows, int kColumns, class S>
__device__ inline void gather_tile(const GemmShape& s,
                                   const S* __restrict__ x,
                                   const ColumnSource (&columns)[kColumns],
                                   Tap tap,
                                   S (&out)[kRows][kColumns]) {
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
        const RowSource row = row_source(s, tap);
#pragma unroll
        for (int j = 0; j < kColumns; ++j) {
            out[i][j] = gather(s, x, columns[j], row);
        }
        if (i + 1 < kRows) {
            advance(tap, s.row_step, s);
        }
    }
}

// y offset of a column without its channel; -1 past the last pixel.
__device__ inline std::int64_t output_base(const GemmShape& s, const Pixel& px) {
    return px.image < s.n ? px.image * s.y_image + px.q : -1;
}

// kW consecutive values in one access, the address aligned to its size; the registers go
// through memcpy so that they stay registers.
template <int kW, class S>
__device__ inline void load_vector(S* dst, const S* src) {
    using V = typename RawVector<kW * sizeof(S)>::Type;
    const V raw = *reinterpret_cast<const V*>(src);
    memcpy(dst, &raw, sizeof(V));
}

template <int kW, class S>
__device__ inline void store_vector(S* dst, const S* src) {
    using V = typename RawVector<kW * sizeof(S)>::Type;
    V raw;
    memcpy(&raw, src, sizeof(V));
    *reinterpret_cast<V*>(dst) = raw;
}

// v = kN consecutive weights of one A row from src; zero where the row is past og (row_ok false)
// or the entry past K (i >= remaining). aligned: K and the address allow kW-element vector loads,
// which then hold entries that all exist or none (the chunks start at multiples of kW).
template <int kN, int kW, class S>
__device__ inline void load_weights(
    S (&v)[kN], const S* __restrict__ src, bool row_ok, int remaining, bool aligned) {
    static_assert(kN % kW == 0, "a thread's weights are whole vectors");
    if (aligned) {
#pragma unroll
        for (int i = 0; i < kN; i += kW) {
            if (row_ok && i < remaining) {
                load_vector<kW>(v + i, src + i);
            } else {
#pragma unroll
                for (int j = 0; j < kW; ++j) {
                    v[i + j] = S{};
                }
            }
        }
    } else {
#pragma unroll
        for (int i = 0; i < kN; ++i) {
            v[i] = row_ok && i < remaining ? src[i] : S{};
        }
    }
}

}  // namespace wtconv::cuda::implicit_gemm
