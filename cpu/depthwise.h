#pragma once
// Depthwise convolution of one plane with one kernel, register-blocked: forward (and, with the
// flipped kernel, the input gradient) and the weight gradient of PyTorch's cross-correlation with
// 'same' padding. Planes live inside a zero border (BorderedShape), so no loop checks bounds.
// 1D planes are planes of one row (kh = 1).
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "cpu/packet.h"

namespace wtconv::cpu {

// An h x w plane inside a zero border: element (y, x) sits at buf[origin() + y * stride + x].
// The border serves a kh x kw 'same' correlation in both directions ((k-1)/2 before for the
// forward, k/2 for the input gradient: k/2 covers both), whole-packet reads up to one packet
// past round_up(w, lanes) (the blocked kernels load a packet and its successor, then shift), and
// the Haar transform's pad-to-even (one zero row and column after).
// Nothing writes the border, so it stays zero for every plane once the buffer was zeroed.
struct BorderedShape {
    int h = 0, w = 0, top = 0, left = 0, stride = 0, rows = 0;

    BorderedShape() = default;
    BorderedShape(int height, int width, int kh, int kw, int lanes)
        : h(height), w(width), top(kh / 2), left(kw / 2) {
        const int right = std::max(round_up(w, lanes) + std::max(kw / 2, lanes), w + 1);
        stride = round_up(left + right, lanes);  // every row starts at the same alignment
        rows = top + h + std::max(kh / 2, 1);
    }
    std::ptrdiff_t origin() const { return static_cast<std::ptrdiff_t>(top) * stride + left; }
    std::size_t elems() const { return static_cast<std::size_t>(rows) * stride; }
    // Where a correlation that pads `before` rows and columns reads for output (0, 0).
    std::ptrdiff_t corner(int before_rows, int before_cols) const {
        return origin() - static_cast<std::ptrdiff_t>(before_rows) * stride - before_cols;
    }
};

// Copies an h x w plane (row stride src_stride) into the interior of a bordered buffer.
template <class T>
void copy_into(const T* src, int src_stride, const BorderedShape& s, T* buf) {
    for (int y = 0; y < s.h; ++y) {
        std::memcpy(buf + s.origin() + static_cast<std::ptrdiff_t>(y) * s.stride,
                    src + static_cast<std::ptrdiff_t>(y) * src_stride, sizeof(T) * s.w);
    }
}

// One correlation: out[y][x] = add + init[y][x] + sum_{a<kh, b<kw} g[a*kw + b] * in[y + a][x + b]
// for y < h, x < w, where in[r][c] = in_data[r * in_stride + c] (a padded window: no checks).
template <class T>
struct Correlation {
    const T* in = nullptr;
    int in_stride = 0;
    int h = 0, w = 0;
    const T* g = nullptr;
    int kh = 0, kw = 0;
    const T* init =
        nullptr;  // nullptr for none; else rows hold round_up(w, lanes) readable elements
    int init_stride = 0;
    T add = T(0);
    T* out = nullptr;
    int out_stride = 0;
    bool out_whole_packets = false;  // the out rows may be written up to round_up(w, lanes)

