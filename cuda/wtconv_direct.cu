// WTConv2d and WTConv1d on CUDA, direct algorithm (WTConvAlgo::kDirect, the "baseline"): the
// reference module's stages (spec sections 3, 4, 6, 8) in the same order as
// cpu/wtconv2d_direct.cpp, one plain kernel per stage over whole tensors
// (cuda/wtconv_direct_stages.cuh), every intermediate materialised in device memory. The CUDA
// reference the fused kernels are held to.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/shape_math.h"
#include "cuda/device_guard.h"
#include "cuda/wtconv_direct_stages.cuh"
#include "ops/wtconv_backends.h"

namespace wtconv::cuda {

namespace {

using std::int64_t;
using namespace direct;

// The wavelet's four filters in device memory, uploaded once per (device, wavelet) and kept for
// the process's life (a few hundred bytes each), so that calls do not copy them synchronously.
const double* device_filters(Device device, const ::wtconv::detail::WaveletTaps& wt) {
    static std::mutex mutex;
    static std::map<std::pair<int, std::string>, Tensor> cache;
    const std::lock_guard<std::mutex> lock(mutex);
    auto key = std::make_pair(device.index, std::string(wt.name));
    auto it = cache.find(key);
    if (it == cache.end()) {
        std::vector<double> taps;
        for (const double* f : {wt.dec_lo, wt.dec_hi, wt.rec_lo, wt.rec_hi}) {
            taps.insert(taps.end(), f, f + wt.length);
        }
        const Shape shape{static_cast<int64_t>(taps.size())};
        it = cache.emplace(key, Tensor::from_vector(taps, shape).to(device)).first;
    }
    return it->second.data<double>();
}

template <class T>
class Direct {
public:
    Direct(Context& ctx,
           const Tensor& x,
           const WTConvParams& p,
           const ::wtconv::detail::WaveletTaps& wt,
           int spatial)
        : stream_(ctx.cuda_stream()),
          device_(x.device()),
          spatial_(spatial),
          bands_(spatial == 2 ? 4 : 2),
          k_(p.kernel_size),
          levels_(p.levels),
          s_(p.stride),
          f_(wt.length),
          n_(x.size(0)),
          c_(x.size(1)),
          h_(spatial == 2 ? ::wtconv::detail::level_sizes(x.size(2), p.levels)
                          : std::vector<int64_t>(p.levels + 1, 1)),
          w_(::wtconv::detail::level_sizes(x.size(-1), p.levels)),
          x_(x.template data<T>()) {
        const double* taps = device_filters(device_, wt);
        dec_ = FilterTaps{taps, taps + f_, f_, /*reverse=*/true};
        rec_ = FilterTaps{taps + 2 * f_, taps + 3 * f_, f_, /*reverse=*/false};
    }

    void forward(const WTConvWeights& wts, Tensor& y) const {
        const Stages st = decompose(wts);
        // Reconstruction, coarse to fine: T_i = scale_i * V_i, band 0 += R_{i+1}; R_i = IDWT(T_i).
        Tensor r;  // R_{i+1}; R_L = 0 is skipped
        for (int i = levels_ - 1; i >= 0; --i) {
            const ConvShape bg = bands(i);
            Tensor t = buffer(elems(bg));
            scale(st.v[i].template data<T>(), wts.wavelet_scale[i].template data<T>(), nullptr, bg,
                  t.template data<T>());
            if (r.defined()) {
                add(r.template data<T>(), plane(bg), t.template data<T>(), bands_ * plane(bg),
                    plane(bg));
            }
            r = buffer(elems(image(i)));
            launch(synthesis_kernel<T>, elems(image(i)), t.template data<T>(), level(i), rec_,
                   r.template data<T>());
        }
        // Yfull = base_scale * B + R_0, then the stride.
        const ConvShape img = image(0);
        Tensor yfull = s_ == 1 ? y : buffer(elems(img));
        scale(st.b.template data<T>(), wts.base_scale.template data<T>(), nullptr, img,
              yfull.template data<T>());
        if (r.defined()) {
            add(r.template data<T>(), plane(img), yfull.template data<T>(), plane(img), plane(img));
        }
        if (s_ > 1 && spatial_ == 2) {
            launch(subsample_kernel<T, true>, y.numel(), yfull.template data<T>(),
                   y.template data<T>(), n_ * c_, h_[0], w_[0], s_);
        } else if (s_ > 1) {
            launch(average_kernel<T>, y.numel(), yfull.template data<T>(), y.template data<T>(),
                   n_ * c_, w_[0], s_);
        }
    }

