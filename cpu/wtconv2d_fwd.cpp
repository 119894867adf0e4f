// WTConv2d forward on the CPU: every (n, c) plane runs the whole pyramid (analysis cascade, level
// convs and scales, synthesis cascade, base conv) in per-thread scratch that stays in cache. Each
// scale is folded into its conv's taps and each sum into the next conv's starting value, so the
// last conv writes y directly.
#include "cpu/depthwise.h"
#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "cpu/wtconv2d_plane.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

// Per-thread buffers of one plane's forward (layouts: Pyramid2d).
template <class T>
struct ForwardScratch {
    T* x;         // x, bordered
    T* bands;     // Z_0 .. Z_{L-1}, bordered band store
    T* filtered;  // T_i = S_i (+ R_{i+1} on band 0) of one level, packed
    T* recon;     // R_i, packed
    T* full;      // Yfull for stride > 1, packed
    T* taps;      // one kernel times its scale
    T* tmp;       // the generic (non-Haar) transforms

    ForwardScratch(ScratchCursor<T>& cur,
                   const Pyramid2d& pyr,
                   const WaveletBanks<T>& banks,
                   int k,
                   bool strided)
        : x(cur.take(pyr.bordered[0].elems())),
          bands(cur.take(pyr.band_elems)),
          filtered(cur.take(pyr.levels > 0 ? 4 * pyr.packed_elems(1) : 0)),
          recon(cur.take(pyr.levels > 0 ? pyr.packed_elems(0) : 0)),
          full(cur.take(strided ? pyr.packed_elems(0) : 0)),
          taps(cur.take(static_cast<std::size_t>(k) * k)),
          tmp(cur.take(pyr.transform_tmp_elems(banks))) {}
};

template <class T>
void forward_planes(Context& ctx,
                    const Tensor& x,
                    const WTConvWeights& wts,
                    const WTConvParams& p,
                    const detail::WaveletTaps& wavelet,
                    Tensor& y) {
    const int n_img = static_cast<int>(x.size(0));
    const int channels = static_cast<int>(x.size(1));
    const int height = static_cast<int>(x.size(2));
    const int width = static_cast<int>(x.size(3));
    const int k = p.kernel_size;
    const int kk = k * k;
    const int before = (k - 1) / 2;  // 'same' padding ahead of the image (spec 3.4)
    const int s = std::max(1, p.stride);
    const int h_out = static_cast<int>(y.size(2));
    const int w_out = static_cast<int>(y.size(3));
    const Pyramid2d pyr(height, width, p.levels, k, kLanes<T>);
    const WaveletBanks<T> banks = make_banks<T>(wavelet);
    const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(height) * width;

    ScratchCursor<T> sizing(nullptr);
    ForwardScratch<T>(sizing, pyr, banks, k, s > 1);
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    parallel_for_planes<T>(
        ctx.num_threads(), static_cast<std::int64_t>(n_img) * channels, sizing.used(),
        [&](std::int64_t nc, T* mem) {
            const int c = static_cast<int>(nc % channels);
            ScratchCursor<T> cur(mem);
            const ForwardScratch<T> sc(cur, pyr, banks, k, s > 1);
            const LevelTransform<T> dwt{banks.analysis, sc.tmp};
            const LevelTransform<T> idwt{banks.synthesis, sc.tmp};
            const BorderedShape& xs = pyr.bordered[0];
            copy_into(xd + nc * plane, width, xs, sc.x);
            analyze_cascade(sc.x, pyr, dwt, sc.bands);

            // Coarse to fine: T_i = scale * conv(Z_i) (+ R_{i+1} on the LL band), R_i = IDWT(T_i).
            for (int i = pyr.levels - 1; i >= 0; --i) {
                const Bands<T> z = pyr.bordered_bands(sc.bands, i);
                const Bands<T> t = pyr.packed_bands(sc.filtered, i);
                const T* kernels = wts.wavelet_weight[i].data<T>();
                const T* scales = wts.wavelet_scale[i].data<T>();
                for (int band = 0; band < 4; ++band) {
                    const int q = 4 * c + band;
                    const bool deeper = band == 0 && i + 1 < pyr.levels;
                    correlate(same_correlation(
                                  z.band[band], z.stride, pyr.h[i + 1], pyr.w[i + 1],
                                  scaled_taps(kernels + q * kk, kk, scales[q], false, sc.taps), k,
                                  k, before, before)
                                  .start(deeper ? sc.recon : nullptr, pyr.packed_stride(i + 1))
                                  .write(t.band[band], t.stride, true));
                }
                idwt.synthesize(t, pyr.h[i + 1], pyr.w[i + 1], pyr.h[i], pyr.w[i], sc.recon,
                                pyr.packed_stride(i));
            }

            // y = scale * (conv(x) + bias) + R_0, as conv(x) with scaled taps started at R_0.
            const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
            const T scale = wts.base_scale.data<T>()[c];
            T* yp = yd + nc * static_cast<std::ptrdiff_t>(h_out) * w_out;
            const bool direct = s == 1;
            correlate(
                same_correlation(
                    sc.x + xs.origin(), xs.stride, height, width,
                    scaled_taps(wts.base_weight.data<T>() + c * kk, kk, scale, false, sc.taps), k,
                    k, before, before)
                    .start(pyr.levels > 0 ? sc.recon : nullptr, pyr.packed_stride(0), scale * bias)
                    .write(direct ? yp : sc.full, direct ? width : pyr.packed_stride(0), !direct));
            if (!direct) {
                for (int r = 0; r < h_out; ++r) {
                    const T* f_row =
                        sc.full + static_cast<std::ptrdiff_t>(r) * s * pyr.packed_stride(0);
                    for (int q = 0; q < w_out; ++q) {
                        yp[static_cast<std::ptrdiff_t>(r) * w_out + q] = f_row[q * s];
                    }
                }
            }
        });
}

}  // namespace

void wtconv2d_forward(Context& ctx,
                      const Tensor& x,
                      const WTConvWeights& w,
                      const WTConvParams& p,
                      const detail::WaveletTaps& wavelet,
                      Tensor& y) {
    with_float_type(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        forward_planes<T>(ctx, x, w, p, wavelet, y);
    });
}

}  // namespace wtconv::cpu
