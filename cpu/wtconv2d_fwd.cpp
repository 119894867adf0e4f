// WTConv2d forward on the CPU: every (n, c) plane runs the whole pyramid (base conv, analysis
// cascade, level convs and scales, synthesis cascade) in per-thread scratch that stays in cache.
#include "cpu/depthwise.h"
#include "cpu/parallel.h"
#include "cpu/wtconv2d_plane.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

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
    const int s = std::max(1, p.stride);
    const int h_out = static_cast<int>(y.size(2));
    const int w_out = static_cast<int>(y.size(3));
    const Pyramid2d pyr(height, width, p.levels);
    const WaveletBanks<T> banks = make_banks<T>(wavelet);
    const std::size_t plane = static_cast<std::size_t>(height) * width;

    const std::size_t scratch = same_pad_elems(height, width, k, k) + 2 * pyr.band_elems +
                                pyr.transform_tmp_elems() + 2 * plane;
    const T* xd = x.data<T>();
    T* yd = y.data<T>();
    parallel_for_planes<T>(
        ctx.num_threads(), static_cast<std::int64_t>(n_img) * channels, scratch,
        [&](std::int64_t nc, T* mem) {
            const int c = static_cast<int>(nc % channels);
            ScratchCursor<T> cur(mem);
            T* pad = cur.take(same_pad_elems(height, width, k, k));
            T* bands = cur.take(pyr.band_elems);     // Z_i
            T* filtered = cur.take(pyr.band_elems);  // S_i, then T_i
            T* tmp = cur.take(pyr.transform_tmp_elems());
            T* recon = cur.take(plane);  // R_i
            T* base = cur.take(plane);   // B
            const T* xp = xd + nc * static_cast<std::ptrdiff_t>(plane);

            analyze_cascade(xp, pyr, banks.analysis, tmp, bands);
            for (int i = 0; i < pyr.levels; ++i) {
                const T* kernels = wts.wavelet_weight[i].data<T>();
                const T* scales = wts.wavelet_scale[i].data<T>();
                const int bh = pyr.h[i + 1];
                const int bw = pyr.w[i + 1];
                for (int band = 0; band < 4; ++band) {
                    const std::ptrdiff_t at = pyr.offset[i] + band * pyr.band_size(i);
                    same_conv(bands + at, bh, bw, kernels + (4 * c + band) * k * k, k, k, pad,
                              filtered + at);
                    RowMap<T>(filtered + at, pyr.band_size(i)) *= scales[4 * c + band];
                }
            }
            // Coarse to fine: T_i = S_i with R_{i+1} added to its LL band, R_i = IDWT(T_i) cropped.
            for (int i = pyr.levels - 1; i >= 0; --i) {
                T* t = filtered + pyr.offset[i];
                if (i + 1 < pyr.levels) {
                    RowMap<T>(t, pyr.band_size(i)) += ConstRowMap<T>(recon, pyr.band_size(i));
                }
                synthesize_2d(t, pyr.h[i + 1], pyr.w[i + 1], banks.synthesis, pyr.h[i], pyr.w[i],
                              tmp, recon);
            }

            same_conv(xp, height, width, wts.base_weight.data<T>() + c * k * k, k, k, pad, base);
            const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
            const T scale = wts.base_scale.data<T>()[c];
            T* yp = yd + nc * static_cast<std::ptrdiff_t>(h_out) * w_out;
            const bool wavelets = pyr.levels > 0;
            for (int r = 0; r < h_out; ++r) {
                const T* b_row = base + static_cast<std::ptrdiff_t>(r) * s * width;
                const T* r_row = recon + static_cast<std::ptrdiff_t>(r) * s * width;
                T* y_row = yp + static_cast<std::ptrdiff_t>(r) * w_out;
                for (int q = 0; q < w_out; ++q) {
                    const T value = scale * (b_row[q * s] + bias);
                    y_row[q] = wavelets ? value + r_row[q * s] : value;
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
    if (x.dtype() == DType::kFloat32) {
        forward_planes<float>(ctx, x, w, p, wavelet, y);
    } else {
        forward_planes<double>(ctx, x, w, p, wavelet, y);
    }
}

}  // namespace wtconv::cpu