    void backward(const Tensor& dy, const WTConvWeights& wts, WTConvGrads& grads) const {
        const Stages st = decompose(wts);  // backward gets x only: recompute Z_i, V_i, B
        const ConvShape img = image(0);
        // G = dYfull: dy where the stride kept (2D) or spread over the window (1D).
        Tensor gfull_buffer = s_ == 1 ? Tensor() : buffer(elems(img));
        const T* gfull = s_ == 1 ? dy.template data<T>() : gfull_buffer.template data<T>();
        if (s_ > 1 && spatial_ == 2) {
            WTCONV_CUDA_CHECK(
                cudaMemsetAsync(gfull_buffer.raw_data(), 0, gfull_buffer.nbytes(), stream_));
            launch(subsample_kernel<T, false>, dy.numel(), dy.template data<T>(),
                   gfull_buffer.template data<T>(), n_ * c_, h_[0], w_[0], s_);
        } else if (s_ > 1) {
            launch(spread_kernel<T>, elems(img), dy.template data<T>(),
                   gfull_buffer.template data<T>(), n_ * c_, w_[0], s_);
        }
        WTConvWeights& dw = grads.dweights;
        // Base branch (spec 6.2): d base_scale = sum G * B; Gb = base_scale * G feeds the rest.
        channel_dot(gfull, st.b.template data<T>(), img, dw.base_scale.template data<T>());
        Tensor gb = buffer(elems(img));
        scale(gfull, wts.base_scale.template data<T>(), nullptr, img, gb.template data<T>());
        if (dw.base_bias.defined()) {
            channel_dot(gb.template data<T>(), nullptr, img, dw.base_bias.template data<T>());
        }
        conv_weight_grad(x_, gb.template data<T>(), img, dw.base_weight.template data<T>());
        T* dx = grads.dx.template data<T>();
        launch(conv_kernel<T>, elems(img), gb.template data<T>(),
               wts.base_weight.template data<T>(), img, true, dx);

        // Pass 1, fine to coarse: dT_i = IDWT adjoint(dR_i), dR_0 = G, dR_{i+1} = dT_i band 0.
        std::vector<Tensor> dt;
        for (int i = 0; i < levels_; ++i) {
            dt.push_back(buffer(elems(bands(i))));
            const T* dr = i == 0 ? gfull : dt[i - 1].template data<T>();
            const int64_t stride = i == 0 ? plane(img) : bands_ * plane(image(i));
            launch(analysis_kernel<T>, elems(bands(i)), dr, stride, level(i), rec_,
                   dt[i].template data<T>());
        }
        // Pass 2, coarse to fine, through the level filters and the decomposition.
        Tensor da;  // dA_{i+1}; dA_L = 0 is skipped
        for (int i = levels_ - 1; i >= 0; --i) {
            const ConvShape bg = bands(i);
            channel_dot(dt[i].template data<T>(), st.v[i].template data<T>(), bg,
                        dw.wavelet_scale[i].template data<T>());
            Tensor dv = buffer(elems(bg));  // dV_i = scale_i * dS_i
            scale(dt[i].template data<T>(), wts.wavelet_scale[i].template data<T>(), nullptr, bg,
                  dv.template data<T>());
            conv_weight_grad(st.z[i].template data<T>(), dv.template data<T>(), bg,
                             dw.wavelet_weight[i].template data<T>());
            Tensor dz = buffer(elems(bg));  // dZ_i: the level conv's input gradient
            launch(conv_kernel<T>, elems(bg), dv.template data<T>(),
                   wts.wavelet_weight[i].template data<T>(), bg, true, dz.template data<T>());
            if (da.defined()) {  // the raw LL also fed level i + 1
                add(da.template data<T>(), plane(bg), dz.template data<T>(), bands_ * plane(bg),
                    plane(bg));
            }
            da = buffer(elems(image(i)));
            launch(synthesis_kernel<T>, elems(image(i)), dz.template data<T>(), level(i), dec_,
                   da.template data<T>());
        }
        if (da.defined()) {
            add(da.template data<T>(), plane(img), dx, plane(img), plane(img));
        }
    }

private:
    struct Stages {
        std::vector<Tensor> z;  // Z_i, the bands of level i
        std::vector<Tensor> v;  // V_i = conv(Z_i), before the level's scale
        Tensor b;               // B = conv(x) + bias
    };

