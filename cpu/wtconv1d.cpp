// WTConv1d forward and backward on the CPU: the 2D design on rows. Each (n, c) row runs the whole
// pyramid (two sub-bands a level) in per-thread scratch; stride averages windows of s samples.
#include <cstring>

#include "cpu/depthwise.h"
#include "cpu/parallel.h"
#include "cpu/wavelet_transform.h"
#include "cpu/wtconv_partials.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

struct Pyramid1d {
    int levels = 0;
    std::vector<int> len;                // length of A_i, i = 0..L
    std::vector<std::ptrdiff_t> offset;  // start of level i's two bands in a band store
    std::size_t band_elems = 0;
    Pyramid1d(int length, int num_levels) : levels(num_levels) {
        len.push_back(length);
        for (int i = 0; i < levels; ++i) {
            len.push_back((len.back() + 1) / 2);
            offset.push_back(static_cast<std::ptrdiff_t>(band_elems));
            band_elems += 2 * static_cast<std::size_t>(len.back());
        }
    }
};

template <class T>
struct Geometry1d {
    int n_img, channels, length, k, s, l_out;
    Pyramid1d pyr;
    WaveletBanks<T> banks;
    Geometry1d(const Tensor& x, const WTConvParams& p, int out_len, const detail::WaveletTaps& w)
        : n_img(static_cast<int>(x.size(0))),
          channels(static_cast<int>(x.size(1))),
          length(static_cast<int>(x.size(2))),
          k(p.kernel_size),
          s(std::max(1, p.stride)),
          l_out(out_len),
          pyr(length, p.levels),
          banks(make_banks<T>(w)) {}
    std::size_t pad_elems() const { return same_pad_elems(1, length, 1, k); }
};

// Z_0 .. Z_{L-1} of one row, each level's two bands side by side.
template <class T>
void analyze_cascade_1d(const T* x, const Geometry1d<T>& g, T* bands) {
    const T* a = x;
    for (int i = 0; i < g.pyr.levels; ++i) {
        T* z = bands + g.pyr.offset[i];
        const int half = g.pyr.len[i + 1];
        analyze_rows(a, 1, g.pyr.len[i], g.banks.analysis_lo.data(), g.banks.analysis_hi.data(),
                     g.banks.analysis.length, g.banks.analysis.pad, z, z + half);
        a = z;
    }
}

template <class T>
void forward_rows(Context& ctx, const Tensor& x, const WTConvWeights& wts, const WTConvParams& p,
                  const detail::WaveletTaps& wavelet, Tensor& y) {
    const Geometry1d<T> g(x, p, static_cast<int>(y.size(2)), wavelet);
    const int k = g.k;
    const std::size_t scratch = g.pad_elems() + 2 * g.pyr.band_elems + 2 * g.length;
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    parallel_for_planes<T>(
        ctx.num_threads(), static_cast<std::int64_t>(g.n_img) * g.channels, scratch,
        [&](std::int64_t nc, T* mem) {
            const int c = static_cast<int>(nc % g.channels);
            ScratchCursor<T> cur(mem);
            T* pad = cur.take(g.pad_elems());
            T* bands = cur.take(g.pyr.band_elems);
            T* filtered = cur.take(g.pyr.band_elems);
            T* recon = cur.take(g.length);
            T* base = cur.take(g.length);
            const T* xp = xd + nc * g.length;

            analyze_cascade_1d(xp, g, bands);
            for (int i = 0; i < g.pyr.levels; ++i) {
                const int half = g.pyr.len[i + 1];
                for (int band = 0; band < 2; ++band) {
                    const int q = 2 * c + band;
                    const std::ptrdiff_t at = g.pyr.offset[i] + band * half;
                    same_conv(bands + at, 1, half, wts.wavelet_weight[i].data<T>() + q * k, 1, k,
                              pad, filtered + at);
                    RowMap<T>(filtered + at, half) *= wts.wavelet_scale[i].data<T>()[q];
                }
            }
            for (int i = g.pyr.levels - 1; i >= 0; --i) {
                T* t = filtered + g.pyr.offset[i];
                const int half = g.pyr.len[i + 1];
                if (i + 1 < g.pyr.levels) {
                    RowMap<T>(t, half) += ConstRowMap<T>(recon, half);
                }
                synthesize_rows(t, t + half, 1, half, g.banks.synthesis_lo.data(),
                                g.banks.synthesis_hi.data(), g.banks.synthesis.length,
                                g.banks.synthesis.pad, g.pyr.len[i], recon);
            }
            same_conv(xp, 1, g.length, wts.base_weight.data<T>() + c * k, 1, k, pad, base);
            const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
            const T scale = wts.base_scale.data<T>()[c];
            for (int j = 0; j < g.length; ++j) {
                base[j] = scale * (base[j] + bias) + (g.pyr.levels > 0 ? recon[j] : T(0));
            }
            T* yp = yd + nc * g.l_out;
            for (int o = 0; o < g.l_out; ++o) {
                T sum = 0;
                for (int r = 0; r < g.s; ++r) {
                    sum += base[o * g.s + r];
                }
                yp[o] = g.s > 1 ? sum / static_cast<T>(g.s) : sum;
            }
        });
}

