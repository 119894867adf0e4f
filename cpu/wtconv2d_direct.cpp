// WTConv2d forward and backward on the CPU, direct algorithm (WTConvAlgo::kDirect): the reference
// module's stages (spec sections 3, 4, 6), one plain loop nest each over whole tensors, with every
// intermediate materialised. Written to be obviously correct, not fast; OpenMP over planes.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/direct_stages.h"
#include "cpu/float_types.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

using std::int64_t;

// The four 2D filters of one bank (spec 2), taps[(k * F + a) * F + b], a along H, b along W. Band k
// takes `hi` along H when k is 1 or 3 and along W when k is 2 or 3. Each tap is one product of the
// pywt doubles rounded once to T. Analysis reverses the 1D filters, synthesis does not.
template <class T>
std::vector<T> make_bank(const double* lo, const double* hi, int f, bool reverse) {
    std::vector<T> bank(4 * f * f);
    for (int k = 0; k < 4; ++k) {
        const double* rows = (k & 1) != 0 ? hi : lo;
        const double* cols = (k & 2) != 0 ? hi : lo;
        for (int a = 0; a < f; ++a) {
            for (int b = 0; b < f; ++b) {
                const int ta = reverse ? f - 1 - a : a, tb = reverse ? f - 1 - b : b;
                bank[(k * f + a) * f + b] = static_cast<T>(rows[ta] * cols[tb]);
            }
        }
    }
    return bank;
}

// N * channels planes of h x w, one after another; plane q belongs to channel q % channels.
struct Grid {
    int64_t channels, h, w;
    int64_t plane() const { return h * w; }
};

// What the forward keeps and the backward recomputes (spec 6.3).
template <class T>
struct Stages2d {
    std::vector<std::vector<T>> z;  // Z_i, (N, 4C, H_{i+1}, W_{i+1})
    std::vector<std::vector<T>> v;  // V_i = conv(Z_i), same shape, before the level's scale
    std::vector<T> b;               // B = conv(x) + bias, (N, C, H, W)
};

// One call's sizes and filters, and every stage as a method looping over whole tensors.
template <class T>
struct Direct2d {
    int threads, k, levels, s;
    int f, p;  // F, and F/2 - 1: the transforms' zero padding on every side (spec 3.2)
    int64_t n, c;
    std::vector<int64_t> h, w;  // H_i, W_i, i = 0..L: level i's bands are H_{i+1} x W_{i+1}
    std::vector<T> dec, rec;    // D_k (analysis), R_k (synthesis), F x F each
    const T* input;             // x, (N, C, H, W)

    Direct2d(Context& ctx, const Tensor& x, const WTConvParams& prm, const detail::WaveletTaps& wt)
        : threads(ctx.num_threads()),
          k(prm.kernel_size),
          levels(prm.levels),
          s(std::max(1, prm.stride)),
          f(wt.length),
          p(wt.length / 2 - 1),
          n(x.size(0)),
          c(x.size(1)),
          h{x.size(2)},
          w{x.size(3)},
          dec(make_bank<T>(wt.dec_lo, wt.dec_hi, wt.length, true)),
          rec(make_bank<T>(wt.rec_lo, wt.rec_hi, wt.length, false)),
          input(x.data<T>()) {
        for (int i = 0; i < levels; ++i) {
            h.push_back((h.back() + 1) / 2);  // H_{i+1} = ceil(H_i / 2)
            w.push_back((w.back() + 1) / 2);
        }
    }
    Grid image(int i) const { return {c, h[i], w[i]}; }              // A_i, R_i: (N, C, H_i, W_i)
    Grid bands(int i) const { return {4 * c, h[i + 1], w[i + 1]}; }  // Z_i, V_i, T_i, dT_i, ...
    size_t elems(const Grid& g) const { return static_cast<size_t>(n * g.channels * g.plane()); }