    Stages decompose(const WTConvWeights& wts) const {
        Stages st;
        for (int i = 0; i < levels_; ++i) {
            const ConvShape bg = bands(i);
            st.z.push_back(buffer(elems(bg)));
            st.v.push_back(buffer(elems(bg)));
            // A_0 = x; A_i = Z_{i-1} band 0, the raw LL
            const T* a = i == 0 ? x_ : st.z[i - 1].template data<T>();
            const int64_t stride = i == 0 ? plane(image(0)) : bands_ * plane(image(i));
            launch(analysis_kernel<T>, elems(bg), a, stride, level(i), dec_,
                   st.z[i].template data<T>());
            launch(conv_kernel<T>, elems(bg), st.z[i].template data<T>(),
                   wts.wavelet_weight[i].template data<T>(), bg, false, st.v[i].template data<T>());
        }
        const ConvShape img = image(0);
        st.b = buffer(elems(img));
        launch(conv_kernel<T>, elems(img), x_, wts.base_weight.template data<T>(), img, false,
               st.b.template data<T>());
        if (wts.base_bias.defined()) {
            scale(st.b.template data<T>(), nullptr, wts.base_bias.template data<T>(), img,
                  st.b.template data<T>());
        }
        return st;
    }

    ConvShape image(int i) const { return {n_ * c_, c_, h_[i], w_[i], spatial_ == 2 ? k_ : 1, k_}; }
    ConvShape bands(int i) const {
        return {n_ * bands_ * c_, bands_ * c_, h_[i + 1], w_[i + 1], spatial_ == 2 ? k_ : 1, k_};
    }
    LevelShape level(int i) const {
        const bool two_d = spatial_ == 2;
        return {n_ * c_,        bands_,        h_[i],
                w_[i],          h_[i + 1],     w_[i + 1],
                two_d ? f_ : 1, two_d ? 2 : 1, two_d ? f_ / 2 - 1 : 0,
                f_ / 2 - 1,     two_d ? 1 : 0, two_d ? 2 : 1};
    }
    static int64_t plane(const ConvShape& g) { return g.h * g.w; }
    static int64_t elems(const ConvShape& g) { return g.planes * g.h * g.w; }
    Tensor buffer(int64_t n) const { return Tensor::empty(Shape{n}, dtype_of<T>, device_); }

