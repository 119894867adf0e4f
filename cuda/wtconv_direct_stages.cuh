#pragma once
// The direct algorithm's stages on the GPU, one plain kernel each, over whole tensors of planes
// stored one after another (plane q belongs to channel q % channels). Written for WTConv2d and
// WTConv1d at once: a 1D row is a plane of height 1 whose transforms and kernels have one tap and
// no step along the height. Every sum is taken in double and rounded once to T, as the CPU direct
// algorithm does: this is the CUDA reference, not the fast path (cuda/wtconv2d_fused*.cu).
#include <cstdint>

#include "cuda/launch.h"
#include "cuda/reduce.cuh"

namespace wtconv::cuda::direct {

using std::int64_t;

// The four 1D filters of a wavelet in double on the device, each `length` taps.
struct FilterTaps {
    const double* lo;
    const double* hi;
    int length;
    bool reverse;  // analysis filters are applied reversed (correlation with the flipped filter)
};

// How one level's transform maps an image (h_in x w_in per plane) to its bands (h_out x w_out).
// 2D: 4 bands, band k takes the high-pass filter along the height when k & 1, along the width when
// k & 2; steps of 2 both ways. 1D: height 1, 2 bands, band k high-pass along the width when k & 1.
struct LevelShape {
    int64_t planes;  // N * C images
    int bands;
    int64_t h_in, w_in, h_out, w_out;
    int rows_taps, rows_step, rows_pad;  // 2D: F, 2, F/2 - 1; 1D: 1, 1, 0
    int cols_pad;                        // F/2 - 1 (the width always steps by 2 with F taps)
    int rows_hi_mask, cols_hi_mask;      // 2D: 1, 2; 1D: 0, 1
};

__device__ inline double filter_tap(const FilterTaps& f, bool high, int t) {
    const int i = f.reverse ? f.length - 1 - t : t;
    return high ? f.hi[i] : f.lo[i];
}

// Band k's 2D tap (a along the height, b along the width): the product of two 1D taps.
__device__ inline double band_tap(const FilterTaps& f, const LevelShape& s, int k, int a, int b) {
    const double rows = s.rows_taps == 1 ? 1.0 : filter_tap(f, (k & s.rows_hi_mask) != 0, a);
    return rows * filter_tap(f, (k & s.cols_hi_mask) != 0, b);
}

// Analysis (spec 3.1 + 3.2): out[q * bands + k][y][x] = sum_{a,b} tap_k[a][b] *
// in_q[step y - pad + a][2x - pad + b], in_q = in + q * in_stride read as zero outside the image.
template <class T>
__global__ void analysis_kernel(
    const T* __restrict__ in, int64_t in_stride, LevelShape s, FilterTaps f, T* __restrict__ out) {
    const int64_t band_plane = s.h_out * s.w_out;
    WTCONV_GRID_STRIDE_LOOP(e, s.planes * s.bands * band_plane) {
        const int64_t x = e % s.w_out, y = e / s.w_out % s.h_out;
        const int64_t qk = e / band_plane;
        const int k = static_cast<int>(qk % s.bands);
        const T* src = in + qk / s.bands * in_stride;
        double acc = 0;
        for (int a = 0; a < s.rows_taps; ++a) {
            const int64_t row = s.rows_step * y - s.rows_pad + a;
            if (row < 0 || row >= s.h_in) {
                continue;
            }
            for (int b = 0; b < f.length; ++b) {
                const int64_t col = 2 * x - s.cols_pad + b;
                if (col >= 0 && col < s.w_in) {
                    acc += band_tap(f, s, k, a, b) * static_cast<double>(src[row * s.w_in + col]);
                }
            }
        }
        out[e] = static_cast<T>(acc);
    }
}

// Synthesis (spec 3.3, gather form), cropped to h_in x w_in: out_q[u][v] = sum_k sum_{y,x}
// in[q * bands + k][y][x] * tap_k[u + pad - step y][v + pad - 2x].
template <class T>
__global__ void synthesis_kernel(const T* __restrict__ in,
                                 LevelShape s,
                                 FilterTaps f,
                                 T* __restrict__ out) {
    const int64_t image = s.h_in * s.w_in, band_plane = s.h_out * s.w_out;
    WTCONV_GRID_STRIDE_LOOP(e, s.planes * image) {
        const int64_t v = e % s.w_in, u = e / s.w_in % s.h_in, q = e / image;
        double acc = 0;
        for (int k = 0; k < s.bands; ++k) {
            const T* band = in + (q * s.bands + k) * band_plane;
            for (int a = 0; a < s.rows_taps; ++a) {
                const int64_t ty = u + s.rows_pad - a;
                if (ty < 0 || ty % s.rows_step != 0 || ty / s.rows_step >= s.h_out) {
                    continue;
                }
                const int64_t y = ty / s.rows_step;
                for (int b = 0; b < f.length; ++b) {
                    const int64_t tx = v + s.cols_pad - b;
                    if (tx >= 0 && tx % 2 == 0 && tx / 2 < s.w_out) {
                        acc += static_cast<double>(band[y * s.w_out + tx / 2]) *
                               band_tap(f, s, k, a, b);
                    }
                }
            }
        }
        out[e] = static_cast<T>(acc);
    }
}

// planes of h x w; plane q belongs to channel q % channels and uses kernel q % channels.
struct ConvShape {
    int64_t planes, channels, h, w;
    int kh, kw;  // 2D: K x K; 1D: 1 x K
};

// Depthwise 'same' correlation (spec 3.4) or, with adjoint, its input gradient: the kernel rotated
// by 180 degrees with the padding mirrored (K//2 before, (K-1)//2 after).
template <class T>
__global__ void conv_kernel(const T* __restrict__ in,
                            const T* __restrict__ weight,
                            ConvShape s,
                            bool adjoint,
                            T* __restrict__ out) {
    const int lr = adjoint ? s.kh / 2 : (s.kh - 1) / 2, lc = adjoint ? s.kw / 2 : (s.kw - 1) / 2;
    const int64_t plane = s.h * s.w;
    WTCONV_GRID_STRIDE_LOOP(e, s.planes * plane) {
        const int64_t x = e % s.w, y = e / s.w % s.h, q = e / plane;
        const T* src = in + q * plane;
        const T* g = weight + q % s.channels * s.kh * s.kw;
        double acc = 0;
        for (int a = 0; a < s.kh; ++a) {
            const int64_t row = y - lr + a;
            if (row < 0 || row >= s.h) {
                continue;
            }
            for (int b = 0; b < s.kw; ++b) {
                const int64_t col = x - lc + b;
                if (col >= 0 && col < s.w) {
                    const T tap =
                        adjoint ? g[(s.kh - 1 - a) * s.kw + s.kw - 1 - b] : g[a * s.kw + b];
                    acc += static_cast<double>(tap) * static_cast<double>(src[row * s.w + col]);
                }
            }
        }
        out[e] = static_cast<T>(acc);
    }
}

constexpr int kReduceThreads = 256;

// Weight gradient of conv_kernel (spec 6.1), one block per (channel, tap), summed over the batch:
// dG_ch[a][b] = sum_{n,y,x} dout[n,ch][y][x] in[n,ch][y - lr + a][x - lc + b].
template <class T>
__global__ void conv_weight_grad_kernel(const T* __restrict__ in,
                                        const T* __restrict__ dout,
                                        ConvShape s,
                                        T* __restrict__ dweight) {
    __shared__ double scratch[32];
    const int64_t ch = blockIdx.x;
    const int tap = blockIdx.y, a = tap / s.kw, b = tap % s.kw;
    const int lr = (s.kh - 1) / 2, lc = (s.kw - 1) / 2;
    const int64_t plane = s.h * s.w, images = s.planes / s.channels;
    double acc = 0;
    for (int64_t e = threadIdx.x; e < images * plane; e += blockDim.x) {
        const int64_t x = e % s.w, y = e / s.w % s.h, n = e / plane;
        const int64_t row = y - lr + a, col = x - lc + b;
        if (row >= 0 && row < s.h && col >= 0 && col < s.w) {
            const int64_t base = (n * s.channels + ch) * plane;
            acc += static_cast<double>(dout[base + y * s.w + x]) *
                   static_cast<double>(in[base + row * s.w + col]);
        }
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) {
        dweight[ch * s.kh * s.kw + tap] = static_cast<T>(acc);
    }
}

// out[ch] = sum over the batch and the plane of a * b (b null: the sum of a), one block each.
template <class T>
__global__ void channel_dot_kernel(const T* __restrict__ a,
                                   const T* __restrict__ b,
                                   int64_t planes,
                                   int64_t channels,
                                   int64_t plane,
                                   T* __restrict__ out) {
    __shared__ double scratch[32];
    const int64_t ch = blockIdx.x, images = planes / channels;
    double acc = 0;
    for (int64_t e = threadIdx.x; e < images * plane; e += blockDim.x) {
        const int64_t i = (e / plane * channels + ch) * plane + e % plane;
        acc += static_cast<double>(a[i]) * (b != nullptr ? static_cast<double>(b[i]) : 1.0);
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) {
        out[ch] = static_cast<T>(acc);
    }
}

// out_q = factor[q % channels] * in_q + bias[q % channels]; a null factor is 1, a null bias 0.
template <class T>
__global__ void scale_kernel(const T* __restrict__ in,
                             const T* __restrict__ factor,
                             const T* __restrict__ bias,
                             int64_t planes,
                             int64_t channels,
                             int64_t plane,
                             T* __restrict__ out) {
    WTCONV_GRID_STRIDE_LOOP(e, planes * plane) {
        const int64_t ch = e / plane % channels;
        out[e] =
            (factor != nullptr ? factor[ch] * in[e] : in[e]) + (bias != nullptr ? bias[ch] : T(0));
    }
}

// dst_q[e] += src_q[e] for planes of m elements at plane strides src_stride and dst_stride.
template <class T>
__global__ void add_planes_kernel(const T* __restrict__ src,
                                  int64_t src_stride,
                                  T* __restrict__ dst,
                                  int64_t dst_stride,
                                  int64_t planes,
                                  int64_t m) {
    WTCONV_GRID_STRIDE_LOOP(e, planes * m) {
        dst[e / m * dst_stride + e % m] += src[e / m * src_stride + e % m];
    }
}

// 2D stride (spec 4) keeps full[q][i s][j s] as kept[q][i][j]. Gather: kept from full. Scatter
// (its adjoint): full from kept, the rest of full zeroed beforehand.
template <class T, bool kGather>
__global__ void subsample_kernel(
    const T* __restrict__ src, T* __restrict__ dst, int64_t planes, int64_t h, int64_t w, int s) {
    const int64_t ho = (h - 1) / s + 1, wo = (w - 1) / s + 1;
    WTCONV_GRID_STRIDE_LOOP(e, planes * ho * wo) {
        const int64_t j = e % wo, i = e / wo % ho, q = e / (ho * wo);
        const int64_t full = (q * h + i * s) * w + j * s;
        if (kGather) {
            dst[e] = src[full];
        } else {
            dst[full] = src[e];
        }
    }
}

// 1D stride (spec 8): y[q][j] = (1/s) sum_{r<s} full[q][s j + r]; the sum in T as the CPU does.
template <class T>
__global__ void average_kernel(
    const T* __restrict__ full, T* __restrict__ y, int64_t rows, int64_t len, int s) {
    const int64_t out_len = len / s;
    WTCONV_GRID_STRIDE_LOOP(e, rows * out_len) {
        const T* src = full + e / out_len * len + e % out_len * s;
        T sum = 0;
        for (int r = 0; r < s; ++r) {
            sum += src[r];
        }
        y[e] = sum / static_cast<T>(s);
    }
}

// Its adjoint: full[q][s j + r] = dy[q][j] / s, zero on the dropped tail.
template <class T>
__global__ void spread_kernel(
    const T* __restrict__ dy, T* __restrict__ full, int64_t rows, int64_t len, int s) {
    const int64_t out_len = len / s;
    WTCONV_GRID_STRIDE_LOOP(e, rows * len) {
        const int64_t t = e % len, j = t / s;
        full[e] = j < out_len ? dy[e / len * out_len + j] / static_cast<T>(s) : T(0);
    }
}

}  // namespace wtconv::cuda::direct
