#pragma once
// Device pieces shared by the fused WTConv2d kernels (forward, dx, weight gradients): staging an
// image tile into shared memory, building its Haar pyramid in place, and a K x K strip
// correlation. Geometry: cuda/wtconv2d_fused_plan.h.
#include <cstdint>

#include "cuda/numeric.cuh"
#include "cuda/wtconv2d_fused_plan.h"

namespace wtconv::cuda::fused {

// for each (row, col) of a rows x cols array: warps take rows, lanes take columns. Consecutive
// lanes touch consecutive words (coalesced loads, no bank conflicts), with no division per element.
#define WTCONV_FOR_ROWS(row, col, rows, cols)                              \
    for (int row = threadIdx.x / 32; row < (rows); row += blockDim.x / 32) \
        for (int col = threadIdx.x % 32; col < (cols); col += 32)

// Which tile of which plane this block owns.
struct TileIndex {
    int plane;     // n * C + c
    int channel;   // c
    int row, col;  // level-0 origin of the tile
};

__device__ inline TileIndex tile_of_block(const FusedPlan& p, int block) {
    const int tiles = p.tiles_h * p.tiles_w;
    TileIndex t;
    t.plane = block / tiles;
    t.channel = t.plane % p.c;
    t.row = block % tiles / p.tiles_w * p.tile_h;
    t.col = block % tiles % p.tiles_w * p.tile_w;
    return t;
}

// The 2x2 Haar butterfly: out = 1/2 ((p+q)+(r+s), (p+q)-(r+s), (p-q)+(r-s), (p-q)-(r-s)). The
// matrix is symmetric and orthogonal, so it is both the analysis (p..s = the block a, b, c, d;
// out = LL, LH, HL, HH) and the synthesis (p..s = LL, LH, HL, HH; out = the block).
__device__ inline void haar_butterfly(float p, float q, float r, float s, float (&out)[4]) {
    out[0] = 0.5f * ((p + q) + (r + s));
    out[1] = 0.5f * ((p + q) - (r + s));
    out[2] = 0.5f * ((p - q) + (r - s));
    out[3] = 0.5f * ((p - q) - (r - s));
}

// Level m's array of band b (level 0: the image itself, b = 0).
__device__ inline float* level_array(const FusedPlan& p, float* smem, int m, int b) {
    const FusedLevel& lv = p.level[m];
    return smem + lv.offset + b * lv.rows * lv.pitch;
}
__device__ inline const float* level_array(const FusedPlan& p, const float* smem, int m, int b) {
    const FusedLevel& lv = p.level[m];
    return smem + lv.offset + b * lv.rows * lv.pitch;
}

// Fills a rows x pitch array of shared memory: store(i, load(r, c)) for every element
// i = r * pitch + c, the block's threads striding over i. Each thread issues kBatch loads before it
// stores any (a plain loop waits one global-memory latency per element), and steps (r, c) without
// dividing. load may return the raw stored value and store convert it: a conversion next to its
// load would make each load wait for the one before (float16/bfloat16 staging did: ncu, 63x65).
template <int kBatch = 8, class Load, class Store>
__device__ inline void stage_array(int rows, int pitch, const Load& load, const Store& store) {
    const int count = rows * pitch;
    const int step_r = blockDim.x / pitch, step_c = blockDim.x % pitch;
    int r = threadIdx.x / pitch, c = threadIdx.x % pitch;
    using Value = decltype(load(0, 0));
    for (int first = threadIdx.x; first < count; first += kBatch * blockDim.x) {
        Value v[kBatch];
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            v[u] = first + u * blockDim.x < count ? load(r, c) : Value{};
            r += step_r;
            c += step_c;
            if (c >= pitch) {
                c -= pitch;
                ++r;
            }
        }
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            const int i = first + u * blockDim.x;
            if (i < count) {
                store(i, v[u]);
            }
        }
    }
}

// fn(r, c, i) for every element i = r * pitch + c of a rows x pitch array, the block's threads
// striding over i: consecutive lanes take consecutive elements, and (r, c) steps without dividing.
template <class Fn>
__device__ inline void for_each_element(int rows, int pitch, const Fn& fn) {
    const int step_r = blockDim.x / pitch, step_c = blockDim.x % pitch;
    int r = threadIdx.x / pitch, c = threadIdx.x % pitch;
    for (int i = threadIdx.x; i < rows * pitch; i += blockDim.x) {
        fn(r, c, i);
        r += step_r;
        c += step_c;
        if (c >= pitch) {
            c -= pitch;
            ++r;
        }
    }
}

