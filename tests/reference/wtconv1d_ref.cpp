// WTConv1d reference (WTCONV.md section 8): the 2D structure on one axis with two sub-bands, and a
// stride that averages windows of s instead of subsampling. Direct loops, double precision.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "wtconv_ref.h"

namespace wtconv::ref {
namespace {

// The two length-F filters of one bank, indexed [k][t] (k = 0 low, 1 high).
struct Taps1d {
    int64_t f = 0;
    std::vector<double> taps;

    double at(int64_t k, int64_t t) const { return taps[static_cast<size_t>(k * f + t)]; }
};

Taps1d make_taps(const std::vector<double>& lo, const std::vector<double>& hi) {
    Taps1d t;
    t.f = static_cast<int64_t>(lo.size());
    assert(hi.size() == lo.size() && t.f % 2 == 0);
    t.taps = lo;
    t.taps.insert(t.taps.end(), hi.begin(), hi.end());
    return t;
}

// The analysis filters are pywt's dec filters reversed, because the DWT is a cross-correlation.
Taps1d analysis_taps(const FilterBank& fb) {
    return make_taps(std::vector<double>(fb.dec_lo.rbegin(), fb.dec_lo.rend()),
                     std::vector<double>(fb.dec_hi.rbegin(), fb.dec_hi.rend()));
}

Taps1d synthesis_taps(const FilterBank& fb) {
    return make_taps(fb.rec_lo, fb.rec_hi);
}

size_t offset(const Array& a, int64_t n, int64_t q, int64_t x) {
    return static_cast<size_t>((n * a.shape[1] + q) * a.shape[2] + x);
}

double& at(Array& a, int64_t n, int64_t q, int64_t x) {
    return a.data[offset(a, n, q, x)];
}

double at(const Array& a, int64_t n, int64_t q, int64_t x) {
    return a.data[offset(a, n, q, x)];
}

// Every formula of the spec reads its input as zero outside the stored range.
double read_or_zero(const Array& a, int64_t n, int64_t q, int64_t x) {
    if (x < 0 || x >= a.shape[2]) {
        return 0.0;
    }
    return at(a, n, q, x);
}

// Calls fn(n, q, x) for every index of a 3D shape, in row-major order.
template <typename Fn>
void for_each_index(const std::vector<int64_t>& shape, Fn fn) {
    for (int64_t n = 0; n < shape[0]; ++n) {
        for (int64_t q = 0; q < shape[1]; ++q) {
            for (int64_t x = 0; x < shape[2]; ++x) {
                fn(n, q, x);
            }
        }
    }
}

// Copies the leading overlap into a length-len array, zero elsewhere: this one step is the even
// padding, the crop, and the adjoints of both.
Array resize(const Array& a, int64_t len) {
    Array r({a.shape[0], a.shape[1], len});
    for_each_index(r.shape, [&](int64_t n, int64_t q, int64_t x) {
        at(r, n, q, x) = read_or_zero(a, n, q, x);
    });
    return r;
}

// Z[k,i] = sum_t D_k[t] P[2i-p+t], written to channel 2c+k; with the synthesis taps it is the
// adjoint of the IDWT.
Array analysis(const Array& p, const Taps1d& d) {
    assert(p.shape.size() == 3 && p.shape[2] % 2 == 0);
    const int64_t pad = d.f / 2 - 1;
    Array z({p.shape[0], 2 * p.shape[1], p.shape[2] / 2});
    for_each_index(z.shape, [&](int64_t n, int64_t ck, int64_t i) {
        const int64_t c = ck / 2;
        const int64_t k = ck % 2;
        double sum = 0.0;
        for (int64_t t = 0; t < d.f; ++t) {
            sum += d.at(k, t) * read_or_zero(p, n, c, 2 * i - pad + t);
        }
        at(z, n, ck, i) = sum;
    });
    return z;
}

// Y[u] = sum_k sum_i T[k,i] R_k[u+p-2i], visiting only the i whose tap index lies in [0, F); with
// the analysis taps it is the adjoint of the DWT.
Array synthesis(const Array& t, const Taps1d& r) {
    assert(t.shape.size() == 3 && t.shape[1] % 2 == 0);
    const int64_t pad = r.f / 2 - 1;
    const int64_t len2 = t.shape[2];
    Array y({t.shape[0], t.shape[1] / 2, 2 * len2});
    for_each_index(y.shape, [&](int64_t n, int64_t c, int64_t u) {
        double sum = 0.0;
        for (int64_t k = 0; k < 2; ++k) {
            for (int64_t a = 0; a < r.f; ++a) {
                const int64_t twice_i = u + pad - a;
                if (twice_i < 0 || twice_i % 2 != 0 || twice_i / 2 >= len2) {
                    continue;
                }
                sum += at(t, n, 2 * c + k, twice_i / 2) * r.at(k, a);
            }
        }
        at(y, n, c, u) = sum;
    });
    return y;
}

// 'same' depthwise conv: l = (K-1)//2 before, K//2 after, so even K pads the end more.
Array dwconv_same(const Array& in, const Array& g, int64_t k_size) {
    assert(g.numel() == in.shape[1] * k_size);
    const int64_t l = (k_size - 1) / 2;
    Array out(in.shape);
    for_each_index(out.shape, [&](int64_t n, int64_t q, int64_t x) {
        double sum = 0.0;
        for (int64_t a = 0; a < k_size; ++a) {
            sum += at(g, q, 0, a) * read_or_zero(in, n, q, x - l + a);
        }
        at(out, n, q, x) = sum;
    });
    return out;
}

// dI[u] = sum_a G[a] dO[u+l-a].
Array dwconv_input_grad(const Array& d_out, const Array& g, int64_t k_size) {
    const int64_t l = (k_size - 1) / 2;
    Array d_in(d_out.shape);
    for_each_index(d_in.shape, [&](int64_t n, int64_t q, int64_t u) {
        double sum = 0.0;
        for (int64_t a = 0; a < k_size; ++a) {
            sum += at(g, q, 0, a) * read_or_zero(d_out, n, q, u + l - a);
        }
        at(d_in, n, q, u) = sum;
    });
    return d_in;
}

// dG[a] = sum_n sum_x dO[n,x] I[n, x-l+a], shaped (Q,1,K).
Array dwconv_weight_grad(const Array& in, const Array& d_out, int64_t k_size) {
    const int64_t l = (k_size - 1) / 2;
    Array dg({in.shape[1], 1, k_size});
    for_each_index(dg.shape, [&](int64_t q, int64_t /*zero*/, int64_t a) {
        double sum = 0.0;
        for (int64_t n = 0; n < in.shape[0]; ++n) {
            for (int64_t x = 0; x < in.shape[2]; ++x) {
                sum += at(d_out, n, q, x) * read_or_zero(in, n, q, x - l + a);
            }
        }
        at(dg, q, 0, a) = sum;
    });
    return dg;
}

// O[n,q] = s[q] * I[n,q]; also the input gradient of that scale.
Array scale_channels(const Array& in, const Array& s) {
    Array out(in.shape);
    for_each_index(out.shape, [&](int64_t n, int64_t q, int64_t x) {
        at(out, n, q, x) = s.data[static_cast<size_t>(q)] * at(in, n, q, x);
    });
    return out;
}

// sum over batch and length of a[n,q,x] * b[n,q,x] per channel q (b empty: of a alone).
Array channel_sums(const Array& a, const Array& b) {
    Array s({a.shape[1]});
    for_each_index(a.shape, [&](int64_t n, int64_t q, int64_t x) {
        const double factor = b.empty() ? 1.0 : at(b, n, q, x);
        s.data[static_cast<size_t>(q)] += at(a, n, q, x) * factor;
    });
    return s;
}

// Channel 2c+k of z, as an (N,C,len) array.
Array band(const Array& z, int64_t k) {
    Array r({z.shape[0], z.shape[1] / 2, z.shape[2]});
    for_each_index(
        r.shape, [&](int64_t n, int64_t c, int64_t x) { at(r, n, c, x) = at(z, n, 2 * c + k, x); });
    return r;
}

void add_to_band(Array& z, int64_t k, const Array& r) {
    assert(r.shape[2] == z.shape[2]);
    for_each_index(r.shape, [&](int64_t n, int64_t c, int64_t x) {
        at(z, n, 2 * c + k, x) += at(r, n, c, x);
    });
}

void add_into(Array& dst, const Array& src) {
    assert(dst.data.size() == src.data.size());
    for (size_t i = 0; i < dst.data.size(); ++i) {
        dst.data[i] += src.data[i];
    }
}

// What backward needs from forward; it recomputes it from x rather than being handed it.
struct Forward1d {
    std::vector<int64_t> len;  // L_i for i = 0..levels
    std::vector<Array> z, v;   // raw DWT bands Z_i and their unscaled convolution V_i
    Array b;                   // base conv plus bias, before base_scale
    Array yfull;               // output before the stride
};

Forward1d run_forward(const Array& x, const Weights& wt, const Config& cfg, const FilterBank& fb) {
    assert(x.shape.size() == 3);
    const int64_t levels = cfg.levels > 0 ? cfg.levels : 0;
    assert(static_cast<int64_t>(wt.wavelet_weight.size()) >= levels);
    assert(static_cast<int64_t>(wt.wavelet_scale.size()) >= levels);
    const Taps1d ana = analysis_taps(fb);
    const Taps1d syn = synthesis_taps(fb);
    Forward1d f;
    f.len.push_back(x.shape[2]);
    std::vector<Array> s;
    Array a = x;
    for (int64_t i = 0; i < levels; ++i) {
        const int64_t even = f.len[i] + f.len[i] % 2;
        f.z.push_back(analysis(resize(a, even), ana));
        // The cascade continues on the raw low band, not the filtered one.
        a = band(f.z[i], 0);
        f.len.push_back(even / 2);
        f.v.push_back(dwconv_same(f.z[i], wt.wavelet_weight[i], cfg.kernel_size));
        s.push_back(scale_channels(f.v[i], wt.wavelet_scale[i]));
    }
    Array r;
    for (int64_t i = levels - 1; i >= 0; --i) {
        Array t = s[i];
        if (!r.empty()) {
            add_to_band(t, 0, r);
        }
        r = resize(synthesis(t, syn), f.len[i]);
    }
    f.b = dwconv_same(x, wt.base_weight, cfg.kernel_size);
    if (cfg.bias) {
        for_each_index(f.b.shape, [&](int64_t n, int64_t c, int64_t xx) {
            at(f.b, n, c, xx) += wt.base_bias.data[static_cast<size_t>(c)];
        });
    }
    f.yfull = scale_channels(f.b, wt.base_scale);
    if (!r.empty()) {
        add_into(f.yfull, r);
    }
    return f;
}

}  // namespace

Array dwt1d(const Array& p, const FilterBank& fb) {
    return analysis(p, analysis_taps(fb));
}

Array idwt1d(const Array& t, const FilterBank& fb) {
    return synthesis(t, synthesis_taps(fb));
}

Array wtconv1d_forward(const Array& x, const Weights& w, const Config& cfg, const FilterBank& fb) {
    const Forward1d f = run_forward(x, w, cfg, fb);
    if (cfg.stride <= 1) {
        return f.yfull;
    }
    // Stride is AvgPool1d(s, s): the mean of each full window of s, the short tail dropped.
    const int64_t s = cfg.stride;
    assert(f.len[0] >= s);
    Array y({x.shape[0], x.shape[1], f.len[0] / s});
    for_each_index(y.shape, [&](int64_t n, int64_t c, int64_t i) {
        double sum = 0.0;
        for (int64_t r = 0; r < s; ++r) {
            sum += at(f.yfull, n, c, s * i + r);
        }
        at(y, n, c, i) = sum / static_cast<double>(s);
    });
    return y;
}

Grads wtconv1d_backward(
    const Array& x, const Array& dy, const Weights& w, const Config& cfg, const FilterBank& fb) {
    const Forward1d f = run_forward(x, w, cfg, fb);
    const int64_t levels = static_cast<int64_t>(f.z.size());
    const int64_t k_size = cfg.kernel_size;
    const Taps1d ana = analysis_taps(fb);
    const Taps1d syn = synthesis_taps(fb);

    Array g(x.shape);
    const int64_t s = cfg.stride > 1 ? cfg.stride : 1;
    assert(dy.shape[2] == f.len[0] / s);
    for_each_index(dy.shape, [&](int64_t n, int64_t c, int64_t i) {
        for (int64_t r = 0; r < s; ++r) {
            at(g, n, c, s * i + r) = at(dy, n, c, i) / static_cast<double>(s);
        }
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

    // Pass 1, fine to coarse: through the reconstruction. The low band's gradient feeds the
    // coarser level.
    std::vector<Array> ds;
    Array dr = g;
    for (int64_t i = 0; i < levels; ++i) {
        ds.push_back(analysis(resize(dr, 2 * f.len[i + 1]), syn));
        dr = band(ds[i], 0);
    }

    // Pass 2, coarse to fine. The raw low band fed both its own level's conv and the next
    // decomposition, so both gradients meet in dZ_i.
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
        da = resize(synthesis(dz, ana), f.len[i]);
    }
    if (!da.empty()) {
        add_into(out.dx, da);
    }
    return out;
}

}  // namespace wtconv::ref
