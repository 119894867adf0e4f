#pragma once
// Depthwise convolution of one plane (one image channel) with one kernel, as three primitives
// over a zero-bordered copy of the input: forward, input gradient and weight gradient of
// PyTorch's cross-correlation with 'same' padding. 1D planes are planes of one row (kh = 1).
#include <algorithm>
#include <cstring>

#include <Eigen/Core>

namespace wtconv::cpu {

template <class T>
using RowMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstRowMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// A zero-bordered copy of an h x w plane: `top` rows above, `left` columns before each row.
template <class T>
struct PaddedPlane {
    const T* data;
    int stride;  // row length of the padded buffer
};

// Copies src (h x w, row stride w) into dst with the given zero margins; returns the view.
template <class T>
PaddedPlane<T> pad_plane(const T* src, int h, int w, int top, int bottom, int left, int right,
                         T* dst) {
    const int pw = w + left + right;
    const int ph = h + top + bottom;
    std::fill(dst, dst + static_cast<std::ptrdiff_t>(top) * pw, T(0));
    for (int y = 0; y < h; ++y) {
        T* row = dst + static_cast<std::ptrdiff_t>(top + y) * pw;
        std::fill(row, row + left, T(0));
        std::memcpy(row + left, src + static_cast<std::ptrdiff_t>(y) * w, sizeof(T) * w);
        std::fill(row + left + w, row + pw, T(0));
    }
    std::fill(dst + static_cast<std::ptrdiff_t>(top + h) * pw,
              dst + static_cast<std::ptrdiff_t>(ph) * pw, T(0));
    return PaddedPlane<T>{dst, pw};
}

// out[y][x] = sum_{a<kh, b<kw} g[a*kw + b] * in[y + a][x + b], for an h x w output.
// The inner loop runs along a row, so Eigen vectorises it; the output row stays in L1.
template <class T>
void correlate(PaddedPlane<T> in, int h, int w, const T* g, int kh, int kw, T* out) {
    for (int y = 0; y < h; ++y) {
        RowMap<T> acc(out + static_cast<std::ptrdiff_t>(y) * w, w);
        acc.setZero();
        for (int a = 0; a < kh; ++a) {
            const T* row = in.data + static_cast<std::ptrdiff_t>(y + a) * in.stride;
            for (int b = 0; b < kw; ++b) {
                acc += g[a * kw + b] * ConstRowMap<T>(row + b, w);
            }
        }
    }
}

// dg[a*kw + b] += sum_{y,x} dout[y][x] * in[y + a][x + b]: each row's dot product in T, rows
// summed in double, so float32 weight gradients keep double-like accuracy over large planes.
template <class T>
void correlate_weight_grad(PaddedPlane<T> in, const T* dout, int h, int w, int kh, int kw,
                           double* dg) {
    for (int a = 0; a < kh; ++a) {
        for (int b = 0; b < kw; ++b) {
            double sum = 0.0;
            for (int y = 0; y < h; ++y) {
                const ConstRowMap<T> d(dout + static_cast<std::ptrdiff_t>(y) * w, w);
                const ConstRowMap<T> v(in.data + static_cast<std::ptrdiff_t>(y + a) * in.stride + b,
                                       w);
                sum += static_cast<double>(d.matrix().dot(v.matrix()));
            }
            dg[a * kw + b] += sum;
        }
    }
}

// Scratch elements a 'same' convolution of an h x w plane needs for its padded copy.
inline std::size_t same_pad_elems(int h, int w, int kh, int kw) {
    return static_cast<std::size_t>(h + kh - 1) * static_cast<std::size_t>(w + kw - 1);
}

// 'same' forward: out = conv(in, g) with (K-1)//2 zeros before and K//2 after on each axis.
template <class T>
PaddedPlane<T> same_conv(const T* in, int h, int w, const T* g, int kh, int kw, T* pad, T* out) {
    const PaddedPlane<T> p = pad_plane(in, h, w, (kh - 1) / 2, kh / 2, (kw - 1) / 2, kw / 2, pad);
    correlate(p, h, w, g, kh, kw, out);
    return p;
}

// 'same' input gradient: din = correlation of dout with the flipped kernel; the margins swap.
// flipped: scratch of kh*kw elements.
template <class T>
void same_conv_input_grad(const T* dout, int h, int w, const T* g, int kh, int kw, T* flipped,
                          T* pad, T* din) {
    for (int i = 0; i < kh * kw; ++i) {
        flipped[i] = g[kh * kw - 1 - i];
    }
    const PaddedPlane<T> p =
        pad_plane(dout, h, w, kh / 2, (kh - 1) / 2, kw / 2, (kw - 1) / 2, pad);
    correlate(p, h, w, flipped, kh, kw, din);
}

}  // namespace wtconv::cpu