// A rows x pitch window of an h x w image plane, staged into shared memory: element (r, c) is
// the image at (origin_y + r, origin_x + c), zero outside the image and in the slack columns
// c >= cols.
struct ImageWindow {
    int h, w;
    int origin_y, origin_x;
    int rows, cols, pitch;
};

// store(r * pitch + c, element) for every element of the window, by kBytes-wide loads: the
// plane's rows are a multiple of kBytes long, so every aligned chunk of a row lies wholly inside
// or wholly outside the image.
template <class S, int kBytes, class Store>
__device__ void stage_window_by_vectors(const S* __restrict__ plane,
                                        const ImageWindow& win,
                                        const Store& store) {
    const int h = win.h, w = win.w, origin_y = win.origin_y, origin_x = win.origin_x;
    const int rows = win.rows, cols = win.cols, pitch = win.pitch;
    using Bits = typename RawVector<kBytes>::Type;
    constexpr int kVec = kBytes / sizeof(S);
    constexpr int kBatch = 16 / kVec;  // 16 values in flight a thread
    // chunk k covers columns first_x + k kVec ...; first_x <= origin_x, rounded down
    const int first_x =
        origin_x >= 0 ? origin_x / kVec * kVec : -((kVec - 1 - origin_x) / kVec) * kVec;
    const int chunks = (origin_x - first_x + pitch + kVec - 1) / kVec;
    const int count = rows * chunks;
    // chunk task = r * chunks + k, stepped by blockDim.x without dividing
    const int step_r = blockDim.x / chunks, step_k = blockDim.x % chunks;
    int r = threadIdx.x / chunks, k = threadIdx.x % chunks;
    for (int first = threadIdx.x; first < count; first += kBatch * blockDim.x) {
        float v[kBatch][kVec];
        int row[kBatch], x0[kBatch];
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            const int task = first + u * blockDim.x;
            row[u] = r;
            x0[u] = first_x + k * kVec;
            r += step_r;
            k += step_k;
            if (k >= chunks) {
                k -= chunks;
                ++r;
            }
            const int gy = origin_y + row[u];
            union {
                Bits vector;
                S scalars[kVec];
            } pack;
            pack.vector = Bits{};
            if (task < count && gy >= 0 && gy < h && x0[u] >= 0 && x0[u] < w) {
                pack.vector = *reinterpret_cast<const Bits*>(plane + gy * w + x0[u]);
            }
            // converted here: keeping the raw vectors until the stores (as stage_array does) made
            // bfloat16 slower (256x256 forward 0.434 -> 0.46-0.48 ms, H100)
#pragma unroll
            for (int q = 0; q < kVec; ++q) {
                v[u][q] = to_float(pack.scalars[q]);
            }
        }
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            if (first + u * blockDim.x >= count) {
                break;
            }
#pragma unroll
            for (int q = 0; q < kVec; ++q) {
                const int cidx = x0[u] + q - origin_x;
                if (cidx >= 0 && cidx < pitch) {
                    store(row[u] * pitch + cidx, cidx < cols ? v[u][q] : 0.f);
                }
            }
        }
    }
}

