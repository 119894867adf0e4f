// The comparator's forward and backward: one cuDNN call per stage of WTCONV.md sections 4 and 6.2,
// all enqueued on the handle's stream. Every call is checked and counted.
#include <cudnn.h>

#include "cuda/cudnn_util.h"
#include "cuda/cudnn_wtconv2d_impl.h"

// Checks a cuDNN call and counts it in calls, a local of the enclosing pass.
#define WTCONV_BENCH_CUDNN_COUNTED(expr) \
    do {                                 \
        WTCONV_BENCH_CUDNN_CHECK(expr);  \
        ++calls;                         \
    } while (false)

namespace wtconv::bench {

namespace {

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;

}  // namespace

void CudnnWTConv2d::Impl::forward(const Tensor& x, const WTConvWeights& w) {
    int calls = 0;
    void* ws = workspace.raw_data();
    const void* xp = x.raw_data();
    const std::size_t nl = levels.size();

    // Decomposition, fine to coarse: A_i padded to even sides (level i > 0 also copies the raw LL
    // out of Z_{i-1}, as the reference's next conv reads a contiguous tensor), Z_i = DWT(P_i),
    // V_i = conv(Z_i), S_i = scale * V_i.
    for (std::size_t i = 0; i < nl; ++i) {
        LevelPlan& l = levels[i];
        const void* in = xp;
        if (l.p.defined()) {
            const cudnnTensorDescriptor_t src_desc =
                i == 0 ? x_desc.get() : levels[i - 1].ll_view.get();
            const void* src = i == 0 ? xp : levels[i - 1].z.raw_data();
            WTCONV_BENCH_CUDNN_COUNTED(cudnnTransformTensor(handle, &kOne, src_desc, src, &kZero,
                                                            l.in_view.get(), l.p.raw_data()));
            in = l.p.raw_data();
        }
        WTCONV_BENCH_CUDNN_COUNTED(
            cudnnConvolutionForward(handle, &kOne, l.padded_desc.get(), in, wavelet_filter.get(),
                                    analysis.raw_data(), dwt_conv.get(), l.dwt_fwd.algo, ws,
                                    workspace_bytes, &kZero, l.bands_desc.get(), l.z.raw_data()));
        WTCONV_BENCH_CUDNN_COUNTED(cudnnConvolutionForward(
            handle, &kOne, l.bands_desc.get(), l.z.raw_data(), level_filter.get(),
            w.wavelet_weight[i].raw_data(), level_conv.get(), l.conv_fwd.algo, ws, workspace_bytes,
            &kZero, l.bands_desc.get(), l.v.raw_data()));
        WTCONV_BENCH_CUDNN_COUNTED(cudnnOpTensor(
            handle, mul.get(), &kOne, l.bands_desc.get(), l.v.raw_data(), &kOne, l.scale_desc.get(),
            w.wavelet_scale[i].raw_data(), &kZero, l.bands_desc.get(), l.s.raw_data()));
    }
    // Reconstruction, coarse to fine: S_i's LL channels += R_{i+1} cropped (a view of the deeper
    // IDWT's output), then R_i = IDWT(S_i), uncropped; the crop is the next reader's view.
    for (std::size_t i = nl; i-- > 0;) {
        LevelPlan& l = levels[i];
        if (i + 1 < nl) {
            const LevelPlan& deeper = levels[i + 1];
            WTCONV_BENCH_CUDNN_COUNTED(cudnnAddTensor(handle, &kOne, deeper.in_view.get(),
                                                      deeper.r.raw_data(), &kOne, l.ll_view.get(),
                                                      l.s.raw_data()));
        }
        WTCONV_BENCH_CUDNN_COUNTED(cudnnConvolutionBackwardData(
            handle, &kOne, wavelet_filter.get(), synthesis.raw_data(), l.bands_desc.get(),
            l.s.raw_data(), dwt_conv.get(), l.dwt_bwd_data.algo, ws, workspace_bytes, &kZero,
            l.padded_desc.get(), l.r.raw_data()));
    }
    // Base branch and the sum: B = conv(x) + bias, Yfull = base_scale * B + R_0, y = Yfull[::s].
    WTCONV_BENCH_CUDNN_COUNTED(
        cudnnConvolutionForward(handle, &kOne, x_desc.get(), xp, base_filter.get(),
                                w.base_weight.raw_data(), base_conv.get(), base_fwd.algo, ws,
                                workspace_bytes, &kZero, x_desc.get(), base_out.raw_data()));
    if (cfg.bias) {
        WTCONV_BENCH_CUDNN_COUNTED(cudnnAddTensor(handle, &kOne, channel_desc.get(),
                                                  w.base_bias.raw_data(), &kOne, x_desc.get(),
                                                  base_out.raw_data()));
    }
    WTCONV_BENCH_CUDNN_COUNTED(cudnnOpTensor(
        handle, mul.get(), &kOne, x_desc.get(), base_out.raw_data(), &kOne, channel_desc.get(),
        w.base_scale.raw_data(), &kZero, x_desc.get(), y_full.raw_data()));
    if (nl > 0) {
        WTCONV_BENCH_CUDNN_COUNTED(cudnnAddTensor(handle, &kOne, levels[0].in_view.get(),
                                                  levels[0].r.raw_data(), &kOne, x_desc.get(),
                                                  y_full.raw_data()));
    }
    if (cfg.stride > 1) {
        WTCONV_BENCH_CUDNN_COUNTED(cudnnTransformTensor(handle, &kOne, subsample_view.get(),
                                                        y_full.raw_data(), &kZero, out_desc.get(),
                                                        y.raw_data()));
    }
    fwd_calls = calls;
}

void CudnnWTConv2d::Impl::backward(const Tensor& x, const Tensor& dy, const WTConvWeights& w) {
    int calls = 0;
    void* ws = workspace.raw_data();
    const std::size_t nl = levels.size();
    WTConvWeights& dw = grads.dweights;

    // G: dy scattered onto the full grid (the gaps of g stay zero from the set-up).
    const void* gp = dy.raw_data();
    if (cfg.stride > 1) {
        WTCONV_BENCH_CUDNN_COUNTED(cudnnTransformTensor(handle, &kOne, out_desc.get(),
                                                        dy.raw_data(), &kZero, subsample_view.get(),
                                                        g.raw_data()));
        gp = g.raw_data();
    }

    // Base branch: d base_scale = sum G * B; Gb = base_scale * G; d bias = sum Gb; the conv's
    // weight and input gradients from Gb.
    WTCONV_BENCH_CUDNN_COUNTED(cudnnOpTensor(handle, mul.get(), &kOne, x_desc.get(), gp, &kOne,
                                             x_desc.get(), base_out.raw_data(), &kZero,
                                             x_desc.get(), scratch.raw_data()));
    WTCONV_BENCH_CUDNN_COUNTED(cudnnReduceTensor(handle, sum.get(), nullptr, 0, ws, workspace_bytes,
                                                 &kOne, x_desc.get(), scratch.raw_data(), &kZero,
                                                 channel_desc.get(), dw.base_scale.raw_data()));
    WTCONV_BENCH_CUDNN_COUNTED(cudnnOpTensor(handle, mul.get(), &kOne, x_desc.get(), gp, &kOne,
                                             channel_desc.get(), w.base_scale.raw_data(), &kZero,
                                             x_desc.get(), gb.raw_data()));
    if (cfg.bias) {
        WTCONV_BENCH_CUDNN_COUNTED(
            cudnnConvolutionBackwardBias(handle, &kOne, x_desc.get(), gb.raw_data(), &kZero,
                                         channel_desc.get(), dw.base_bias.raw_data()));
    }
    WTCONV_BENCH_CUDNN_COUNTED(cudnnConvolutionBackwardFilter(
        handle, &kOne, x_desc.get(), x.raw_data(), x_desc.get(), gb.raw_data(), base_conv.get(),
        base_bwd_filter.algo, ws, workspace_bytes, &kZero, base_filter.get(),
        dw.base_weight.raw_data()));
    WTCONV_BENCH_CUDNN_COUNTED(cudnnConvolutionBackwardData(
        handle, &kOne, base_filter.get(), w.base_weight.raw_data(), x_desc.get(), gb.raw_data(),
        base_conv.get(), base_bwd_data.algo, ws, workspace_bytes, &kZero, x_desc.get(),
        grads.dx.raw_data()));

    // Pass 1, fine to coarse: dT_i = IDWT adjoint of dR_i zero-extended to the padded size (a
    // forward conv with the synthesis filters); dR_{i+1} is dT_i's LL channels.
    for (std::size_t i = 0; i < nl; ++i) {
        LevelPlan& l = levels[i];
        const void* in = gp;
        if (l.dr.defined()) {
            const cudnnTensorDescriptor_t src_desc =
                i == 0 ? x_desc.get() : levels[i - 1].ll_view.get();
            const void* src = i == 0 ? gp : levels[i - 1].dt.raw_data();
            WTCONV_BENCH_CUDNN_COUNTED(cudnnTransformTensor(handle, &kOne, src_desc, src, &kZero,
                                                            l.in_view.get(), l.dr.raw_data()));
            in = l.dr.raw_data();
        }
        WTCONV_BENCH_CUDNN_COUNTED(
            cudnnConvolutionForward(handle, &kOne, l.padded_desc.get(), in, wavelet_filter.get(),
                                    synthesis.raw_data(), dwt_conv.get(), l.dwt_fwd.algo, ws,
                                    workspace_bytes, &kZero, l.bands_desc.get(), l.dt.raw_data()));
    }

    // Pass 2, coarse to fine: d scale_i = sum dT_i * V_i; dV_i = scale_i * dT_i; the level conv's
    // weight and input gradients; dZ_i's LL += dA_{i+1}; dP_i = DWT adjoint of dZ_i (backward
    // data with the analysis filters), whose crop is dA_i.
    for (std::size_t i = nl; i-- > 0;) {
        LevelPlan& l = levels[i];
        const cudnnTensorDescriptor_t bands = l.bands_desc.get();
        WTCONV_BENCH_CUDNN_COUNTED(cudnnOpTensor(handle, mul.get(), &kOne, bands, l.dt.raw_data(),
                                                 &kOne, bands, l.v.raw_data(), &kZero, bands,
                                                 scratch.raw_data()));
        WTCONV_BENCH_CUDNN_COUNTED(cudnnReduceTensor(
            handle, sum.get(), nullptr, 0, ws, workspace_bytes, &kOne, bands, scratch.raw_data(),
            &kZero, l.scale_desc.get(), dw.wavelet_scale[i].raw_data()));
        WTCONV_BENCH_CUDNN_COUNTED(cudnnOpTensor(
            handle, mul.get(), &kOne, bands, l.dt.raw_data(), &kOne, l.scale_desc.get(),
            w.wavelet_scale[i].raw_data(), &kZero, bands, dv.raw_data()));
        WTCONV_BENCH_CUDNN_COUNTED(cudnnConvolutionBackwardFilter(
            handle, &kOne, bands, l.z.raw_data(), bands, dv.raw_data(), level_conv.get(),
            l.conv_bwd_filter.algo, ws, workspace_bytes, &kZero, level_filter.get(),
            dw.wavelet_weight[i].raw_data()));
        WTCONV_BENCH_CUDNN_COUNTED(cudnnConvolutionBackwardData(
            handle, &kOne, level_filter.get(), w.wavelet_weight[i].raw_data(), bands, dv.raw_data(),
            level_conv.get(), l.conv_bwd_data.algo, ws, workspace_bytes, &kZero, bands,
            dz.raw_data()));
        if (i + 1 < nl) {
            const LevelPlan& deeper = levels[i + 1];
            WTCONV_BENCH_CUDNN_COUNTED(cudnnAddTensor(handle, &kOne, deeper.in_view.get(),
                                                      deeper.dp.raw_data(), &kOne, l.ll_view.get(),
                                                      dz.raw_data()));
        }
        WTCONV_BENCH_CUDNN_COUNTED(cudnnConvolutionBackwardData(
            handle, &kOne, wavelet_filter.get(), analysis.raw_data(), bands, dz.raw_data(),
            dwt_conv.get(), l.dwt_bwd_data.algo, ws, workspace_bytes, &kZero, l.padded_desc.get(),
            l.dp.raw_data()));
    }
    if (nl > 0) {
        WTCONV_BENCH_CUDNN_COUNTED(cudnnAddTensor(handle, &kOne, levels[0].in_view.get(),
                                                  levels[0].dp.raw_data(), &kOne, x_desc.get(),
                                                  grads.dx.raw_data()));
    }
    bwd_calls = calls;
}

}  // namespace wtconv::bench
