// WTConv1d forward and backward on the CPU: the 2D design on rows. Each (n, c) row runs the whole
// pyramid (two sub-bands a level) in per-thread scratch; stride averages windows of s samples.
#include <algorithm>
#include <memory>

#include "cpu/depthwise.h"
#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "cpu/wavelet_transform.h"
#include "cpu/wtconv_partials.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

// Level geometry of one row: A_i has len[i] samples; every row (x, dy, each band) is stored
// bordered (BorderedShape with one row) so the blocked convs read it without checks.
struct Pyramid1d {
    int levels = 0;
    std::vector<int> len;                 // length of A_i, i = 0..L
    std::vector<BorderedShape> bordered;  // bordered[i]: a row of len[i]
    std::vector<std::size_t> offset;      // start of level i's two bordered bands in a band store
    std::size_t band_elems = 0;
    Pyramid1d(int length, int num_levels, int k, int lanes) : levels(num_levels) {
        len.push_back(length);
        bordered.emplace_back(1, length, 1, k, lanes);
        for (int i = 0; i < levels; ++i) {
            len.push_back((len.back() + 1) / 2);
            bordered.emplace_back(1, len.back(), 1, k, lanes);
            offset.push_back(band_elems);
            band_elems += 2 * bordered.back().elems();
        }
    }
    // Band b of level i, at its first sample.
    template <class T>
    T* band(T* store, int i, int b) const {
        return store + offset[i] + b * bordered[i + 1].elems() + bordered[i + 1].origin();
    }
};

template <class T>
struct Geometry1d {
    int n_img, channels, length, k, before, after, s, l_out;
    Pyramid1d pyr;
    WaveletBanks<T> banks;
    Geometry1d(const Tensor& x, const WTConvParams& p, int out_len, const detail::WaveletTaps& w)
        : n_img(static_cast<int>(x.size(0))),
          channels(static_cast<int>(x.size(1))),
          length(static_cast<int>(x.size(2))),
          k(p.kernel_size),
          before((p.kernel_size - 1) / 2),
          after(p.kernel_size / 2),
          s(std::max(1, p.stride)),
          l_out(out_len),
          pyr(length, p.levels, p.kernel_size, kLanes<T>),
          banks(make_banks<T>(w)) {}
    int packed(int i) const { return round_up(pyr.len[i], kLanes<T>); }
    std::size_t work_elems() const {
        return polyphase_work_elems((length + 1) / 2, banks.analysis.pad);
    }
    // One 'same' correlation of the bordered row at `row` (level i's length) with taps g, padded
    // by `pad` samples ahead, into a packed row.
    Correlation<T> conv(
        const T* row, int i, int pad, const T* g, const T* init, T add, T* out) const {
        return same_correlation(row, pyr.bordered[i].stride, 1, pyr.len[i], g, 1, k, 0, pad)
            .start(init, packed(i), add)
            .write(out, packed(i), true);
    }
};

// Z_0 .. Z_{L-1} of the bordered row at x, into a bordered band store.
template <class T>
void analyze_cascade_1d(const T* x,
                        const Geometry1d<T>& g,
                        const std::vector<T>& lo,
                        const std::vector<T>& hi,
                        T* store,
                        T* work) {
    const T* a = x;
    for (int i = 0; i < g.pyr.levels; ++i) {
        analyze_rows(a, 0, 1, g.pyr.len[i], lo.data(), hi.data(), g.banks.analysis.length,
                     g.banks.analysis.pad, g.pyr.band(store, i, 0), g.pyr.band(store, i, 1), work);
        a = g.pyr.band(store, i, 0);
    }
}

