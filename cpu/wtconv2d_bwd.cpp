// WTConv2d backward on the CPU. Each (n, c) plane recomputes the analysis cascade from x, writes
// its dx plane, and leaves its parameter-gradient contributions in its own row of doubles
// (cpu/wtconv_partials.h). No conv output is recomputed: with C = corr(input, dO) the weight
// gradient of a scaled conv is scale * C and its scale gradient sum(dO * conv) = <kernel, C>.
#include <memory>

#include "cpu/depthwise.h"
#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "cpu/wtconv2d_plane.h"
#include "cpu/wtconv_partials.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

// Per-thread buffers of one plane's backward (layouts: Pyramid2d).
template <class T>
struct BackwardScratch {
    T* x;       // x, bordered
    T* g;       // dYfull, bordered
    T* bands;   // Z_0 .. Z_{L-1}, bordered band store
    T* dbands;  // dT_i = dS_i from pass 1, bordered band store
    T* dz;      // dZ_i of one level, packed
    T* da;      // dA_i, packed
    T* taps;    // one kernel, flipped, times its scale
    T* tmp;     // the generic (non-Haar) transforms

    BackwardScratch(ScratchCursor<T>& cur,
                    const Pyramid2d& pyr,
                    const WaveletBanks<T>& banks,
                    int k)
        : x(cur.take(pyr.bordered[0].elems())),
          g(cur.take(pyr.bordered[0].elems())),
          bands(cur.take(pyr.band_elems)),
          dbands(cur.take(pyr.band_elems)),
          dz(cur.take(pyr.levels > 0 ? 4 * pyr.packed_elems(1) : 0)),
          da(cur.take(pyr.levels > 0 ? pyr.packed_elems(0) : 0)),
          taps(cur.take(static_cast<std::size_t>(k) * k)),
          tmp(cur.take(pyr.transform_tmp_elems(banks))) {}
};

