#pragma once
// The element-wise kernels of the plain CUDA conv2d (cuda/conv2d_img2col.cu): building the column
// matrix, moving a chunk of y / dy between NCHW and the GEMM's (O, images x pixels) layout, col2im
// for dx, and the bias gradient. One thread per output element, grid-stride loops; every sum runs
// in a fixed order, so results are bitwise repeatable.
#include <cstdint>
#include <type_traits>

#include "cuda/launch.h"
#include "cuda/numeric.cuh"
#include "cuda/reduce.cuh"

namespace wtconv::cuda::img2col {

using std::int64_t;

// The sizes of one call, as plain fields for device code, and the chunk of images [n0, n0 + nb)
// a launch covers. Columns of a chunk: m = image in chunk * p + output pixel.
struct ChunkShape {
    int64_t c, h, w, o, ho, wo;
    int kh, kw, sh, sw, ph, pw, dh, dw, groups;
    int64_t cg, og, k;  // channels in and out per group, rows of a group's column matrix
    int64_t n0, nb;

    __host__ __device__ int64_t p() const { return ho * wo; }
    __host__ __device__ int64_t m() const { return nb * ho * wo; }
};

// Arithmetic type of a storage type: double stays double; float, half and bfloat16 compute in
// float.
template <class T>
struct AccOf {
    using type = float;
};
template <>
struct AccOf<double> {
    using type = double;
};
template <class T>
using acc_t = typename AccOf<T>::type;

__device__ inline double to_acc(double v) {
    return v;
}
template <class T>
__device__ inline float to_acc(T v) {
    return to_float(v);
}
template <class T, class V>
__device__ inline T from_acc(V v) {
    if constexpr (std::is_same_v<T, double>) {
        return v;
    } else {
        return from_float<T>(static_cast<float>(v));
    }
}

// col (groups, k, m): col[grp][(cl kh + r) kw + s][m] = x[n0 + m / p][grp cg + cl][i sh - ph + r
// dh] [j sw - pw + s dw], zero outside x.
template <class T>
__global__ void build_columns(const T* __restrict__ x, ChunkShape s, T* __restrict__ col) {
    const int64_t m = s.m();
    const int64_t total = s.groups * s.k * m;
    WTCONV_GRID_STRIDE_LOOP(idx, total) {
        const int64_t col_m = idx % m;
        const int64_t row = idx / m;
        const int64_t kk = row % s.k;
        const int64_t grp = row / s.k;
        const int64_t image = s.n0 + col_m / s.p();
        const int64_t pixel = col_m % s.p();
        const int64_t i = pixel / s.wo, j = pixel % s.wo;
        const int tap_s = static_cast<int>(kk % s.kw);
        const int tap_r = static_cast<int>(kk / s.kw % s.kh);
        const int64_t channel = grp * s.cg + kk / (s.kh * s.kw);
        const int64_t hh = i * s.sh - s.ph + static_cast<int64_t>(tap_r) * s.dh;
        const int64_t ww = j * s.sw - s.pw + static_cast<int64_t>(tap_s) * s.dw;
        T v = from_acc<T>(acc_t<T>(0));
        if (hh >= 0 && hh < s.h && ww >= 0 && ww < s.w) {
            v = x[((image * s.c + channel) * s.h + hh) * s.w + ww];
        }
        col[idx] = v;
    }
}

// y[n0 + m / p][o][m % p] = gemm_out[o][m] + bias[o] (bias may be null), rounded once.
template <class T, class A>
__global__ void store_output(const A* __restrict__ gemm_out,
                             const T* __restrict__ bias,
                             ChunkShape s,
                             T* __restrict__ y) {
    const int64_t m = s.m();
    WTCONV_GRID_STRIDE_LOOP(idx, s.o * m) {
        const int64_t o = idx / m, col_m = idx % m;
        A v = gemm_out[idx];
        if (bias != nullptr) {
            v += static_cast<A>(to_acc(bias[o]));
        }
        y[((s.n0 + col_m / s.p()) * s.o + o) * s.p() + col_m % s.p()] = from_acc<T>(v);
    }
}

// dy_t[o][m] = dy[n0 + m / p][o][m % p]: the chunk of dy as the GEMMs' (O, m) operand.
template <class T>
__global__ void gather_output_grad(const T* __restrict__ dy, ChunkShape s, T* __restrict__ dy_t) {
    const int64_t m = s.m();
    WTCONV_GRID_STRIDE_LOOP(idx, s.o * m) {
        const int64_t o = idx / m, col_m = idx % m;
        dy_t[idx] = dy[((s.n0 + col_m / s.p()) * s.o + o) * s.p() + col_m % s.p()];
    }
}

// dx[n0 + b][c][hh][ww] = sum of the column gradients of every (tap, output pixel) that read that
// input element, taps in row-major order: a gather, so no two threads write one element.
template <class T, class A>
__global__ void columns_to_input_grad(const A* __restrict__ col_grad,
                                      ChunkShape s,
                                      T* __restrict__ dx) {
    const int64_t plane = s.h * s.w;
    const int64_t m = s.m();
    WTCONV_GRID_STRIDE_LOOP(idx, s.nb * s.c * plane) {
        const int64_t ww = idx % s.w, hh = idx / s.w % s.h;
        const int64_t channel = idx / plane % s.c, b = idx / (plane * s.c);
        const int64_t grp = channel / s.cg, cl = channel % s.cg;
        const A* rows = col_grad + (grp * s.k + cl * s.kh * s.kw) * m + b * s.p();
        A sum = 0;
        for (int r = 0; r < s.kh; ++r) {
            const int64_t i_scaled = hh + s.ph - static_cast<int64_t>(r) * s.dh;
            if (i_scaled < 0 || i_scaled % s.sh != 0 || i_scaled / s.sh >= s.ho) {
                continue;
            }
            const int64_t i = i_scaled / s.sh;
            for (int t = 0; t < s.kw; ++t) {
                const int64_t j_scaled = ww + s.pw - static_cast<int64_t>(t) * s.dw;
                if (j_scaled < 0 || j_scaled % s.sw != 0 || j_scaled / s.sw >= s.wo) {
                    continue;
                }
                sum += rows[(static_cast<int64_t>(r) * s.kw + t) * m + i * s.wo + j_scaled / s.sw];
            }
        }
        dx[(s.n0 * s.c) * plane + idx] = from_acc<T>(sum);
    }
}

constexpr int kBiasGradThreads = 256;

// dbias[o] = sum over images and pixels of dy[n][o], in double, one block per channel: each
// thread strides the same elements every run, then a fixed reduction tree.
template <class T>
__global__ void bias_grad(
    const T* __restrict__ dy, int64_t n, int64_t o_count, int64_t p, T* __restrict__ dbias) {
    __shared__ double scratch[32];
    const int64_t o = blockIdx.x;
    double sum = 0.0;
    for (int64_t idx = threadIdx.x; idx < n * p; idx += blockDim.x) {
        sum += static_cast<double>(to_acc(dy[((idx / p) * o_count + o) * p + idx % p]));
    }
    sum = block_sum(sum, scratch);
    if (threadIdx.x == 0) {
        dbias[o] = from_acc<T>(sum);
    }
}

// out[i] = in[i] rounded to T (the float32 weight gradient of half types).
template <class T, class A>
__global__ void round_to_storage(const A* __restrict__ in, int64_t n, T* __restrict__ out) {
    WTCONV_GRID_STRIDE_LOOP(idx, n) {
        out[idx] = from_acc<T>(in[idx]);
    }
}

}  // namespace wtconv::cuda::img2col