    Correlation start(const T* init_rows, int stride, T constant = T(0)) const {
        Correlation c = *this;
        c.init = init_rows;
        c.init_stride = stride;
        c.add = constant;
        return c;
    }
    Correlation write(T* out_rows, int stride, bool whole_packets) const {
        Correlation c = *this;
        c.out = out_rows;
        c.out_stride = stride;
        c.out_whole_packets = whole_packets;
        return c;
    }
};

// The 'same' correlation of the h x w plane at `plane` (row stride `stride`, inside a zero
// border) with the kh x kw kernel g, padded by `before_rows` and `before_cols` ahead; chain
// start() and write() to complete it.
template <class T>
Correlation<T> same_correlation(const T* plane,
                                int stride,
                                int h,
                                int w,
                                const T* g,
                                int kh,
                                int kw,
                                int before_rows,
                                int before_cols) {
    Correlation<T> c;
    c.in = plane - static_cast<std::ptrdiff_t>(before_rows) * stride - before_cols;
    c.in_stride = stride;
    c.h = h;
    c.w = w;
    c.g = g;
    c.kh = kh;
    c.kw = kw;
    return c;
}

// Starts NB accumulators of output row y at packet column x0 (add, plus init when present).
template <int NB, class T>
EIGEN_ALWAYS_INLINE void start_packets(const Correlation<T>& c, int y, int x0, Packet<T>* acc) {
    constexpr int V = kLanes<T>;
    const T* init = c.init + static_cast<std::ptrdiff_t>(y) * c.init_stride + x0;
    for (int i = 0; i < NB; ++i) {
        acc[i] = c.init != nullptr ? Eigen::internal::padd(load(init + i * V), broadcast(c.add))
                                   : broadcast(c.add);
    }
}

template <int NB, class T>
EIGEN_ALWAYS_INLINE void store_packets(const Correlation<T>& c,
                                       int y,
                                       int x0,
                                       const Packet<T>* acc) {
    constexpr int V = kLanes<T>;
    T* out = c.out + static_cast<std::ptrdiff_t>(y) * c.out_stride + x0;
    for (int i = 0; i < NB; ++i) {
        store(out + i * V, acc[i], c.out_whole_packets ? V : std::min(V, c.w - x0 - i * V));
    }
}

// An R-row by NB-packet output tile of a K x K correlation, held in registers across every tap:
// R * NB independent FMA chains (8 hide the FMA latency of two pipes), and each input packet is
// loaded once for all the taps and output rows that use it (shifted() makes its K shifts).
template <int K, int R, int NB, class T>
EIGEN_ALWAYS_INLINE void correlate_tile(const Correlation<T>& c, int y, int x0) {
    constexpr int V = kLanes<T>;
    Packet<T> acc[R][NB];
    for (int j = 0; j < R; ++j) {
        start_packets<NB>(c, y + j, x0, acc[j]);
    }
    const T* in = c.in + static_cast<std::ptrdiff_t>(y) * c.in_stride + x0;
    static_for<K + R - 1>([&](auto r) __attribute__((always_inline)) {  // input row y + r
        const T* row = in + static_cast<std::ptrdiff_t>(r) * c.in_stride;
        Packet<T> v[NB + 1];
        for (int i = 0; i <= NB; ++i) {
            v[i] = load(row + i * V);
        }
        static_for<K>([&](auto b) __attribute__((always_inline)) {
            Packet<T> x[NB];
            for (int i = 0; i < NB; ++i) {
                x[i] = shifted<b>(row + i * V, v[i], v[i + 1]);
            }
            static_for<R>([&](auto j) __attribute__((always_inline)) {
                constexpr int a = r - j;  // the kernel row that input row y + r meets in y + j
                if constexpr (a >= 0 && a < K) {
                    const Packet<T> tap = broadcast(c.g[a * K + b]);
                    for (int i = 0; i < NB; ++i) {
                        acc[j][i] = fmadd(tap, x[i], acc[j][i]);
                    }
                }
            });
        });
    });
    for (int j = 0; j < R; ++j) {
        store_packets<NB>(c, y + j, x0, acc[j]);
    }
}

// Rows in tiles of kRows (the rest one by one), columns in pairs of packets (the rest single).
template <int K, class T>
void correlate_tiles(const Correlation<T>& c) {
    constexpr int V = kLanes<T>;
    constexpr int kRows = 4;  // 4 rows x 2 packets: the 8 chains, and 7x7 still fits 32 registers
    const int packets = round_up(c.w, V) / V;
    int y = 0;
    for (; y + kRows <= c.h; y += kRows) {
        int p = 0;
        for (; p + 2 <= packets; p += 2) {
            correlate_tile<K, kRows, 2>(c, y, p * V);
        }
        if (p < packets) {
            correlate_tile<K, kRows, 1>(c, y, p * V);
        }
    }
    for (; y < c.h; ++y) {
        int p = 0;
        for (; p + 2 <= packets; p += 2) {
            correlate_tile<K, 1, 2>(c, y, p * V);
        }
        if (p < packets) {
            correlate_tile<K, 1, 1>(c, y, p * V);
        }
    }
}

// Any kernel size, with runtime tap loops: one row by up to 4 packets a block.
template <class T>
void correlate_generic(const Correlation<T>& c) {
    constexpr int V = kLanes<T>;
    constexpr int kBlock = 4;  // packets a block: independent FMA chains per tap
    const int packets = round_up(c.w, V) / V;
    for (int y = 0; y < c.h; ++y) {
        for (int p = 0; p < packets; p += kBlock) {
            const int n = std::min(kBlock, packets - p);
            Packet<T> acc[kBlock];
            const T* init = c.init + static_cast<std::ptrdiff_t>(y) * c.init_stride + p * V;
            for (int i = 0; i < n; ++i) {
                acc[i] = c.init != nullptr
                             ? Eigen::internal::padd(load(init + i * V), broadcast(c.add))
                             : broadcast(c.add);
            }
            const T* in = c.in + static_cast<std::ptrdiff_t>(y) * c.in_stride + p * V;
            for (int a = 0; a < c.kh; ++a) {
                const T* row = in + static_cast<std::ptrdiff_t>(a) * c.in_stride;
                for (int b = 0; b < c.kw; ++b) {
                    const Packet<T> tap = broadcast(c.g[a * c.kw + b]);
                    for (int i = 0; i < n; ++i) {
                        acc[i] = fmadd(tap, load(row + b + i * V), acc[i]);
                    }
                }
            }
            T* out = c.out + static_cast<std::ptrdiff_t>(y) * c.out_stride + p * V;
            for (int i = 0; i < n; ++i) {
                store(out + i * V, acc[i],
                      c.out_whole_packets ? V : std::min(V, c.w - (p + i) * V));
            }
        }
    }
}

// Compile-time kernels for the common odd sizes; every other size takes the generic loops.
template <class T>
void correlate(const Correlation<T>& c) {
    if (c.kh == c.kw && c.kh == 3) {
        correlate_tiles<3>(c);
    } else if (c.kh == c.kw && c.kh == 5) {
        correlate_tiles<5>(c);
    } else if (c.kh == c.kw && c.kh == 7) {
        correlate_tiles<7>(c);
    } else {
        correlate_generic(c);
    }
}

// Kernel rows a0 .. a0+A-1 of a K x K weight gradient (see weight_grad below): A * K
// accumulator chains share each dout load, and each input packet gives its K shifts. Each row's
// products are summed per lane in T, then added to double accumulators.
template <int K, int A, class T>
void weight_grad_rows(
    const T* in, int in_stride, const T* dout, int dout_stride, int h, int w, int a0, double* dg) {
    using W = Widened<T>;
    constexpr int V = kLanes<T>;
    typename W::Acc total[A][K];
    for (int a = 0; a < A; ++a) {
        for (int b = 0; b < K; ++b) {
            total[a][b] = W::zero();
        }
    }
    for (int y = 0; y < h; ++y) {
        const T* d = dout + static_cast<std::ptrdiff_t>(y) * dout_stride;
        const T* rows = in + static_cast<std::ptrdiff_t>(y + a0) * in_stride;
        Packet<T> acc[A][K];
        for (int a = 0; a < A; ++a) {
            for (int b = 0; b < K; ++b) {
                acc[a][b] = broadcast(T(0));
            }
        }
        for (int x0 = 0; x0 < w; x0 += V) {
            const Packet<T> dv = load(d + x0);
            static_for<A>([&](auto a) __attribute__((always_inline)) {
                const T* row = rows + static_cast<std::ptrdiff_t>(a) * in_stride + x0;
                const Packet<T> lo = load(row);
                const Packet<T> hi = load(row + V);
                static_for<K>([&](auto b) __attribute__((always_inline)) {
                    acc[a][b] = fmadd(dv, shifted<b>(row, lo, hi), acc[a][b]);
                });
            });
        }
        for (int a = 0; a < A; ++a) {
            for (int b = 0; b < K; ++b) {
                total[a][b] = W::add(acc[a][b], total[a][b]);
            }
        }
    }
    for (int a = 0; a < A; ++a) {
        for (int b = 0; b < K; ++b) {
            dg[(a0 + a) * K + b] = W::sum(total[a][b]);
        }
    }
}

// Kernel rows in groups of A (the rest one at a time): A * K chains, about 8 or more, each with a
// float and a double accumulator, within AVX-512's 32 registers.
template <int K, int A, class T>
void weight_grad_square(
    const T* in, int in_stride, const T* dout, int dout_stride, int h, int w, double* dg) {
    int a = 0;
    for (; a + A <= K; a += A) {
        weight_grad_rows<K, A>(in, in_stride, dout, dout_stride, h, w, a, dg);
    }
    for (; a < K; ++a) {
        weight_grad_rows<K, 1>(in, in_stride, dout, dout_stride, h, w, a, dg);
    }
}

// Any kernel size: one tap at a time, plain unaligned loads.
template <class T>
void weight_grad_generic(const T* in,
                         int in_stride,
                         const T* dout,
                         int dout_stride,
                         int h,
                         int w,
                         int kh,
                         int kw,
                         double* dg) {
    using W = Widened<T>;
    constexpr int V = kLanes<T>;
    for (int a = 0; a < kh; ++a) {
        for (int b = 0; b < kw; ++b) {
            typename W::Acc total = W::zero();
            for (int y = 0; y < h; ++y) {
                const T* d = dout + static_cast<std::ptrdiff_t>(y) * dout_stride;
                const T* row = in + static_cast<std::ptrdiff_t>(y + a) * in_stride + b;
                Packet<T> acc = broadcast(T(0));
                for (int x0 = 0; x0 < w; x0 += V) {
                    acc = fmadd(load(d + x0), load(row + x0), acc);
                }
                total = W::add(acc, total);
            }
            dg[a * kw + b] = W::sum(total);
        }
    }
}

// dg[a*kw + b] = sum_{y<h, x<w} dout[y][x] * in[y + a][x + b] (in as in Correlation). dout is
// read in whole packets up to round_up(w, lanes) and must be zero past w (a bordered interior).
template <class T>
void weight_grad(const T* in,
                 int in_stride,
                 const T* dout,
                 int dout_stride,
                 int h,
                 int w,
                 int kh,
                 int kw,
                 double* dg) {
    if (kh == kw && kh == 3) {
        weight_grad_square<3, 3>(in, in_stride, dout, dout_stride, h, w, dg);  // 9 chains
    } else if (kh == kw && kh == 5) {
        weight_grad_square<5, 2>(in, in_stride, dout, dout_stride, h, w, dg);  // 10 chains
    } else if (kh == kw && kh == 7) {
        weight_grad_square<7, 1>(in, in_stride, dout, dout_stride, h, w, dg);  // 14 would spill
    } else {
        weight_grad_generic(in, in_stride, dout, dout_stride, h, w, kh, kw, dg);
    }
}

// The kernel taps times a scale (folding a per-channel scale into the conv), flipped for the
// input gradient, which correlates with the flipped kernel (spec 6.1). out: n elements.
template <class T>
const T* scaled_taps(const T* kernel, int n, T scale, bool flip, T* out) {
    for (int t = 0; t < n; ++t) {
        out[t] = scale * kernel[flip ? n - 1 - t : t];
    }
    return out;
}

// dg holds C = corr(input, dO) of a conv whose output was scaled by `scale`: turns it into the
// weight gradient scale * C and returns the scale gradient <kernel, C> (without any bias term).
template <class T>
double scale_grad_from_corr(const T* kernel, int n, T scale, double* dg) {
    double sum = 0.0;
    for (int t = 0; t < n; ++t) {
        sum += static_cast<double>(kernel[t]) * dg[t];
        dg[t] *= static_cast<double>(scale);
    }
    return sum;
}

}  // namespace wtconv::cpu