    // Analysis (spec 3.1 + 3.2) of level i, plane q = (n, c), in_q = in + q * in_stride, H_i x W_i:
    //   out[4q + k][i', j'] = sum_{a,b} bank_k[a, b] * in_q[2i' - p + a, 2j' - p + b]
    // in_q reads as zero outside: the pad-to-even and the p zeros. in_stride = 4 H_i W_i reads band
    // 0 of a band tensor. Forward: Z_i = DWT(A_i) with D; backward: dT_i = IDWT adjoint(dR_i), R.
    void analysis(const std::vector<T>& bank, const T* in, int64_t in_stride, int i, T* out) const {
        const Grid o = bands(i);
        const int64_t wi = w[i];
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * c; ++q) {
            const T* src = in + q * in_stride;
            for (int b4 = 0; b4 < 4; ++b4) {
                const T* fk = bank.data() + b4 * f * f;
                for (int64_t y = 0; y < o.h; ++y) {
                    // filter rows a with 0 <= 2y - p + a < H_i
                    const int64_t a_lo = std::max<int64_t>(0, p - 2 * y);
                    const int64_t a_hi = std::min<int64_t>(f, h[i] + p - 2 * y);
                    for (int64_t x = 0; x < o.w; ++x) {
                        const int64_t b_lo = std::max<int64_t>(0, p - 2 * x);
                        const int64_t b_hi = std::min<int64_t>(f, wi + p - 2 * x);
                        double acc =
                            0;  // every sum in double, rounded once to T: the accurate path
                        for (int64_t a = a_lo; a < a_hi; ++a) {
                            for (int64_t b = b_lo; b < b_hi; ++b) {
                                acc += static_cast<double>(fk[a * f + b]) *
                                       src[(2 * y - p + a) * wi + 2 * x - p + b];
                            }
                        }
                        out[((4 * q + b4) * o.h + y) * o.w + x] = static_cast<T>(acc);
                    }
                }
            }
        }
    }

    // Synthesis (spec 3.3, gather form) of level i, cropped to H_i x W_i, plane q = (n, c):
    //   out_q[u, v] = sum_k sum_{i',j'} in[4q + k][i', j'] * bank_k[u + p - 2i', v + p - 2j']
    // Forward: R_i = IDWT(T_i)[:H_i, :W_i] with R. Backward: dA_i = DWT adjoint(dZ_i)[:H_i, :W_i]
    // with D (dropping the padded row/column is the adjoint of pad-to-even).
    void synthesis(const std::vector<T>& bank, const T* in, int i, T* out) const {
        const Grid b = bands(i);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * c; ++q) {
            for (int64_t u = 0; u < h[i]; ++u) {
                // band rows y with 0 <= u + p - 2y < F: ceil((u + p - F + 1) / 2) .. (u + p) / 2
                const int64_t y_lo = std::max<int64_t>(0, (u + p - f + 2) / 2);
                const int64_t y_hi = std::min<int64_t>(b.h, (u + p) / 2 + 1);
                for (int64_t v = 0; v < w[i]; ++v) {
                    const int64_t x_lo = std::max<int64_t>(0, (v + p - f + 2) / 2);
                    const int64_t x_hi = std::min<int64_t>(b.w, (v + p) / 2 + 1);
                    double acc = 0;  // every sum in double, rounded once to T: the accurate path
                    for (int b4 = 0; b4 < 4; ++b4) {
                        const T* band = in + (4 * q + b4) * b.plane();
                        const T* fk = bank.data() + b4 * f * f;
                        for (int64_t y = y_lo; y < y_hi; ++y) {
                            for (int64_t x = x_lo; x < x_hi; ++x) {
                                acc += static_cast<double>(band[y * b.w + x]) *
                                       fk[(u + p - 2 * y) * f + v + p - 2 * x];
                            }
                        }
                    }
                    out[(q * h[i] + u) * w[i] + v] = static_cast<T>(acc);
                }
            }
        }
    }

    // Depthwise 'same' correlation (spec 3.4), plane q with kernel G = weight + (q % channels) K^2:
    //   out_q[y, x] = sum_{a,b} G[a, b] in_q[y - l + a, x - l + b],   l = (K-1)//2, K//2 after.
    // adjoint: its input gradient (spec 6.1), din_q[u, v] = sum_{a,b} G[a, b] dout_q[u+l-a, v+l-b],
    // which is the same sum over a' = K-1-a: G rotated by 180 degrees, K//2 before, (K-1)//2 after.
    void conv(const T* in, const T* weight, const Grid& g, bool adjoint, T* out) const {
        const int64_t l = adjoint ? k / 2 : (k - 1) / 2;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * g.channels; ++q) {
            const T* src = in + q * g.plane();
            const T* gq = weight + (q % g.channels) * k * k;
            for (int64_t y = 0; y < g.h; ++y) {
                const int64_t a_lo = std::max<int64_t>(0, l - y);  // 0 <= y - l + a < h
                const int64_t a_hi = std::min<int64_t>(k, g.h + l - y);
                for (int64_t x = 0; x < g.w; ++x) {
                    const int64_t b_lo = std::max<int64_t>(0, l - x);
                    const int64_t b_hi = std::min<int64_t>(k, g.w + l - x);
                    double acc = 0;  // every sum in double, rounded once to T: the accurate path
                    for (int64_t a = a_lo; a < a_hi; ++a) {
                        for (int64_t b = b_lo; b < b_hi; ++b) {
                            const T tap = adjoint ? gq[(k - 1 - a) * k + k - 1 - b] : gq[a * k + b];
                            acc += static_cast<double>(tap) * src[(y - l + a) * g.w + x - l + b];
                        }
                    }
                    out[q * g.plane() + y * g.w + x] = static_cast<T>(acc);
                }
            }
        }
    }

    PlaneBatch batch() const {
        return PlaneBatch{n, threads};
    }
    template <class Fn>
    void batch_reduce(int64_t channels, int64_t width, T* out, const Fn& plane_fn) const {
        cpu::batch_reduce(batch(), channels, width, out, plane_fn);
    }

    // Weight gradient of conv (spec 6.1), summed over the batch, stored as T once:
    //   dG_ch[a, b] = sum_n sum_{y,x} dout_{n,ch}[y, x] in_{n,ch}[y - l + a, x - l + b]
    void conv_weight_grad(const T* in, const T* dout, const Grid& g, T* dweight) const {
        const int64_t l = (k - 1) / 2;
        batch_reduce(g.channels, k * k, dweight, [&](int64_t q, double* d) {
            const T* src = in + q * g.plane();
            const T* dq = dout + q * g.plane();
            for (int64_t a = 0; a < k; ++a) {
                const int64_t y_lo = std::max<int64_t>(0, l - a), y_hi = std::min(g.h, g.h + l - a);
                for (int64_t b = 0; b < k; ++b) {
                    const int64_t x_lo = std::max<int64_t>(0, l - b);
                    const int64_t x_hi = std::min(g.w, g.w + l - b);
                    double acc = 0;
                    for (int64_t y = y_lo; y < y_hi; ++y) {
                        for (int64_t x = x_lo; x < x_hi; ++x) {
                            acc += static_cast<double>(dq[y * g.w + x]) *
                                   static_cast<double>(src[(y - l + a) * g.w + x - l + b]);
                        }
                    }
                    d[a * k + b] = acc;
                }
            }
        });
    }

    void channel_dot(const T* a, const T* b, const Grid& g, T* out) const {
        cpu::channel_dot(batch(), g.channels, g.plane(), a, b, out);
    }
    void scale(const T* in, const T* factor, const Grid& g, T* out) const {
        scale_planes(batch(), g.channels, g.plane(), in, factor, out);
    }
    void add(const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t m) const {
        add_planes(batch(), c, src, src_stride, dst, dst_stride, m);
    }

    // fn(full, kept) for every pixel the 2D stride keeps (spec 4: rows and columns 0, s, 2s, ...),
    // full indexing (N, C, H, W) and kept (N, C, ceil(H/s), ceil(W/s)).
    template <class Fn>
    void for_kept(const Fn& fn) const {
        const int64_t h_out = (h[0] - 1) / s + 1, w_out = (w[0] - 1) / s + 1;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * c; ++q) {
            for (int64_t i = 0; i < h_out; ++i) {
                for (int64_t j = 0; j < w_out; ++j) {
                    fn((q * h[0] + i * s) * w[0] + j * s, (q * h_out + i) * w_out + j);
                }
            }
        }
    }

    // The decomposition (fine to coarse: Z_i, V_i) and the base branch B of spec 4.
    Stages2d<T> decompose(const WTConvWeights& wts) const {
        Stages2d<T> st;
        for (int i = 0; i < levels; ++i) {
            st.z.emplace_back(elems(bands(i)));
            st.v.emplace_back(elems(bands(i)));
            // A_0 = x; A_i = Z_{i-1} band 0, the RAW LL (plane stride 4 H_i W_i)
            const T* a = i == 0 ? input : st.z[i - 1].data();
            analysis(dec, a, i == 0 ? image(0).plane() : 4 * image(i).plane(), i, st.z[i].data());
            conv(st.z[i].data(), wts.wavelet_weight[i].data<T>(), bands(i), /*adjoint=*/false,
                 st.v[i].data());
        }
        st.b.resize(elems(image(0)));
        conv(input, wts.base_weight.data<T>(), image(0), /*adjoint=*/false, st.b.data());
        if (wts.base_bias.defined()) {
            const T* bias = wts.base_bias.data<T>();
            T* bd = st.b.data();
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t e = 0; e < n * c * image(0).plane(); ++e) {
                bd[e] += bias[e / image(0).plane() % c];
            }
        }
        return st;
    }

    void forward(const WTConvWeights& wts, Tensor& y_t) const {
        T* y = y_t.data<T>();
        const Stages2d<T> st = decompose(wts);
        // Reconstruction, coarse to fine: T_i = S_i = scale_i * V_i, T_i band 0 += R_{i+1};
        // R_i = IDWT(T_i) cropped to H_i x W_i. r holds R_{i+1} on entry (R_L = 0), R_i after.
        std::vector<T> r(elems(image(levels)), T(0));
        for (int i = levels - 1; i >= 0; --i) {
            const Grid bg = bands(i);
            std::vector<T> t(elems(bg));  // (N, 4C, H_{i+1}, W_{i+1})
            scale(st.v[i].data(), wts.wavelet_scale[i].data<T>(), bg, t.data());
            add(r.data(), bg.plane(), t.data(), 4 * bg.plane(), bg.plane());
            r.resize(elems(image(i)));  // (N, C, H_i, W_i)
            synthesis(rec, t.data(), i, r.data());
        }
        // Yfull = base_scale * B + R_0, (N, C, H, W); y = Yfull[:, :, ::s, ::s]
        const int64_t plane = image(0).plane();
        std::vector<T> yfull(st.b.size());
        scale(st.b.data(), wts.base_scale.data<T>(), image(0), yfull.data());
        add(r.data(), plane, yfull.data(), plane, plane);  // R_0 = 0 when L = 0
        for_kept([&](int64_t full, int64_t kept) { y[kept] = yfull[full]; });
    }

    void backward(const Tensor& dy_t, const WTConvWeights& wts, WTConvGrads& grads) const {
        const T* dy = dy_t.data<T>();
        const Stages2d<T> st = decompose(wts);  // backward gets x only: recompute Z_i, V_i, B
        const Grid img = image(0);
        const int64_t plane = img.plane();
        // G = dYfull, (N, C, H, W): dy at rows and columns 0, s, 2s, ..., zero elsewhere.
        std::vector<T> gfull(elems(img), T(0));
        for_kept([&](int64_t full, int64_t kept) { gfull[full] = dy[kept]; });

        // Base branch (spec 6.2): d base_scale = sum G * B. Gb = base_scale * G is the gradient of
        // B = conv(x) + bias: d base_bias = sum Gb, then d base_weight and grad_x's first term.
        channel_dot(gfull.data(), st.b.data(), img, grads.dweights.base_scale.data<T>());
        std::vector<T> gb(gfull.size());
        scale(gfull.data(), wts.base_scale.data<T>(), img, gb.data());
        if (grads.dweights.base_bias.defined()) {
            channel_dot(gb.data(), nullptr, img, grads.dweights.base_bias.data<T>());
        }
        conv_weight_grad(input, gb.data(), img, grads.dweights.base_weight.data<T>());
        T* dx = grads.dx.data<T>();
        conv(gb.data(), wts.base_weight.data<T>(), img, /*adjoint=*/true, dx);

        // Pass 1, fine to coarse: dS_i = dT_i = IDWT adjoint(zero_extend(dR_i)), with dR_0 = G
        // and dR_{i+1} = dT_i band 0 (read in place, plane stride 4 H_{i+1} W_{i+1}).
        std::vector<std::vector<T>> dt;
        for (int i = 0; i < levels; ++i) {
            dt.emplace_back(elems(bands(i)));  // (N, 4C, H_{i+1}, W_{i+1})
            const T* dr = i == 0 ? gfull.data() : dt[i - 1].data();
            analysis(rec, dr, i == 0 ? plane : 4 * image(i).plane(), i, dt[i].data());
        }

        // Pass 2, coarse to fine, through the level filters and the decomposition. da holds
        // dA_{i+1} on entry (dA_L = 0) and dA_i after.
        std::vector<T> da(elems(image(levels)), T(0));
        for (int i = levels - 1; i >= 0; --i) {
            const Grid bg = bands(i);
            // d wavelet_scale_i = sum dS_i * V_i (V_i before the scale)
            channel_dot(dt[i].data(), st.v[i].data(), bg,
                        grads.dweights.wavelet_scale[i].data<T>());
            std::vector<T> dv(elems(bg));  // dV_i = scale_i * dS_i
            scale(dt[i].data(), wts.wavelet_scale[i].data<T>(), bg, dv.data());
            conv_weight_grad(st.z[i].data(), dv.data(), bg,
                             grads.dweights.wavelet_weight[i].data<T>());
            std::vector<T> dz(elems(bg));  // dZ_i = conv input-gradient of dV_i
            conv(dv.data(), wts.wavelet_weight[i].data<T>(), bg, /*adjoint=*/true, dz.data());
            // the raw LL also fed level i + 1: dZ_i band 0 += dA_{i+1}
            add(da.data(), bg.plane(), dz.data(), 4 * bg.plane(), bg.plane());
            da.resize(elems(image(i)));  // dA_i = DWT adjoint(dZ_i)[:H_i, :W_i], (N, C, H_i, W_i)
            synthesis(dec, dz.data(), i, da.data());
        }
        add(da.data(), plane, dx, plane, plane);  // grad_x += dA_0 (0 when L = 0)
    }
};

}  // namespace

void wtconv2d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const detail::WaveletTaps& wavelet,
                             Tensor& y) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        Direct2d<T>(ctx, x, p, wavelet).forward(w, y);
    });
}

void wtconv2d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const detail::WaveletTaps& wavelet,
                              WTConvGrads& grads) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        Direct2d<T>(ctx, x, p, wavelet).backward(dy, w, grads);
    });
}

}  // namespace wtconv::cpu
