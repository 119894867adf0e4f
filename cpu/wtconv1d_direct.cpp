// WTConv1d forward and backward on the CPU, direct algorithm (WTConvAlgo::kDirect): the stages of
// the reference module (spec section 8 on sections 3, 4, 6), one plain loop nest each over whole
// tensors, every intermediate materialised; the 1D twin of cpu/wtconv2d_direct.cpp.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/direct_stages.h"
#include "cpu/float_types.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

using std::int64_t;

// The two 1D filters of one bank (spec 8), taps[k * F + t]: band 0 from lo, band 1 from hi, each
// pywt double rounded once to T. Analysis reverses the filters, synthesis does not.
template <class T>
std::vector<T> make_bank(const double* lo, const double* hi, int f, bool reverse) {
    std::vector<T> bank(2 * f);
    for (int t = 0; t < f; ++t) {
        const int from = reverse ? f - 1 - t : t;
        bank[t] = static_cast<T>(lo[from]);
        bank[f + t] = static_cast<T>(hi[from]);
    }
    return bank;
}

// N * channels rows of len samples, one after another; row q belongs to channel q % channels.
struct Rows {
    int64_t channels, len;
};

// What the forward keeps and the backward recomputes (spec 6.3).
template <class T>
struct Stages1d {
    std::vector<std::vector<T>> z;  // Z_i, (N, 2C, L_{i+1})
    std::vector<std::vector<T>> v;  // V_i = conv(Z_i), same shape, before the level's scale
    std::vector<T> b;               // B = conv(x) + bias, (N, C, L)
};

// One call's sizes and filters, and every stage as a method looping over whole tensors.
template <class T>
struct Direct1d {
    int threads, k, levels, s;
    int f, p;  // F, and F/2 - 1: the transforms' zero padding at both ends (spec 3.2)
    int64_t n, c;
    std::vector<int64_t> len;  // L_i, i = 0..L: level i's bands have L_{i+1} samples
    std::vector<T> dec, rec;   // D_k (analysis), R_k (synthesis), F taps each
    const T* input;            // x, (N, C, L)

    Direct1d(Context& ctx, const Tensor& x, const WTConvParams& prm, const detail::WaveletTaps& wt)
        : threads(ctx.num_threads()),
          k(prm.kernel_size),
          levels(prm.levels),
          s(std::max(1, prm.stride)),
          f(wt.length),
          p(wt.length / 2 - 1),
          n(x.size(0)),
          c(x.size(1)),
          len{x.size(2)},
          dec(make_bank<T>(wt.dec_lo, wt.dec_hi, wt.length, true)),
          rec(make_bank<T>(wt.rec_lo, wt.rec_hi, wt.length, false)),
          input(x.data<T>()) {
        for (int i = 0; i < levels; ++i) {
            len.push_back((len.back() + 1) / 2);  // L_{i+1} = ceil(L_i / 2)
        }
    }
    Rows image(int i) const { return {c, len[i]}; }          // A_i, R_i: (N, C, L_i)
    Rows bands(int i) const { return {2 * c, len[i + 1]}; }  // Z_i, V_i, T_i, dT_i, ...
    size_t elems(const Rows& g) const { return n * g.channels * g.len; }

