// The conv2d reference: y[n,o,p,q] = b[o] + sum over c, i, j of W[o,c,i,j] x[n, g(o) Cg + c,
// p sh + i dh - ph, q sw + j dw - pw], zero outside the image; backward by the same loops.
#include "reference/conv2d_ref.h"

namespace wtconv::ref {

namespace {

struct Dims {
    int64_t n, c, h, w, o, cg, og, kh, kw, ho, wo;
};

Dims dims(const Array& x, const Array& weight, const Conv2dConfig& c) {
    Dims d{};
    d.n = x.shape[0];
    d.c = x.shape[1];
    d.h = x.shape[2];
    d.w = x.shape[3];
    d.o = weight.shape[0];
    d.cg = weight.shape[1];
    d.kh = weight.shape[2];
    d.kw = weight.shape[3];
    d.og = d.o / c.groups;
    d.ho = (d.h + 2 * c.pad_h - c.dilation_h * (d.kh - 1) - 1) / c.stride_h + 1;
    d.wo = (d.w + 2 * c.pad_w - c.dilation_w * (d.kw - 1) - 1) / c.stride_w + 1;
    return d;
}

// Calls f(y index, x index, weight index) for every product term whose x lies inside the image.
template <class F>
void for_each_term(const Dims& d, const Conv2dConfig& c, F&& f) {
    for (int64_t n = 0; n < d.n; ++n) {
        for (int64_t o = 0; o < d.o; ++o) {
            const int64_t group = o / d.og;
            for (int64_t p = 0; p < d.ho; ++p) {
                for (int64_t q = 0; q < d.wo; ++q) {
                    const int64_t yi = ((n * d.o + o) * d.ho + p) * d.wo + q;
                    for (int64_t ci = 0; ci < d.cg; ++ci) {
                        for (int64_t i = 0; i < d.kh; ++i) {
                            for (int64_t j = 0; j < d.kw; ++j) {
                                const int64_t row = p * c.stride_h + i * c.dilation_h - c.pad_h;
                                const int64_t col = q * c.stride_w + j * c.dilation_w - c.pad_w;
                                if (row < 0 || row >= d.h || col < 0 || col >= d.w) {
                                    continue;
                                }
                                const int64_t channel = group * d.cg + ci;
                                const int64_t xi = ((n * d.c + channel) * d.h + row) * d.w + col;
                                const int64_t wi = ((o * d.cg + ci) * d.kh + i) * d.kw + j;
                                f(yi, xi, wi);
                            }
                        }
                    }
                }
            }
        }
    }
}

}  // namespace

Array conv2d_forward(const Array& x,
                     const Array& weight,
                     const Array& bias,
                     const Conv2dConfig& c) {
    const Dims d = dims(x, weight, c);
    Array y({d.n, d.o, d.ho, d.wo});
    if (!bias.data.empty()) {
        for (int64_t e = 0; e < y.numel(); ++e) {
            y.data[e] = bias.data[(e / (d.ho * d.wo)) % d.o];
        }
    }
    for_each_term(d, c, [&](int64_t yi, int64_t xi, int64_t wi) {
        y.data[yi] += weight.data[wi] * x.data[xi];
    });
    return y;
}

Conv2dGrads conv2d_backward(const Array& dy,
                            const Array& x,
                            const Array& weight,
                            const Conv2dConfig& c) {
    const Dims d = dims(x, weight, c);
    Conv2dGrads g{Array(x.shape), Array(weight.shape), Array({d.o})};
    for (int64_t e = 0; e < dy.numel(); ++e) {
        g.dbias.data[(e / (d.ho * d.wo)) % d.o] += dy.data[e];
    }
    for_each_term(d, c, [&](int64_t yi, int64_t xi, int64_t wi) {
        g.dx.data[xi] += weight.data[wi] * dy.data[yi];
        g.dweight.data[wi] += x.data[xi] * dy.data[yi];
    });
    return g;
}

}  // namespace wtconv::ref
