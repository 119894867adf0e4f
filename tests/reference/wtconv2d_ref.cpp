// WTConv2d reference: forward (WTCONV.md section 4) and backward (section 6) in double precision,
// each step a direct loop over the spec's index formula, with no separable or fused shortcuts.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wtconv_ref.h"

namespace wtconv::ref {
namespace {

// The four F x F filters of one bank, indexed [k][a][b] (a along H, b along W).
struct Taps2d {
    int64_t f = 0;
    std::vector<double> taps;

    double at(int64_t k, int64_t a, int64_t b) const {
        return taps[static_cast<size_t>((k * f + a) * f + b)];
    }
};

// Band k takes the high-pass factor along H when k is 1 or 3 and along W when k is 2 or 3. Each
// tap is one double product of the two 1D doubles, as the golden data was built.
Taps2d outer_products(const std::vector<double>& lo, const std::vector<double>& hi) {
    Taps2d t;
    t.f = static_cast<int64_t>(lo.size());
    assert(hi.size() == lo.size() && t.f % 2 == 0);
    t.taps.resize(static_cast<size_t>(4 * t.f * t.f));
    for (int64_t k = 0; k < 4; ++k) {
        const std::vector<double>& rows = (k == 1 || k == 3) ? hi : lo;
        const std::vector<double>& cols = (k == 2 || k == 3) ? hi : lo;
        for (int64_t a = 0; a < t.f; ++a) {
            for (int64_t b = 0; b < t.f; ++b) {
                t.taps[static_cast<size_t>((k * t.f + a) * t.f + b)] =
                    rows[static_cast<size_t>(a)] * cols[static_cast<size_t>(b)];
            }
        }
    }
    return t;
}

// The analysis filters are pywt's dec filters reversed, because the DWT is a cross-correlation.
Taps2d analysis_taps(const FilterBank& fb) {
    std::vector<double> lo(fb.dec_lo.rbegin(), fb.dec_lo.rend());
    std::vector<double> hi(fb.dec_hi.rbegin(), fb.dec_hi.rend());
    return outer_products(lo, hi);
}

Taps2d synthesis_taps(const FilterBank& fb) {
    return outer_products(fb.rec_lo, fb.rec_hi);
}

size_t offset(const Array& a, int64_t n, int64_t q, int64_t y, int64_t x) {
    return static_cast<size_t>(((n * a.shape[1] + q) * a.shape[2] + y) * a.shape[3] + x);
}

double& at(Array& a, int64_t n, int64_t q, int64_t y, int64_t x) {
    return a.data[offset(a, n, q, y, x)];
}

double at(const Array& a, int64_t n, int64_t q, int64_t y, int64_t x) {
    return a.data[offset(a, n, q, y, x)];
}

// Every formula of the spec reads its input as zero outside the stored range.
double read_or_zero(const Array& a, int64_t n, int64_t q, int64_t y, int64_t x) {
    if (y < 0 || y >= a.shape[2] || x < 0 || x >= a.shape[3]) {
        return 0.0;
    }
    return at(a, n, q, y, x);
}

// Calls fn(n, q, y, x) for every index of a 4D shape, in row-major order.
template <typename Fn>
void for_each_index(const std::vector<int64_t>& shape, Fn fn) {
    for (int64_t n = 0; n < shape[0]; ++n) {
        for (int64_t q = 0; q < shape[1]; ++q) {
            for (int64_t y = 0; y < shape[2]; ++y) {
                for (int64_t x = 0; x < shape[3]; ++x) {
                    fn(n, q, y, x);
                }
            }
        }
    }
}

// Copies the top-left overlap into an h x w array, zero elsewhere: this one step is the even
// padding, the crop, and the adjoints of both.
Array resize(const Array& a, int64_t h, int64_t w) {
    Array r({a.shape[0], a.shape[1], h, w});
    for_each_index(r.shape, [&](int64_t n, int64_t q, int64_t y, int64_t x) {
        at(r, n, q, y, x) = read_or_zero(a, n, q, y, x);
    });
    return r;
}

// Z[k,i,j] = sum_{a,b} D_k[a,b] P[2i-p+a, 2j-p+b] (3.2), written to channel 4c+k; with the
// synthesis taps it is the adjoint of the IDWT.
Array analysis(const Array& p, const Taps2d& d) {
    assert(p.shape.size() == 4 && p.shape[2] % 2 == 0 && p.shape[3] % 2 == 0);
    const int64_t pad = d.f / 2 - 1;
    Array z({p.shape[0], 4 * p.shape[1], p.shape[2] / 2, p.shape[3] / 2});
    for_each_index(z.shape, [&](int64_t n, int64_t ck, int64_t i, int64_t j) {
        const int64_t c = ck / 4;
        const int64_t k = ck % 4;
        double sum = 0.0;
        for (int64_t a = 0; a < d.f; ++a) {
            for (int64_t b = 0; b < d.f; ++b) {
                sum += d.at(k, a, b) * read_or_zero(p, n, c, 2 * i - pad + a, 2 * j - pad + b);
            }
        }
        at(z, n, ck, i, j) = sum;
    });
    return z;
}

// Y[u,v] = sum_k sum_{i,j} T[k,i,j] R_k[u+p-2i, v+p-2j] (3.3), visiting only the (i, j) whose
// tap index lies in [0, F); with the analysis taps it is the adjoint of the DWT.
Array synthesis(const Array& t, const Taps2d& r) {
    assert(t.shape.size() == 4 && t.shape[1] % 4 == 0);
    const int64_t pad = r.f / 2 - 1;
    const int64_t h2 = t.shape[2];
    const int64_t w2 = t.shape[3];
    Array y({t.shape[0], t.shape[1] / 4, 2 * h2, 2 * w2});
    for_each_index(y.shape, [&](int64_t n, int64_t c, int64_t u, int64_t v) {
        double sum = 0.0;
        for (int64_t k = 0; k < 4; ++k) {
            for (int64_t a = 0; a < r.f; ++a) {
                const int64_t twice_i = u + pad - a;
                if (twice_i < 0 || twice_i % 2 != 0 || twice_i / 2 >= h2) {
                    continue;
                }
                for (int64_t b = 0; b < r.f; ++b) {
                    const int64_t twice_j = v + pad - b;
                    if (twice_j < 0 || twice_j % 2 != 0 || twice_j / 2 >= w2) {
                        continue;
                    }
                    sum += at(t, n, 4 * c + k, twice_i / 2, twice_j / 2) * r.at(k, a, b);
                }
            }
        }
        at(y, n, c, u, v) = sum;
    });
    return y;
}

// 'same' depthwise conv (3.4): l = (K-1)//2 before, K//2 after, so even K pads bottom/right more.
Array dwconv_same(const Array& in, const Array& g, int64_t k_size) {
    assert(g.numel() == in.shape[1] * k_size * k_size);
    const int64_t l = (k_size - 1) / 2;
    Array out(in.shape);
    for_each_index(out.shape, [&](int64_t n, int64_t q, int64_t y, int64_t x) {
        double sum = 0.0;
        for (int64_t a = 0; a < k_size; ++a) {
            for (int64_t b = 0; b < k_size; ++b) {
                sum += at(g, q, 0, a, b) * read_or_zero(in, n, q, y - l + a, x - l + b);
            }
        }
        at(out, n, q, y, x) = sum;
    });
    return out;
}

// dI[u,v] = sum_{a,b} G[a,b] dO[u+l-a, v+l-b] (6.1).
Array dwconv_input_grad(const Array& d_out, const Array& g, int64_t k_size) {
    const int64_t l = (k_size - 1) / 2;
    Array d_in(d_out.shape);
    for_each_index(d_in.shape, [&](int64_t n, int64_t q, int64_t u, int64_t v) {
        double sum = 0.0;
        for (int64_t a = 0; a < k_size; ++a) {
            for (int64_t b = 0; b < k_size; ++b) {
                sum += at(g, q, 0, a, b) * read_or_zero(d_out, n, q, u + l - a, v + l - b);
            }
        }
        at(d_in, n, q, u, v) = sum;
    });
    return d_in;
}

// dG[a,b] = sum_n sum_{y,x} dO[n,y,x] I[n, y-l+a, x-l+b] (6.1), shaped (Q,1,K,K).
Array dwconv_weight_grad(const Array& in, const Array& d_out, int64_t k_size) {
    const int64_t l = (k_size - 1) / 2;
    Array dg({in.shape[1], 1, k_size, k_size});
    for_each_index(dg.shape, [&](int64_t q, int64_t /*zero*/, int64_t a, int64_t b) {
        double sum = 0.0;
        for (int64_t n = 0; n < in.shape[0]; ++n) {
            for (int64_t y = 0; y < in.shape[2]; ++y) {
                for (int64_t x = 0; x < in.shape[3]; ++x) {
                    sum += at(d_out, n, q, y, x) * read_or_zero(in, n, q, y - l + a, x - l + b);
                }
            }
        }
        at(dg, q, 0, a, b) = sum;
    });
    return dg;
}

// O[n,q] = s[q] * I[n,q]; also the input gradient of that scale.
Array scale_channels(const Array& in, const Array& s) {
    Array out(in.shape);
    for_each_index(out.shape, [&](int64_t n, int64_t q, int64_t y, int64_t x) {
        at(out, n, q, y, x) = s.data[static_cast<size_t>(q)] * at(in, n, q, y, x);
    });
    return out;
}

// sum over batch and space of a[n,q,y,x] * b[n,q,y,x] per channel q (b empty: of a alone).
Array channel_sums(const Array& a, const Array& b) {
    Array s({a.shape[1]});
    for_each_index(a.shape, [&](int64_t n, int64_t q, int64_t y, int64_t x) {
        const double factor = b.empty() ? 1.0 : at(b, n, q, y, x);
        s.data[static_cast<size_t>(q)] += at(a, n, q, y, x) * factor;
    });
    return s;
}

// Channel 4c+k of z, as an (N,C,h,w) array.
Array band(const Array& z, int64_t k) {
    Array r({z.shape[0], z.shape[1] / 4, z.shape[2], z.shape[3]});
    for_each_index(r.shape, [&](int64_t n, int64_t c, int64_t y, int64_t x) {
        at(r, n, c, y, x) = at(z, n, 4 * c + k, y, x);
    });
    return r;
}

void add_to_band(Array& z, int64_t k, const Array& r) {
    assert(r.shape[2] == z.shape[2] && r.shape[3] == z.shape[3]);
    for_each_index(r.shape, [&](int64_t n, int64_t c, int64_t y, int64_t x) {
        at(z, n, 4 * c + k, y, x) += at(r, n, c, y, x);
    });
}

void add_into(Array& dst, const Array& src) {
    assert(dst.data.size() == src.data.size());
    for (size_t i = 0; i < dst.data.size(); ++i) {
        dst.data[i] += src.data[i];
    }
}

// What backward needs from forward; it recomputes it from x rather than being handed it.
struct Forward2d {
    std::vector<int64_t> h, w;  // H_i, W_i for i = 0..L
    std::vector<Array> z, v;    // raw DWT bands Z_i and their unscaled convolution V_i
    Array b;                    // base conv plus bias, before base_scale
    Array yfull;                // output before the stride
};

Forward2d run_forward(const Array& x, const Weights& wt, const Config& cfg, const FilterBank& fb) {
    assert(x.shape.size() == 4);
    const int64_t levels = cfg.levels > 0 ? cfg.levels : 0;
    assert(static_cast<int64_t>(wt.wavelet_weight.size()) >= levels);
    assert(static_cast<int64_t>(wt.wavelet_scale.size()) >= levels);
    const Taps2d ana = analysis_taps(fb);
    const Taps2d syn = synthesis_taps(fb);
    Forward2d f;
    f.h.push_back(x.shape[2]);
    f.w.push_back(x.shape[3]);
    std::vector<Array> s;
    Array a = x;
    for (int64_t i = 0; i < levels; ++i) {
        const int64_t he = f.h[i] + f.h[i] % 2;
        const int64_t we = f.w[i] + f.w[i] % 2;
        f.z.push_back(analysis(resize(a, he, we), ana));
        // The cascade continues on the raw LL band, not the filtered one.
        a = band(f.z[i], 0);
        f.h.push_back(he / 2);
        f.w.push_back(we / 2);
        f.v.push_back(dwconv_same(f.z[i], wt.wavelet_weight[i], cfg.kernel_size));
        s.push_back(scale_channels(f.v[i], wt.wavelet_scale[i]));
    }
    Array r;
    for (int64_t i = levels - 1; i >= 0; --i) {
        Array t = s[i];
        if (!r.empty()) {
            add_to_band(t, 0, r);
        }
        r = resize(synthesis(t, syn), f.h[i], f.w[i]);
    }
    f.b = dwconv_same(x, wt.base_weight, cfg.kernel_size);
    if (cfg.bias) {
        for_each_index(f.b.shape, [&](int64_t n, int64_t c, int64_t y, int64_t xx) {
            at(f.b, n, c, y, xx) += wt.base_bias.data[static_cast<size_t>(c)];
        });
    }
    f.yfull = scale_channels(f.b, wt.base_scale);
    if (!r.empty()) {
        add_into(f.yfull, r);
    }
    return f;
}

}  // namespace

Array dwt2d(const Array& p, const FilterBank& fb) {
    return analysis(p, analysis_taps(fb));
}

Array idwt2d(const Array& t, const FilterBank& fb) {
    return synthesis(t, synthesis_taps(fb));
}

Array wtconv2d_forward(const Array& x, const Weights& w, const Config& cfg, const FilterBank& fb) {
    const Forward2d f = run_forward(x, w, cfg, fb);
    if (cfg.stride <= 1) {
        return f.yfull;
    }
    // Stride is AvgPool2d with a one-pixel window: plain subsampling, ceil(H/s) outputs.
    const int64_t s = cfg.stride;
    Array y({x.shape[0], x.shape[1], (f.h[0] - 1) / s + 1, (f.w[0] - 1) / s + 1});
    for_each_index(y.shape, [&](int64_t n, int64_t c, int64_t i, int64_t j) {
        at(y, n, c, i, j) = at(f.yfull, n, c, s * i, s * j);
    });
    return y;
}

Grads wtconv2d_backward(
    const Array& x, const Array& dy, const Weights& w, const Config& cfg, const FilterBank& fb) {
    const Forward2d f = run_forward(x, w, cfg, fb);
    const int64_t levels = static_cast<int64_t>(f.z.size());
    const int64_t k_size = cfg.kernel_size;
    const Taps2d ana = analysis_taps(fb);
    const Taps2d syn = synthesis_taps(fb);

    Array g(x.shape);
    const int64_t s = cfg.stride > 1 ? cfg.stride : 1;
    assert(dy.shape[2] == (f.h[0] - 1) / s + 1 && dy.shape[3] == (f.w[0] - 1) / s + 1);
    for_each_index(dy.shape, [&](int64_t n, int64_t c, int64_t i, int64_t j) {
        at(g, n, c, s * i, s * j) = at(dy, n, c, i, j);
    });

    Grads out;
    Weights& d = out.dweights;
    // B includes the bias, and the bias sits inside base_scale.
    d.base_scale = channel_sums(g, f.b);
    if (cfg.bias) {
        d.base_bias = channel_sums(g, Array());
        for (int64_t c = 0; c < x.shape[1]; ++c) {
            d.base_bias.data[static_cast<size_t>(c)] *= w.base_scale.data[static_cast<size_t>(c)];
        }
    }
    const Array gb = scale_channels(g, w.base_scale);
    d.base_weight = dwconv_weight_grad(x, gb, k_size);
    out.dx = dwconv_input_grad(gb, w.base_weight, k_size);

    // Pass 1, fine to coarse: through the reconstruction. The LL gradient feeds the coarser level.
    std::vector<Array> ds;
    Array dr = g;
    for (int64_t i = 0; i < levels; ++i) {
        ds.push_back(analysis(resize(dr, 2 * f.h[i + 1], 2 * f.w[i + 1]), syn));
        dr = band(ds[i], 0);
    }

    // Pass 2, coarse to fine: through the level filters and the decomposition. The raw LL band fed
    // both its own level's conv and the next decomposition, so both gradients meet in dZ_i.
    d.wavelet_weight.resize(static_cast<size_t>(levels));
    d.wavelet_scale.resize(static_cast<size_t>(levels));
    Array da;
    for (int64_t i = levels - 1; i >= 0; --i) {
        d.wavelet_scale[i] = channel_sums(ds[i], f.v[i]);
        const Array dv = scale_channels(ds[i], w.wavelet_scale[i]);
        d.wavelet_weight[i] = dwconv_weight_grad(f.z[i], dv, k_size);
        Array dz = dwconv_input_grad(dv, w.wavelet_weight[i], k_size);
        if (!da.empty()) {
            add_to_band(dz, 0, da);
        }
        da = resize(synthesis(dz, ana), f.h[i], f.w[i]);
    }
    if (!da.empty()) {
        add_into(out.dx, da);
    }
    return out;
}

}  // namespace wtconv::ref