template <class T>
void forward_rows(Context& ctx,
                  const Tensor& x,
                  const WTConvWeights& wts,
                  const WTConvParams& p,
                  const detail::WaveletTaps& wavelet,
                  Tensor& y) {
    const Geometry1d<T> g(x, p, static_cast<int>(y.size(2)), wavelet);
    const int k = g.k;
    const auto layout = [&](ScratchCursor<T>& cur) {
        struct {
            T *row, *bands, *filtered, *recon, *full, *taps, *work;
        } b{cur.take(g.pyr.bordered[0].elems()),
            cur.take(g.pyr.band_elems),
            cur.take(2 * static_cast<std::size_t>(g.packed(0))),
            cur.take(g.packed(0)),
            cur.take(g.packed(0)),
            cur.take(k),
            cur.take(g.work_elems())};
        return b;
    };
    ScratchCursor<T> sizing(nullptr);
    layout(sizing);
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    parallel_for_planes<T>(
        ctx.num_threads(), static_cast<std::int64_t>(g.n_img) * g.channels, sizing.used(),
        [&](std::int64_t nc, T* mem) {
            const int c = static_cast<int>(nc % g.channels);
            ScratchCursor<T> cur(mem);
            const auto sc = layout(cur);
            T* row = sc.row + g.pyr.bordered[0].origin();
            std::copy(xd + nc * g.length, xd + (nc + 1) * g.length, row);
            analyze_cascade_1d(row, g, g.banks.analysis_lo, g.banks.analysis_hi, sc.bands, sc.work);
            for (int i = g.pyr.levels - 1; i >= 0; --i) {
                const int half = g.pyr.len[i + 1];
                T* t[2] = {sc.filtered, sc.filtered + g.packed(i + 1)};
                for (int band = 0; band < 2; ++band) {
                    const int q = 2 * c + band;
                    const bool deeper = band == 0 && i + 1 < g.pyr.levels;
                    correlate(g.conv(g.pyr.band(sc.bands, i, band), i + 1, g.before,
                                     scaled_taps(wts.wavelet_weight[i].data<T>() + q * k, k,
                                                 wts.wavelet_scale[i].data<T>()[q], false, sc.taps),
                                     deeper ? sc.recon : nullptr, T(0), t[band]));
                }
                synthesize_rows(t[0], t[1], 1, half, g.banks.synthesis_lo.data(),
                                g.banks.synthesis_hi.data(), g.banks.synthesis.length,
                                g.banks.synthesis.pad, g.pyr.len[i], sc.recon, 0, sc.work);
            }
            const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
            const T scale = wts.base_scale.data<T>()[c];
            correlate(
                g.conv(row, 0, g.before,
                       scaled_taps(wts.base_weight.data<T>() + c * k, k, scale, false, sc.taps),
                       g.pyr.levels > 0 ? sc.recon : nullptr, scale * bias, sc.full));
            T* yp = yd + nc * g.l_out;
            for (int o = 0; o < g.l_out; ++o) {
                T sum = 0;
                for (int r = 0; r < g.s; ++r) {
                    sum += sc.full[o * g.s + r];
                }
                yp[o] = g.s > 1 ? sum / static_cast<T>(g.s) : sum;
            }
        });
}

