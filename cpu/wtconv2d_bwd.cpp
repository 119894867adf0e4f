// WTConv2d backward on the CPU. Each (n, c) plane recomputes what it needs from x (the base conv,
// the analysis cascade, each level's conv), writes its dx plane, and leaves its parameter-gradient
// contributions in its own row of doubles (cpu/wtconv_partials.h).
#include <cstring>

#include "cpu/depthwise.h"
#include "cpu/parallel.h"
#include "cpu/wtconv2d_plane.h"
#include "cpu/wtconv_partials.h"
#include "ops/wtconv_backends.h"

namespace wtconv::cpu {

namespace {

template <class T>
double dot(const T* a, const T* b, std::ptrdiff_t n) {
    return static_cast<double>(ConstRowMap<T>(a, n).matrix().dot(ConstRowMap<T>(b, n).matrix()));
}

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
    const int s = std::max(1, p.stride);
    const int h_out = static_cast<int>(dy.size(2));
    const int w_out = static_cast<int>(dy.size(3));
    const Pyramid2d pyr(height, width, p.levels);
    const WaveletBanks<T> banks = make_banks<T>(wavelet);
    const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(height) * width;
    const PartialLayout lay{k * k, 4, p.levels};
    const std::int64_t planes = static_cast<std::int64_t>(n_img) * channels;
    std::vector<double> partial(static_cast<std::size_t>(planes) * lay.total(), 0.0);

    const std::size_t pad_elems = same_pad_elems(height, width, k, k);
    const std::size_t scratch = pad_elems + 2 * pyr.band_elems + pyr.transform_tmp_elems() +
                                5 * static_cast<std::size_t>(plane) + k * k;
    const T* xd = x.data<T>();
    const T* dyd = dy.data<T>();
    T* dxd = grads.dx.data<T>();
    parallel_for_planes<T>(
        ctx.num_threads(), planes, scratch, [&](std::int64_t nc, T* mem) {
            const int c = static_cast<int>(nc % channels);
            double* part = partial.data() + nc * lay.total();
            ScratchCursor<T> cur(mem);
            T* pad = cur.take(pad_elems);
            T* bands = cur.take(pyr.band_elems);   // Z_i, recomputed
            T* dbands = cur.take(pyr.band_elems);  // dT_i = dS_i from pass 1
            T* tmp = cur.take(pyr.transform_tmp_elems());
            T* g = cur.take(plane);     // dYfull
            T* work = cur.take(plane);  // B, then V and dV of one band
            T* dv = cur.take(plane);
            T* da = cur.take(plane);    // dA_{i+1}
            T* da_next = cur.take(plane);
            T* flipped = cur.take(static_cast<std::size_t>(k) * k);
            const T* xp = xd + nc * plane;
            T* dxp = dxd + nc * plane;

            // Stride adjoint: dy lands on rows and columns 0, s, 2s, ...; zero elsewhere.
            if (s == 1) {
                std::memcpy(g, dyd + nc * plane, sizeof(T) * plane);
            } else {
                std::fill(g, g + plane, T(0));
                const T* dyp = dyd + nc * static_cast<std::ptrdiff_t>(h_out) * w_out;
                for (int r = 0; r < h_out; ++r) {
                    for (int q = 0; q < w_out; ++q) {
                        g[static_cast<std::ptrdiff_t>(r) * s * width + q * s] =
                            dyp[static_cast<std::ptrdiff_t>(r) * w_out + q];
                    }
                }
            }

            // Base branch: B = conv(x) + bias sits inside base_scale.
            const T* base_w = wts.base_weight.data<T>() + c * k * k;
            const T scale = wts.base_scale.data<T>()[c];
            const T bias = p.bias ? wts.base_bias.data<T>()[c] : T(0);
            const PaddedPlane<T> x_pad = same_conv(xp, height, width, base_w, k, k, pad, work);
            RowMap<T>(work, plane) += bias;
            part[lay.base_scale()] = dot(g, work, plane);
            part[lay.base_bias()] = static_cast<double>(scale) * static_cast<double>(
                                                                   ConstRowMap<T>(g, plane).sum());
            RowMap<T>(dv, plane) = scale * ConstRowMap<T>(g, plane);  // Gb
            correlate_weight_grad(x_pad, dv, height, width, k, k, part);
            same_conv_input_grad(dv, height, width, base_w, k, k, flipped, pad, dxp);
            if (pyr.levels == 0) {
                return;
            }

            // Pass 1, fine to coarse: dT_i = IDWT adjoint of dR_i, dR_{i+1} = dT_i band 0.
            const T* dr = g;
            for (int i = 0; i < pyr.levels; ++i) {
                T* dt = dbands + pyr.offset[i];
                analyze_2d(dr, pyr.h[i], pyr.w[i], banks.synthesis, tmp, dt);
                dr = dt;
            }

            // Pass 2, coarse to fine, through the level convs and the analysis cascade.
            analyze_cascade(xp, pyr, banks.analysis, tmp, bands);
            for (int i = pyr.levels - 1; i >= 0; --i) {
                const int bh = pyr.h[i + 1];
                const int bw = pyr.w[i + 1];
                const std::ptrdiff_t bsize = pyr.band_size(i);
                const T* kernels = wts.wavelet_weight[i].data<T>();
                const T* scales = wts.wavelet_scale[i].data<T>();
                T* dz = bands + pyr.offset[i];  // Z_i is dead once its band is used: dZ_i overwrites it
                for (int band = 0; band < 4; ++band) {
                    const int q = 4 * c + band;
                    T* z = bands + pyr.offset[i] + band * bsize;
                    const T* ds = dbands + pyr.offset[i] + band * bsize;
                    const PaddedPlane<T> z_pad = same_conv(z, bh, bw, kernels + q * k * k, k, k,
                                                           pad, work);  // V_i
                    part[lay.level_scale(i, band)] = dot(ds, work, bsize);
                    RowMap<T>(dv, bsize) = scales[q] * ConstRowMap<T>(ds, bsize);  // dV_i
                    correlate_weight_grad(z_pad, dv, bh, bw, k, k,
                                          part + lay.level_weight(i, band));
                    same_conv_input_grad(dv, bh, bw, kernels + q * k * k, k, k, flipped, pad,
                                         dz + band * bsize);
                }
                if (i + 1 < pyr.levels) {
                    RowMap<T>(dz, bsize) += ConstRowMap<T>(da, bsize);  // raw LL fed level i+1
                }
                synthesize_2d(dz, bh, bw, banks.analysis, pyr.h[i], pyr.w[i], tmp, da_next);
                std::swap(da, da_next);
            }
            RowMap<T>(dxp, plane) += ConstRowMap<T>(da, plane);
        });

    sum_partials_over_batch<T>(partial, n_img, channels, lay, p.bias, grads);
}

}  // namespace

void wtconv2d_backward(Context& ctx,
                       const Tensor& dy,
                       const Tensor& x,
                       const WTConvWeights& w,
                       const WTConvParams& p,
                       const detail::WaveletTaps& wavelet,
                       WTConvGrads& grads) {
    switch (x.dtype()) {
        case DType::kFloat32:
            backward_planes<float>(ctx, dy, x, w, p, wavelet, grads);
            break;
        case DType::kFloat64:
            backward_planes<double>(ctx, dy, x, w, p, wavelet, grads);
            break;
    }
}

}  // namespace wtconv::cpu