    template <class Kernel, class... Args>
    void launch(Kernel kernel, int64_t n, Args... args) const {
        kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream_>>>(args...);
        WTCONV_CUDA_CHECK_LAUNCH();
    }
    void scale(const T* in, const T* factor, const T* bias, const ConvShape& g, T* out) const {
        launch(scale_kernel<T>, elems(g), in, factor, bias, g.planes, g.channels, plane(g), out);
    }
    void add(const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t m) const {
        launch(add_planes_kernel<T>, n_ * c_ * m, src, src_stride, dst, dst_stride, n_ * c_, m);
    }
    void channel_dot(const T* a, const T* b, const ConvShape& g, T* out) const {
        channel_dot_kernel<T><<<static_cast<unsigned>(g.channels), kReduceThreads, 0, stream_>>>(
            a, b, g.planes, g.channels, plane(g), out);
        WTCONV_CUDA_CHECK_LAUNCH();
    }
    void conv_weight_grad(const T* in, const T* dout, const ConvShape& g, T* dweight) const {
        const dim3 grid(static_cast<unsigned>(g.channels), static_cast<unsigned>(g.kh * g.kw));
        conv_weight_grad_kernel<T><<<grid, kReduceThreads, 0, stream_>>>(in, dout, g, dweight);
        WTCONV_CUDA_CHECK_LAUNCH();
    }

    cudaStream_t stream_;
    Device device_;
    int spatial_, bands_, k_, levels_, s_, f_;
    int64_t n_, c_;
    std::vector<int64_t> h_, w_;  // per level; 1D: h = 1 at every level
    FilterTaps dec_{}, rec_{};
    const T* x_;
};

template <class Fn>
void with_direct_type(DType dtype, const Fn& fn) {
    switch (dtype) {
        case DType::kFloat32:
            return fn(float{});
        case DType::kFloat64:
            return fn(double{});
        default:
            break;
    }
    throw Error(ErrorCode::kNotSupported,
                ::wtconv::detail::concat("wtconv: the CUDA direct algorithm runs float32 and "
                                         "float64, got ",
                                         dtype_name(dtype)));
}

}  // namespace

static void wtconv_forward_direct(Context& ctx,
                                  int spatial,
                                  const Tensor& x,
                                  const WTConvWeights& w,
                                  const WTConvParams& p,
                                  const ::wtconv::detail::WaveletTaps& wavelet,
                                  Tensor& y) {
    const DeviceGuard guard(x.device().index);
    with_direct_type(x.dtype(), [&](auto zero) {
        Direct<decltype(zero)>(ctx, x, p, wavelet, spatial).forward(w, y);
    });
}

static void wtconv_backward_direct(Context& ctx,
                                   int spatial,
                                   const Tensor& dy,
                                   const Tensor& x,
                                   const WTConvWeights& w,
                                   const WTConvParams& p,
                                   const ::wtconv::detail::WaveletTaps& wavelet,
                                   WTConvGrads& grads) {
    const DeviceGuard guard(x.device().index);
    with_direct_type(x.dtype(), [&](auto zero) {
        Direct<decltype(zero)>(ctx, x, p, wavelet, spatial).backward(dy, w, grads);
    });
}

void wtconv2d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const ::wtconv::detail::WaveletTaps& wavelet,
                             Tensor& y) {
    wtconv_forward_direct(ctx, 2, x, w, p, wavelet, y);
}
void wtconv2d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const ::wtconv::detail::WaveletTaps& wavelet,
                              WTConvGrads& grads) {
    wtconv_backward_direct(ctx, 2, dy, x, w, p, wavelet, grads);
}
void wtconv1d_forward_direct(Context& ctx,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const ::wtconv::detail::WaveletTaps& wavelet,
                             Tensor& y) {
    wtconv_forward_direct(ctx, 1, x, w, p, wavelet, y);
}
void wtconv1d_backward_direct(Context& ctx,
                              const Tensor& dy,
                              const Tensor& x,
                              const WTConvWeights& w,
                              const WTConvParams& p,
                              const ::wtconv::detail::WaveletTaps& wavelet,
                              WTConvGrads& grads) {
    wtconv_backward_direct(ctx, 1, dy, x, w, p, wavelet, grads);
}

}  // namespace wtconv::cuda