template <class T>
void backward_rows(Context& ctx,
                   const Tensor& dy,
                   const Tensor& x,
                   const WTConvWeights& wts,
                   const WTConvParams& p,
                   const detail::WaveletTaps& wavelet,
                   WTConvGrads& grads) {
    const Geometry1d<T> g(x, p, static_cast<int>(dy.size(2)), wavelet);
    const int k = g.k;
    const PartialLayout lay{k, 2, p.levels};
    const std::int64_t rows = static_cast<std::int64_t>(g.n_img) * g.channels;
    // Not zeroed: every row writes each entry of its partials.
    std::unique_ptr<double[]> partial(new double[static_cast<std::size_t>(rows) * lay.total()]);
    const auto layout = [&](ScratchCursor<T>& cur) {
        struct {
            T *row, *grad, *bands, *dbands, *dz, *da, *taps, *work;
        } b{cur.take(g.pyr.bordered[0].elems()),
            cur.take(g.pyr.bordered[0].elems()),
            cur.take(g.pyr.band_elems),
            cur.take(g.pyr.band_elems),
            cur.take(2 * static_cast<std::size_t>(g.packed(0))),
            cur.take(g.packed(0)),
            cur.take(k),
            cur.take(g.work_elems())};
        return b;
    };
    ScratchCursor<T> sizing(nullptr);
    layout(sizing);
    const T* xd = x.data<T>();
    const T* dyd = dy.data<T>();
    T* dxd = grads.dx.data<T>();
    parallel_for_planes<T>(ctx.num_threads(), rows, sizing.used(), [&](std::int64_t nc, T* mem) {
        const int c = static_cast<int>(nc % g.channels);
        double* part = partial.get() + nc * lay.total();
        ScratchCursor<T> cur(mem);
        const auto sc = layout(cur);
        T* row = sc.row + g.pyr.bordered[0].origin();
        T* grad = sc.grad + g.pyr.bordered[0].origin();
        std::copy(xd + nc * g.length, xd + (nc + 1) * g.length, row);

        // Averaging adjoint: dy[o] / s on each sample of window o, zero on the dropped tail.
        std::fill(grad, grad + g.length, T(0));
        for (int o = 0; o < g.l_out; ++o) {
            const T share =
                g.s > 1 ? dyd[nc * g.l_out + o] / static_cast<T>(g.s) : dyd[nc * g.l_out + o];
            for (int r = 0; r < g.s; ++r) {
                grad[o * g.s + r] = share;
            }
        }

        // Base branch (see wtconv2d_bwd.cpp): C = corr(x, G), dW = scale * C, dscale = <w, C>.
        const T* base_w = wts.base_weight.data<T>() + c * k;
        const T scale = wts.base_scale.data<T>()[c];
        const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
        const int stride0 = g.pyr.bordered[0].stride;
        weight_grad(row - g.before, stride0, grad, stride0, 1, g.length, 1, k, part);
        const double g_sum = static_cast<double>(ConstRowMap<T>(grad, g.length).sum());
        part[lay.base_scale()] =
            scale_grad_from_corr(base_w, k, scale, part) + static_cast<double>(bias) * g_sum;
        part[lay.base_bias()] = static_cast<double>(scale) * g_sum;

        if (g.pyr.levels > 0) {
            const T* dr = grad;
            for (int i = 0; i < g.pyr.levels; ++i) {
                analyze_rows(dr, 0, 1, g.pyr.len[i], g.banks.synthesis_lo.data(),
                             g.banks.synthesis_hi.data(), g.banks.synthesis.length,
                             g.banks.synthesis.pad, g.pyr.band(sc.dbands, i, 0),
                             g.pyr.band(sc.dbands, i, 1), sc.work);
                dr = g.pyr.band(sc.dbands, i, 0);
            }
            analyze_cascade_1d(row, g, g.banks.analysis_lo, g.banks.analysis_hi, sc.bands, sc.work);
            for (int i = g.pyr.levels - 1; i >= 0; --i) {
                const int half = g.pyr.len[i + 1];
                const int stride = g.pyr.bordered[i + 1].stride;
                T* dz[2] = {sc.dz, sc.dz + g.packed(i + 1)};
                for (int band = 0; band < 2; ++band) {
                    const int q = 2 * c + band;
                    const T* kernel = wts.wavelet_weight[i].data<T>() + q * k;
                    const T sigma = wts.wavelet_scale[i].data<T>()[q];
                    const T* ds = g.pyr.band(sc.dbands, i, band);
                    double* dg = part + lay.level_weight(i, band);
                    weight_grad(g.pyr.band(sc.bands, i, band) - g.before, stride, ds, stride, 1,
                                half, 1, k, dg);
                    part[lay.level_scale(i, band)] = scale_grad_from_corr(kernel, k, sigma, dg);
                    const bool deeper = band == 0 && i + 1 < g.pyr.levels;
                    correlate(g.conv(ds, i + 1, g.after,
                                     scaled_taps(kernel, k, sigma, true, sc.taps),
                                     deeper ? sc.da : nullptr, T(0), dz[band]));
                }
                synthesize_rows(dz[0], dz[1], 1, half, g.banks.analysis_lo.data(),
                                g.banks.analysis_hi.data(), g.banks.analysis.length,
                                g.banks.analysis.pad, g.pyr.len[i], sc.da, 0, sc.work);
            }
        }
        correlate(g.conv(grad, 0, g.after, scaled_taps(base_w, k, scale, true, sc.taps),
                         g.pyr.levels > 0 ? sc.da : nullptr, T(0), nullptr)
                      .write(dxd + nc * g.length, g.length, false));
    });
    sum_partials_over_batch<T>(partial.get(), g.n_img, g.channels, lay, p.bias, ctx.num_threads(),
                               grads);
}

}  // namespace

void wtconv1d_forward(Context& ctx,
                      const Tensor& x,
                      const WTConvWeights& w,
                      const WTConvParams& p,
                      const detail::WaveletTaps& wavelet,
                      Tensor& y) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        forward_rows<T>(ctx, x, w, p, wavelet, y);
    });
}

void wtconv1d_backward(Context& ctx,
                       const Tensor& dy,
                       const Tensor& x,
                       const WTConvWeights& w,
                       const WTConvParams& p,
                       const detail::WaveletTaps& wavelet,
                       WTConvGrads& grads) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        backward_rows<T>(ctx, dy, x, w, p, wavelet, grads);
    });
}

}  // namespace wtconv::cpu