// store(r * pitch + c, element) for every element of the window by 16-byte loads at any row length
// (for the widths stage_window_by_vectors cannot take): chunks aligned to 16-byte addresses,
// so a row's first and last chunks also hold elements of the rows around it, read and not stored.
// A chunk reaching outside [begin, end), the whole tensor, is read element by element instead:
// compute-sanitizer counts bytes past an allocation even inside an aligned sector.
template <class S, class Store>
__device__ void stage_window_by_aligned_chunks(const S* __restrict__ plane,
                                               const S* begin,
                                               const S* end,
                                               const ImageWindow& win,
                                               const Store& store) {
    using Bits = typename RawVector<16>::Type;
    constexpr int kVec = 16 / sizeof(S);
    constexpr int kBatch = 16 / kVec;  // 16 values in flight a thread
    const int h = win.h, w = win.w, origin_y = win.origin_y, origin_x = win.origin_x;
    const int rows = win.rows, cols = win.cols, pitch = win.pitch;
    // A row's chunks start up to kVec - 1 columns left of the window, wherever its 16 bytes fall.
    const int chunks = (pitch + 2 * kVec - 2) / kVec;
    const int count = rows * chunks;
    const auto lowest = reinterpret_cast<std::uintptr_t>(begin);
    const auto highest = reinterpret_cast<std::uintptr_t>(end);
    const auto base = reinterpret_cast<std::uintptr_t>(plane);
    // The image columns a chunk may take from: the window's, inside the image.
    const int take_lo = max(origin_x, 0), take_hi = min(origin_x + cols, w);
    // chunk task = r * chunks + k, stepped by blockDim.x without dividing
    const int step_r = blockDim.x / chunks, step_k = blockDim.x % chunks;
    int r = threadIdx.x / chunks, k = threadIdx.x % chunks;
    for (int first = threadIdx.x; first < count; first += kBatch * blockDim.x) {
        float v[kBatch][kVec];
        int row[kBatch], c0[kBatch];  // the chunk's row and the window column of its first element
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            const int task = first + u * blockDim.x;
            const int gy = origin_y + r;
            const bool row_inside = gy >= 0 && gy < h;
            // integers, not pointers: a row outside the image lies outside the plane
            const std::uintptr_t row_at =
                base + static_cast<std::uintptr_t>(static_cast<long long>(gy) * w * sizeof(S));
            const std::uintptr_t window_at =
                row_at + static_cast<std::uintptr_t>(static_cast<long long>(origin_x) * sizeof(S));
            const int shift = row_inside ? static_cast<int>(window_at % 16 / sizeof(S)) : 0;
            row[u] = r;
            c0[u] = k * kVec - shift;
            r += step_r;
            k += step_k;
            if (k >= chunks) {
                k -= chunks;
                ++r;
            }
            const int x0 = origin_x + c0[u];  // image column of the chunk's first element
            union {
                Bits vector;
                S scalars[kVec];
            } pack;
            pack.vector = Bits{};
            if (task < count && row_inside && max(x0, take_lo) < min(x0 + kVec, take_hi)) {
                const std::uintptr_t at =
                    row_at + static_cast<std::uintptr_t>(static_cast<long long>(x0) * sizeof(S));
                if (at >= lowest && at + 16 <= highest) {
                    // a generic load: __ldg's read-only one made the float weight-gradient
                    // kernels spill (nvcc 13.0)
                    pack.vector = *reinterpret_cast<const Bits*>(at);
                } else {
#pragma unroll
                    for (int q = 0; q < kVec; ++q) {
                        if (x0 + q >= take_lo && x0 + q < take_hi) {
                            pack.scalars[q] = plane[static_cast<long long>(gy) * w + x0 + q];
                        }
                    }
                }
            }
#pragma unroll
            for (int q = 0; q < kVec; ++q) {
                v[u][q] = to_float(pack.scalars[q]);
            }
        }
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            if (first + u * blockDim.x >= count) {
                break;
            }
            const int gy = origin_y + row[u];
            const bool row_inside = gy >= 0 && gy < h;
#pragma unroll
            for (int q = 0; q < kVec; ++q) {
                const int cidx = c0[u] + q;
                if (cidx >= 0 && cidx < pitch) {
                    const int gx = origin_x + cidx;
                    const bool inside = row_inside && cidx < cols && gx >= 0 && gx < w;
                    store(row[u] * pitch + cidx, inside ? v[u][q] : 0.f);
                }
            }
        }
    }
}

// The window of a zero-upsampled image element by element: the image at (gy, gx) is
// plane[(gy / stride) src_w + gx / stride] where stride divides both, zero between.
template <class S, class Store>
__device__ void stage_upsampled_window(const S* __restrict__ plane,
                                       int src_w,
                                       int stride,
                                       const ImageWindow& win,
                                       const Store& store) {
    stage_array(
        win.rows, win.pitch,
        [&](int r, int cidx) {  // the raw value (S{} is zero), converted when stored
            const int gy = win.origin_y + r, gx = win.origin_x + cidx;
            S v{};
            if (cidx < win.cols && gy >= 0 && gy < win.h && gx >= 0 && gx < win.w &&
                gy % stride == 0 && gx % stride == 0) {
                v = plane[gy / stride * src_w + gx / stride];
            }
            return v;
        },
        [&](int i, S v) { store(i, to_float(v)); });
}

// The window of `plane`, one plane of the tensor [begin, end), by the widest loads its rows allow:
// 16- or 8-byte loads where the rows are a multiple of that, 16-byte chunks aligned to addresses
// otherwise; a zero-upsampled image (stride > 1, plane src_w wide) element by element.
template <class S, class Store>
__device__ void stage_window(const S* begin,
                             const S* end,
                             const S* __restrict__ plane,
                             int src_w,
                             int stride,
                             const ImageWindow& win,
                             const Store& store) {
    if (stride > 1) {
        stage_upsampled_window(plane, src_w, stride, win, store);
    } else if (win.w % (16 / sizeof(S)) == 0) {
        stage_window_by_vectors<S, 16>(plane, win, store);
    } else if (win.w % (8 / sizeof(S)) == 0) {
        stage_window_by_vectors<S, 8>(plane, win, store);
    } else {
        stage_window_by_aligned_chunks(plane, begin, end, win, store);
    }
}