template <class T>
void backward_rows(Context& ctx, const Tensor& dy, const Tensor& x, const WTConvWeights& wts,
                   const WTConvParams& p, const detail::WaveletTaps& wavelet, WTConvGrads& grads) {
    const Geometry1d<T> g(x, p, static_cast<int>(dy.size(2)), wavelet);
    const int k = g.k;
    const PartialLayout lay{k, 2, p.levels};
    const std::int64_t rows = static_cast<std::int64_t>(g.n_img) * g.channels;
    std::vector<double> partial(static_cast<std::size_t>(rows) * lay.total(), 0.0);
    const std::size_t scratch = g.pad_elems() + 2 * g.pyr.band_elems + 5 * g.length + k;
    const T* xd = x.data<T>();
    const T* dyd = dy.data<T>();
    T* dxd = grads.dx.data<T>();
    parallel_for_planes<T>(ctx.num_threads(), rows, scratch, [&](std::int64_t nc, T* mem) {
        const int c = static_cast<int>(nc % g.channels);
        double* part = partial.data() + nc * lay.total();
        ScratchCursor<T> cur(mem);
        T* pad = cur.take(g.pad_elems());
        T* bands = cur.take(g.pyr.band_elems);
        T* dbands = cur.take(g.pyr.band_elems);
        T* grad = cur.take(g.length);
        T* work = cur.take(g.length);
        T* dv = cur.take(g.length);
        T* da = cur.take(g.length);
        T* da_next = cur.take(g.length);
        T* flipped = cur.take(k);
        const T* xp = xd + nc * g.length;
        T* dxp = dxd + nc * g.length;

        // Averaging adjoint: dy[o] / s on each sample of window o, zero on the dropped tail.
        std::fill(grad, grad + g.length, T(0));
        for (int o = 0; o < g.l_out; ++o) {
            const T share = g.s > 1 ? dyd[nc * g.l_out + o] / static_cast<T>(g.s)
                                    : dyd[nc * g.l_out + o];
            for (int r = 0; r < g.s; ++r) {
                grad[o * g.s + r] = share;
            }
        }

        const T* base_w = wts.base_weight.data<T>() + c * k;
        const T scale = wts.base_scale.data<T>()[c];
        const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
        const PaddedPlane<T> x_pad = same_conv(xp, 1, g.length, base_w, 1, k, pad, work);
        RowMap<T>(work, g.length) += bias;
        part[lay.base_scale()] = static_cast<double>(
            ConstRowMap<T>(grad, g.length).matrix().dot(ConstRowMap<T>(work, g.length).matrix()));
        part[lay.base_bias()] =
            static_cast<double>(scale) * static_cast<double>(ConstRowMap<T>(grad, g.length).sum());
        RowMap<T>(dv, g.length) = scale * ConstRowMap<T>(grad, g.length);
        correlate_weight_grad(x_pad, dv, 1, g.length, 1, k, part);
        same_conv_input_grad(dv, 1, g.length, base_w, 1, k, flipped, pad, dxp);
        if (g.pyr.levels == 0) {
            return;
        }

        const T* dr = grad;
        for (int i = 0; i < g.pyr.levels; ++i) {
            T* dt = dbands + g.pyr.offset[i];
            analyze_rows(dr, 1, g.pyr.len[i], g.banks.synthesis_lo.data(),
                         g.banks.synthesis_hi.data(), g.banks.synthesis.length,
                         g.banks.synthesis.pad, dt, dt + g.pyr.len[i + 1]);
            dr = dt;
        }
        analyze_cascade_1d(xp, g, bands);
        for (int i = g.pyr.levels - 1; i >= 0; --i) {
            const int half = g.pyr.len[i + 1];
            T* dz = bands + g.pyr.offset[i];  // Z_i is dead once used: dZ_i overwrites it
            for (int band = 0; band < 2; ++band) {
                const int q = 2 * c + band;
                const T* kernel = wts.wavelet_weight[i].data<T>() + q * k;
                T* z = dz + band * half;
                const T* ds = dbands + g.pyr.offset[i] + band * half;
                const PaddedPlane<T> z_pad = same_conv(z, 1, half, kernel, 1, k, pad, work);
                part[lay.level_scale(i, band)] = static_cast<double>(
                    ConstRowMap<T>(ds, half).matrix().dot(ConstRowMap<T>(work, half).matrix()));
                RowMap<T>(dv, half) = wts.wavelet_scale[i].data<T>()[q] * ConstRowMap<T>(ds, half);
                correlate_weight_grad(z_pad, dv, 1, half, 1, k, part + lay.level_weight(i, band));
                same_conv_input_grad(dv, 1, half, kernel, 1, k, flipped, pad, z);
            }
            if (i + 1 < g.pyr.levels) {
                RowMap<T>(dz, half) += ConstRowMap<T>(da, half);
            }
            synthesize_rows(dz, dz + half, 1, half, g.banks.analysis_lo.data(),
                            g.banks.analysis_hi.data(), g.banks.analysis.length,
                            g.banks.analysis.pad, g.pyr.len[i], da_next);
            std::swap(da, da_next);
        }
        RowMap<T>(dxp, g.length) += ConstRowMap<T>(da, g.length);
    });
    sum_partials_over_batch<T>(partial, g.n_img, g.channels, lay, p.bias, grads);
}

}  // namespace

void wtconv1d_forward(Context& ctx, const Tensor& x, const WTConvWeights& w, const WTConvParams& p,
                      const detail::WaveletTaps& wavelet, Tensor& y) {
    switch (x.dtype()) {
        case DType::kFloat32:
            forward_rows<float>(ctx, x, w, p, wavelet, y);
            break;
        case DType::kFloat64:
            forward_rows<double>(ctx, x, w, p, wavelet, y);
            break;
    }
}

void wtconv1d_backward(Context& ctx, const Tensor& dy, const Tensor& x, const WTConvWeights& w,
                       const WTConvParams& p, const detail::WaveletTaps& wavelet,
                       WTConvGrads& grads) {
    switch (x.dtype()) {
        case DType::kFloat32:
            backward_rows<float>(ctx, dy, x, w, p, wavelet, grads);
            break;
        case DType::kFloat64:
            backward_rows<double>(ctx, dy, x, w, p, wavelet, grads);
            break;
    }
}

}  // namespace wtconv::cpu