template <class T>
void backward_planes(Context& ctx,
                     const Tensor& dy,
                     const Tensor& x,
                     const WTConvWeights& wts,
                     const WTConvParams& p,
                     const detail::WaveletTaps& wavelet,
                     WTConvGrads& grads) {
    const int n_img = static_cast<int>(x.size(0));
    const int channels = static_cast<int>(x.size(1));
    const int height = static_cast<int>(x.size(2));
    const int width = static_cast<int>(x.size(3));
    const int k = p.kernel_size;
    const int kk = k * k;
    const int before = (k - 1) / 2;  // forward 'same' padding ahead of the image (spec 3.4)
    const int after = k / 2;         // ... and after it: ahead of dO in the input gradient
    const int s = std::max(1, p.stride);
    const int h_out = static_cast<int>(dy.size(2));
    const int w_out = static_cast<int>(dy.size(3));
    const Pyramid2d pyr(height, width, p.levels, k, kLanes<T>);
    const WaveletBanks<T> banks = make_banks<T>(wavelet);
    const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(height) * width;
    const PartialLayout lay{kk, 4, p.levels};
    const std::int64_t planes = static_cast<std::int64_t>(n_img) * channels;
    // Not zeroed: every plane writes each entry of its row.
    std::unique_ptr<double[]> partial(new double[static_cast<std::size_t>(planes) * lay.total()]);

    ScratchCursor<T> sizing(nullptr);
    BackwardScratch<T>(sizing, pyr, banks, k);
    const T* xd = x.data<T>();
    const T* dyd = dy.data<T>();
    T* dxd = grads.dx.data<T>();
    parallel_for_planes<T>(ctx.num_threads(), planes, sizing.used(), [&](std::int64_t nc, T* mem) {
        const int c = static_cast<int>(nc % channels);
        double* part = partial.get() + nc * lay.total();
        ScratchCursor<T> cur(mem);
        const BackwardScratch<T> sc(cur, pyr, banks, k);
        const LevelTransform<T> dwt{banks.analysis, sc.tmp};        // its adjoint: synthesis
        const LevelTransform<T> idwt_adj{banks.synthesis, sc.tmp};  // IDWT's adjoint: analysis
        const BorderedShape& xs = pyr.bordered[0];
        copy_into(xd + nc * plane, width, xs, sc.x);

        // Stride adjoint: dy lands on rows and columns 0, s, 2s, ...; zero elsewhere.
        if (s == 1) {
            copy_into(dyd + nc * plane, width, xs, sc.g);
        } else {
            const T* dyp = dyd + nc * static_cast<std::ptrdiff_t>(h_out) * w_out;
            for (int r = 0; r < height; ++r) {
                T* g_row = sc.g + xs.origin() + static_cast<std::ptrdiff_t>(r) * xs.stride;
                std::fill(g_row, g_row + width, T(0));
                if (r % s == 0) {
                    for (int q = 0; q < w_out; ++q) {
                        g_row[q * s] = dyp[static_cast<std::ptrdiff_t>(r / s) * w_out + q];
                    }
                }
            }
        }

        // Base branch: B = conv(x) + bias sits inside base_scale.
        const T* base_w = wts.base_weight.data<T>() + c * kk;
        const T scale = wts.base_scale.data<T>()[c];
        const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
        const T* g = sc.g + xs.origin();
        weight_grad(sc.x + xs.corner(before, before), xs.stride, g, xs.stride, height, width, k, k,
                    part);
        double g_sum = 0.0;
        for (int r = 0; r < height; ++r) {
            g_sum += static_cast<double>(
                ConstRowMap<T>(g + static_cast<std::ptrdiff_t>(r) * xs.stride, width).sum());
        }
        part[lay.base_scale()] =
            scale_grad_from_corr(base_w, kk, scale, part) + static_cast<double>(bias) * g_sum;
        part[lay.base_bias()] = static_cast<double>(scale) * g_sum;

        if (pyr.levels > 0) {
            // Pass 1, fine to coarse: dT_i = IDWT adjoint of dR_i, dR_{i+1} = dT_i band 0.
            const T* dr = g;
            int dr_stride = xs.stride;
            for (int i = 0; i < pyr.levels; ++i) {
                const Bands<T> dt = pyr.bordered_bands(sc.dbands, i);
                idwt_adj.analyze(dr, dr_stride, pyr.h[i], pyr.w[i], dt);
                dr = dt.band[0];
                dr_stride = dt.stride;
            }
            // Pass 2, coarse to fine, through the level convs and the analysis cascade.
            analyze_cascade(sc.x, pyr, dwt, sc.bands);
            for (int i = pyr.levels - 1; i >= 0; --i) {
                const int bh = pyr.h[i + 1];
                const int bw = pyr.w[i + 1];
                const Bands<T> z = pyr.bordered_bands(sc.bands, i);
                const Bands<T> ds = pyr.bordered_bands(sc.dbands, i);
                const Bands<T> dz = pyr.packed_bands(sc.dz, i);
                const T* kernels = wts.wavelet_weight[i].data<T>();
                const T* scales = wts.wavelet_scale[i].data<T>();
                for (int band = 0; band < 4; ++band) {
                    const int q = 4 * c + band;
                    double* dg = part + lay.level_weight(i, band);
                    weight_grad(z.band[band] - before * (z.stride + 1), z.stride, ds.band[band],
                                ds.stride, bh, bw, k, k, dg);
                    part[lay.level_scale(i, band)] =
                        scale_grad_from_corr(kernels + q * kk, kk, scales[q], dg);
                    // dZ_i = conv input gradient of scale * dS_i; the raw LL band also fed
                    // level i+1, so band 0 starts from dA_{i+1}.
                    const bool deeper = band == 0 && i + 1 < pyr.levels;
                    correlate(same_correlation(
                                  ds.band[band], ds.stride, bh, bw,
                                  scaled_taps(kernels + q * kk, kk, scales[q], true, sc.taps), k, k,
                                  after, after)
                                  .start(deeper ? sc.da : nullptr, pyr.packed_stride(i + 1))
                                  .write(dz.band[band], dz.stride, true));
                }
                dwt.synthesize(dz, bh, bw, pyr.h[i], pyr.w[i], sc.da, pyr.packed_stride(i));
            }
        }
        // dx = conv input gradient of scale * G, started at dA_0.
        correlate(same_correlation(g, xs.stride, height, width,
                                   scaled_taps(base_w, kk, scale, true, sc.taps), k, k, after,
                                   after)
                      .start(pyr.levels > 0 ? sc.da : nullptr, pyr.packed_stride(0))
                      .write(dxd + nc * plane, width, false));
    });

    sum_partials_over_batch<T>(partial.get(), n_img, channels, lay, p.bias, ctx.num_threads(),
                               grads);
}

}  // namespace

void wtconv2d_backward(Context& ctx,
                       const Tensor& dy,
                       const Tensor& x,
                       const WTConvWeights& w,
                       const WTConvParams& p,
                       const detail::WaveletTaps& wavelet,
                       WTConvGrads& grads) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        backward_planes<T>(ctx, dy, x, w, p, wavelet, grads);
    });
}

}  // namespace wtconv::cpu