// The level-0 array: the image on the tile widened by e_0, zero outside the image and in the
// slack columns. Upsampled: src is the strided image (dy of a strided forward), placed at every
// stride-th pixel with zeros between (the adjoint of the forward's subsampling).
template <class S, bool kUpsampled>
__device__ void stage_image(const FusedPlan& p,
                            const S* __restrict__ src,
                            const TileIndex& t,
                            float* smem) {
    const FusedLevel& lv = p.level[0];
    float* dst = level_array(p, smem, 0, 0);
    const int src_h = kUpsampled ? p.ho : p.h, src_w = kUpsampled ? p.wo : p.w;
    const S* plane = src + static_cast<long long>(t.plane) * src_h * src_w;
    const ImageWindow win{p.h, p.w, t.row - lv.ext, t.col - lv.ext, lv.rows, lv.cols, lv.pitch};
    const auto store = [&](int i, float v) { dst[i] = v; };
    const S* end = src + static_cast<long long>(p.n) * p.c * src_h * src_w;
    stage_window(src, end, plane, src_w, kUpsampled ? p.stride : 1, win, store);
}

// Levels first..L of the Haar pyramid (spec 3.1: LL = (a+b+c+d)/2, LH = (a+b-c-d)/2,
// HL = (a-b+c-d)/2, HH = (a-b-c+d)/2 on each 2x2 block), each from the raw LL of the level above,
// over the whole widened tile. Positions outside the padded plane are zero.
__device__ inline void build_pyramid(const FusedPlan& p,
                                     const TileIndex& t,
                                     float* smem,
                                     int first = 1) {
    for (int m = first; m <= p.levels; ++m) {
        __syncthreads();  // level m - 1 complete
        const FusedLevel& lv = p.level[m];
        const FusedLevel& up = p.level[m - 1];
        const float* src = level_array(p, smem, m - 1, 0);
        float* bands[4];
        for (int b = 0; b < 4; ++b) {
            bands[b] = level_array(p, smem, m, b);
        }
        const int origin_y = (t.row >> m) - lv.ext, origin_x = (t.col >> m) - lv.ext;
        const int plane_h = p.padded_h >> m, plane_w = p.padded_w >> m;
        // level m - 1 local index of level-m global position g: 2g - origin_{m-1}
        const int up_y = (t.row >> (m - 1)) - up.ext, up_x = (t.col >> (m - 1)) - up.ext;
        for_each_element(lv.rows, lv.pitch, [&](int r, int cidx, int i) {
            const int gy = origin_y + r, gx = origin_x + cidx;
            float v[4] = {};
            if (cidx < lv.cols && gy >= 0 && gy < plane_h && gx >= 0 && gx < plane_w) {
                const float* s0 = src + (2 * gy - up_y) * up.pitch + 2 * gx - up_x;
                haar_butterfly(s0[0], s0[1], s0[up.pitch], s0[up.pitch + 1], v);
            }
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                bands[b][i] = v[b];
            }
        });
    }
    __syncthreads();
}

// The first N floats at src (16-byte aligned; N a multiple of 4) by 16-byte loads: a window row
// of a level's array (FusedLevel), in a quarter of the load instructions of scalar loads.
template <int N>
__device__ inline void load_window_row(const float* src, float (&v)[N]) {
    static_assert(N % 4 == 0, "whole 16-byte loads");
#pragma unroll
    for (int j = 0; j < N / 4; ++j) {
        const float4 four = reinterpret_cast<const float4*>(src)[j];
        v[4 * j] = four.x;
        v[4 * j + 1] = four.y;
        v[4 * j + 2] = four.z;
        v[4 * j + 3] = four.w;
    }
}

// acc[q] += sum_{a,b} w[a][b] src[a * pitch + q + b] for q < kStrip: one strip of outputs of a
// K x K correlation whose window starts at src (16-byte aligned, pitch a multiple of 4: a level's
// window, FusedLevel). Each loaded value feeds up to K FMAs.
template <int K>
__device__ inline void correlate_strip(const float* src,
                                       int pitch,
                                       const float (&w)[K * K],
                                       float (&acc)[kFusedStrip]) {
#pragma unroll
    for (int a = 0; a < K; ++a) {
        float win[whole_loads(kFusedStrip + K - 1)];
        load_window_row(src + a * pitch, win);
#pragma unroll
        for (int b = 0; b < K; ++b) {
#pragma unroll
            for (int q = 0; q < kFusedStrip; ++q) {
                acc[q] = fmaf(w[a * K + b], win[q + b], acc[q]);
            }
        }
    }
}

}  // namespace wtconv::cuda::fused