    // Analysis (spec 8, 3.1 + 3.2) of level i, row q = (n, c), in_q = in + q * in_stride, L_i long:
    //   out[2q + k][j] = sum_t bank_k[t] * in_q[2j - p + t]
    // in_q reads as zero outside: the pad-to-even and the p zeros. in_stride = 2 L_i reads band 0
    // of a band tensor. Forward: Z_i = DWT(A_i) with D; backward: dT_i = IDWT adjoint(dR_i), R.
    void analysis(const std::vector<T>& bank, const T* in, int64_t in_stride, int i, T* out) const {
        const int64_t m = len[i + 1];
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * c; ++q) {
            const T* src = in + q * in_stride;
            for (int b2 = 0; b2 < 2; ++b2) {
                const T* fk = bank.data() + b2 * f;
                for (int64_t j = 0; j < m; ++j) {
                    // taps t with 0 <= 2j - p + t < L_i
                    const int64_t t_lo = std::max<int64_t>(0, p - 2 * j);
                    const int64_t t_hi = std::min<int64_t>(f, len[i] + p - 2 * j);
                    double acc = 0;  // every sum in double, rounded once to T: the accurate path
                    for (int64_t t = t_lo; t < t_hi; ++t) {
                        acc += static_cast<double>(fk[t]) * src[2 * j - p + t];
                    }
                    out[(2 * q + b2) * m + j] = static_cast<T>(acc);
                }
            }
        }
    }

    // Synthesis (spec 8, 3.3, gather form) of level i, cropped to L_i, row q = (n, c):
    //   out_q[u] = sum_k sum_j in[2q + k][j] * bank_k[u + p - 2j]
    // Forward: R_i = IDWT(T_i)[:L_i] with R. Backward: dA_i = DWT adjoint(dZ_i)[:L_i] with D
    // (dropping the padded sample is the adjoint of pad-to-even).
    void synthesis(const std::vector<T>& bank, const T* in, int i, T* out) const {
        const int64_t m = len[i + 1];
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * c; ++q) {
            for (int64_t u = 0; u < len[i]; ++u) {
                // band samples j with 0 <= u + p - 2j < F: ceil((u + p - F + 1) / 2) .. (u + p) / 2
                const int64_t j_lo = std::max<int64_t>(0, (u + p - f + 2) / 2);
                const int64_t j_hi = std::min<int64_t>(m, (u + p) / 2 + 1);
                double acc = 0;  // every sum in double, rounded once to T: the accurate path
                for (int b2 = 0; b2 < 2; ++b2) {
                    const T* band = in + (2 * q + b2) * m;
                    const T* fk = bank.data() + b2 * f;
                    for (int64_t j = j_lo; j < j_hi; ++j) {
                        acc += static_cast<double>(band[j]) * fk[u + p - 2 * j];
                    }
                }
                out[q * len[i] + u] = static_cast<T>(acc);
            }
        }
    }

    // Depthwise 'same' correlation (spec 3.4 in 1D), row q with kernel G = weight + (q % ch) K:
    //   out_q[y] = sum_a G[a] in_q[y - l + a],   l = (K-1)//2 before, K//2 after.
    // adjoint: its input gradient (spec 6.1), din_q[u] = sum_a G[a] dout_q[u + l - a], which is
    // the same sum over a' = K-1-a: G reversed, K//2 before, (K-1)//2 after.
    void conv(const T* in, const T* weight, const Rows& g, bool adjoint, T* out) const {
        const int64_t l = adjoint ? k / 2 : (k - 1) / 2;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * g.channels; ++q) {
            const T* src = in + q * g.len;
            const T* gq = weight + (q % g.channels) * k;
            for (int64_t y = 0; y < g.len; ++y) {
                const int64_t a_lo = std::max<int64_t>(0, l - y);  // 0 <= y - l + a < len
                const int64_t a_hi = std::min<int64_t>(k, g.len + l - y);
                double acc = 0;  // every sum in double, rounded once to T: the accurate path
                for (int64_t a = a_lo; a < a_hi; ++a) {
                    acc += static_cast<double>(adjoint ? gq[k - 1 - a] : gq[a]) * src[y - l + a];
                }
                out[q * g.len + y] = static_cast<T>(acc);
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
    //   dG_ch[a] = sum_n sum_y dout_{n,ch}[y] in_{n,ch}[y - l + a]
    void conv_weight_grad(const T* in, const T* dout, const Rows& g, T* dweight) const {
        const int64_t l = (k - 1) / 2;
        batch_reduce(g.channels, k, dweight, [&](int64_t q, double* d) {
            const T* src = in + q * g.len;
            const T* dq = dout + q * g.len;
            for (int64_t a = 0; a < k; ++a) {
                const int64_t y_lo = std::max<int64_t>(0, l - a),
                              y_hi = std::min(g.len, g.len + l - a);
                double acc = 0;
                for (int64_t y = y_lo; y < y_hi; ++y) {
                    acc += static_cast<double>(dq[y]) * static_cast<double>(src[y - l + a]);
                }
                d[a] = acc;
            }
        });
    }

    void channel_dot(const T* a, const T* b, const Rows& g, T* out) const {
        cpu::channel_dot(batch(), g.channels, g.len, a, b, out);
    }
    void scale(const T* in, const T* factor, const Rows& g, T* out) const {
        scale_planes(batch(), g.channels, g.len, in, factor, out);
    }
    void add(const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t m) const {
        add_planes(batch(), c, src, src_stride, dst, dst_stride, m);
    }

    // The decomposition (fine to coarse: Z_i, V_i) and the base branch B of spec 4.
    Stages1d<T> decompose(const WTConvWeights& wts) const {
        Stages1d<T> st;
        for (int i = 0; i < levels; ++i) {
            st.z.emplace_back(elems(bands(i)));
            st.v.emplace_back(elems(bands(i)));
            // A_0 = x; A_i = Z_{i-1} band 0, the RAW low band (row stride 2 L_i)
            const T* a = i == 0 ? input : st.z[i - 1].data();
            analysis(dec, a, i == 0 ? len[0] : 2 * len[i], i, st.z[i].data());
            conv(st.z[i].data(), wts.wavelet_weight[i].data<T>(), bands(i), /*adjoint=*/false,
                 st.v[i].data());
        }
        st.b.resize(elems(image(0)));
        conv(input, wts.base_weight.data<T>(), image(0), /*adjoint=*/false, st.b.data());
        if (wts.base_bias.defined()) {
            const T* bias = wts.base_bias.data<T>();
            T* bd = st.b.data();
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int64_t e = 0; e < n * c * len[0]; ++e) {
                bd[e] += bias[e / len[0] % c];
            }
        }
        return st;
    }

    void forward(const WTConvWeights& wts, Tensor& y_t) const {
        T* y = y_t.data<T>();
        const Stages1d<T> st = decompose(wts);
        // Reconstruction, coarse to fine: T_i = S_i = scale_i * V_i, T_i band 0 += R_{i+1};
        // R_i = IDWT(T_i) cropped to L_i. r holds R_{i+1} on entry (R_L = 0), R_i after.
        std::vector<T> r(elems(image(levels)), T(0));
        for (int i = levels - 1; i >= 0; --i) {
            const Rows bg = bands(i);
            std::vector<T> t(elems(bg));  // (N, 2C, L_{i+1})
            scale(st.v[i].data(), wts.wavelet_scale[i].data<T>(), bg, t.data());
            add(r.data(), bg.len, t.data(), 2 * bg.len, bg.len);
            r.resize(elems(image(i)));  // (N, C, L_i)
            synthesis(rec, t.data(), i, r.data());
        }
        // Yfull = base_scale * B + R_0, (N, C, L)
        std::vector<T> yfull(st.b.size());
        scale(st.b.data(), wts.base_scale.data<T>(), image(0), yfull.data());
        add(r.data(), len[0], yfull.data(), len[0], len[0]);  // R_0 = 0 when L = 0
        // The 1D stride averages (spec 8): y[j] = (1/s) sum_{r<s} Yfull[s j + r], L // s outputs.
        const int64_t l_out = y_t.size(2);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * c; ++q) {
            for (int64_t j = 0; j < l_out; ++j) {
                T sum = 0;
                for (int64_t e = 0; e < s; ++e) {
                    sum += yfull[q * len[0] + s * j + e];
                }
                y[q * l_out + j] = sum / static_cast<T>(s);
            }
        }
    }

    void backward(const Tensor& dy_t, const WTConvWeights& wts, WTConvGrads& grads) const {
        const T* dy = dy_t.data<T>();
        const Stages1d<T> st = decompose(wts);  // backward gets x only: recompute Z_i, V_i, B
        const Rows img = image(0);
        // G = dYfull, (N, C, L): dy[j] / s over window j's s samples, zero on the dropped tail.
        std::vector<T> gfull(elems(img), T(0));
        const int64_t l_out = dy_t.size(2);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t q = 0; q < n * c; ++q) {
            for (int64_t j = 0; j < l_out; ++j) {
                for (int64_t e = 0; e < s; ++e) {
                    gfull[q * len[0] + s * j + e] = dy[q * l_out + j] / static_cast<T>(s);
                }
            }
        }

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
        // and dR_{i+1} = dT_i band 0 (read in place, row stride 2 L_{i+1}).
        std::vector<std::vector<T>> dt;
        for (int i = 0; i < levels; ++i) {
            dt.emplace_back(elems(bands(i)));  // (N, 2C, L_{i+1})
            const T* dr = i == 0 ? gfull.data() : dt[i - 1].data();
            analysis(rec, dr, i == 0 ? len[0] : 2 * len[i], i, dt[i].data());
        }

        // Pass 2, coarse to fine, through the level filters and the decomposition. da holds
        // dA_{i+1} on entry (dA_L = 0) and dA_i after.
        std::vector<T> da(elems(image(levels)), T(0));
        for (int i = levels - 1; i >= 0; --i) {
            const Rows bg = bands(i);
            // d wavelet_scale_i = sum dS_i * V_i (V_i before the scale)
            channel_dot(dt[i].data(), st.v[i].data(), bg,
                        grads.dweights.wavelet_scale[i].data<T>());
            std::vector<T> dv(elems(bg));  // dV_i = scale_i * dS_i
            scale(dt[i].data(), wts.wavelet_scale[i].data<T>(), bg, dv.data());
            conv_weight_grad(st.z[i].data(), dv.data(), bg,
                             grads.dweights.wavelet_weight[i].data<T>());
            std::vector<T> dz(elems(bg));  // dZ_i = conv input-gradient of dV_i
            conv(dv.data(), wts.wavelet_weight[i].data<T>(), bg, /*adjoint=*/true, dz.data());
            // the raw low band also fed level i + 1: dZ_i band 0 += dA_{i+1}
            add(da.data(), bg.len, dz.data(), 2 * bg.len, bg.len);
            da.resize(elems(image(i)));  // dA_i = DWT adjoint(dZ_i)[:L_i], (N, C, L_i)
            synthesis(dec, dz.data(), i, da.data());
        }
        add(da.data(), len[0], dx, len[0], len[0]);  // grad_x += dA_0 (0 when L = 0)
    }
};

}  // namespace

void wtconv1d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const detail::WaveletTaps& wavelet,
                             Tensor& y) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        Direct1d<T>(ctx, x, p, wavelet).forward(w, y);
    });
}

void wtconv1d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const detail::WaveletTaps& wavelet,
                              WTConvGrads& grads) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        Direct1d<T>(ctx, x, p, wavelet).backward(dy, w, grads);
    });
}

}  // namespace wtconv::cpu
