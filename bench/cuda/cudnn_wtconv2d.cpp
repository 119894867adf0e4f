// The cuDNN-composed comparator: set-up (descriptors, algorithm search, buffers), forward,
// backward. Stage names follow WTCONV.md sections 4 and 6.2.
#include "cuda/cudnn_wtconv2d.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include <cudnn.h>

#include <wtconv/wavelets.h>

#include "cuda/bench_check.h"
#include "cuda/cudnn_util.h"
#include "cuda/cudnn_wtconv2d_impl.h"

namespace wtconv::bench {

namespace {

constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;
// Candidates that need more scratch than this are passed over: the comparator's memory stays
// comparable to what a framework would grant one layer.
constexpr std::size_t kMaxWorkspace = std::size_t{512} << 20;

// The (4C, 1, F, F) analysis (D_k) or synthesis (R_k) filters of WTCONV.md section 2: each tap a
// product of two doubles rounded once to float (Haar: exactly +-0.5f), as the library does.
Tensor wavelet_filters(const WaveletFilterBank& bank, std::int64_t c, bool analysis, int device) {
    const std::size_t f = bank.dec_lo.size();
    std::vector<double> lo(f);
    std::vector<double> hi(f);
    for (std::size_t t = 0; t < f; ++t) {
        lo[t] = analysis ? bank.dec_lo[f - 1 - t] : bank.rec_lo[t];
        hi[t] = analysis ? bank.dec_hi[f - 1 - t] : bank.rec_hi[t];
    }
    std::vector<float> values;
    values.reserve(static_cast<std::size_t>(c) * kBands * f * f);
    for (std::int64_t ch = 0; ch < c; ++ch) {
        for (int band = 0; band < kBands; ++band) {
            // Band 1 (LH) is high-pass down the rows, band 2 (HL) along the columns, 3 both.
            const std::vector<double>& rows = (band == 1 || band == 3) ? hi : lo;
            const std::vector<double>& cols = (band == 2 || band == 3) ? hi : lo;
            for (std::size_t a = 0; a < f; ++a) {
                for (std::size_t b = 0; b < f; ++b) {
                    values.push_back(static_cast<float>(rows[a] * cols[b]));
                }
            }
        }
    }
    const auto fl = static_cast<std::int64_t>(f);
    return Tensor::from_vector(values, {kBands * c, 1, fl, fl}).to(Device::cuda(device));
}

Shape shape_of(const Dims4& d) {
    return {d.n, d.c, d.h, d.w};
}

std::string describe(const CudnnWTConv2dConfig& c) {
    std::ostringstream out;
    out << "N" << c.n << " C" << c.c << " " << c.h << "x" << c.w << " K" << c.kernel_size << " L"
        << c.levels << " s" << c.stride;
    return out.str();
}

}  // namespace

CudnnWTConv2d::Impl::Impl(const CudnnWTConv2dConfig& c, int dev, cudaStream_t s)
    : cfg(c), device(dev), stream(s) {
    WTCONV_CHECK_CODE(cfg.kernel_size >= 1 && cfg.kernel_size % 2 == 1, ErrorCode::kNotSupported,
                      "cudnn comparator: kernel_size must be odd, got ", cfg.kernel_size);
    WTCONV_CHECK(
        cfg.levels >= 0 && cfg.stride >= 1 && cfg.n >= 1 && cfg.c >= 1 && cfg.h >= 1 && cfg.w >= 1,
        "cudnn comparator: bad configuration ", describe(cfg));
    WTCONV_BENCH_CUDA_CHECK(cudaSetDevice(device));
    WTCONV_BENCH_CUDNN_CHECK(cudnnCreate(&handle));
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetStream(handle, stream));

    x_dims = {cfg.n, cfg.c, cfg.h, cfg.w};
    out_dims = {cfg.n, cfg.c, (cfg.h - 1) / cfg.stride + 1, (cfg.w - 1) / cfg.stride + 1};
    x_desc = packed_desc(x_dims);
    out_desc = packed_desc(out_dims);
    subsample_view = strided_desc(out_dims, cfg.c * cfg.h * cfg.w, cfg.h * cfg.w,
                                  cfg.stride * cfg.w, cfg.stride);
    channel_desc = packed_desc({1, cfg.c, 1, 1});
    const int k = cfg.kernel_size;
    base_filter = filter_desc(cfg.c, 1, k, k);
    level_filter = filter_desc(kBands * cfg.c, 1, k, k);
    base_conv = conv_desc((k - 1) / 2, 1, static_cast<int>(cfg.c));
    level_conv = conv_desc((k - 1) / 2, 1, static_cast<int>(kBands * cfg.c));

    const WaveletFilterBank bank = wavelet_filter_bank(cfg.wavelet);
    const auto f = static_cast<std::int64_t>(bank.dec_lo.size());
    wavelet_filter = filter_desc(kBands * cfg.c, 1, f, f);
    // p = F/2 - 1 zeros on every side on top of the even padding (WTCONV.md 3.2, 3.3).
    dwt_conv = conv_desc(static_cast<int>(f / 2 - 1), 2, static_cast<int>(cfg.c));
    analysis = wavelet_filters(bank, cfg.c, true, device);
    synthesis = wavelet_filters(bank, cfg.c, false, device);

    WTCONV_BENCH_CUDNN_CHECK(cudnnSetOpTensorDescriptor(mul.get(), CUDNN_OP_TENSOR_MUL,
                                                        CUDNN_DATA_FLOAT, CUDNN_NOT_PROPAGATE_NAN));
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetReduceTensorDescriptor(
        sum.get(), CUDNN_REDUCE_TENSOR_ADD, CUDNN_DATA_FLOAT, CUDNN_NOT_PROPAGATE_NAN,
        CUDNN_REDUCE_TENSOR_NO_INDICES, CUDNN_32BIT_INDICES));

    plan_levels();
    choose_algorithms();
    allocate();
}

Tensor CudnnWTConv2d::Impl::buffer(const Shape& shape, std::size_t* bytes) const {
    Tensor t = Tensor::zeros(shape, DType::kFloat32, Device::cuda(device));
    *bytes += t.nbytes();
    return t;
}

void CudnnWTConv2d::Impl::plan_levels() {
    std::int64_t h = cfg.h;
    std::int64_t w = cfg.w;
    for (int i = 0; i < cfg.levels; ++i) {
        LevelPlan l;
        const std::int64_t he = h + h % 2;
        const std::int64_t we = w + w % 2;
        l.in = {cfg.n, cfg.c, h, w};
        l.padded = {cfg.n, cfg.c, he, we};
        l.bands = {cfg.n, kBands * cfg.c, he / 2, we / 2};
        l.band = {cfg.n, cfg.c, he / 2, we / 2};
        l.pads = he != h || we != w;
        l.padded_desc = packed_desc(l.padded);
        l.in_view = crop_desc(l.in, he, we);
        l.bands_desc = packed_desc(l.bands);
        l.ll_view = band_desc(l.band, kBands);
        l.scale_desc = packed_desc({1, kBands * cfg.c, 1, 1});
        levels.push_back(std::move(l));
        h = he / 2;
        w = we / 2;
    }
}

void CudnnWTConv2d::Impl::choose_algorithms() {
    std::size_t ws = 0;
    const auto note = [&](const char* what, int level, int algo, std::size_t bytes, float ms) {
        algos << what << (level >= 0 ? " L" + std::to_string(level) : std::string()) << ": algo "
              << algo << ", " << bytes << " B, " << ms << " ms\n";
        ws = std::max(ws, bytes);
    };
    base_fwd = find_forward_algo(handle, x_desc, base_filter, base_conv, x_desc, kMaxWorkspace);
    note("base fwd", -1, base_fwd.algo, base_fwd.workspace, base_fwd.find_ms);
    base_bwd_data =
        find_backward_data_algo(handle, base_filter, x_desc, base_conv, x_desc, kMaxWorkspace);
    note("base bwd-data", -1, base_bwd_data.algo, base_bwd_data.workspace, base_bwd_data.find_ms);
    base_bwd_filter =
        find_backward_filter_algo(handle, x_desc, x_desc, base_conv, base_filter, kMaxWorkspace);
    note("base bwd-filter", -1, base_bwd_filter.algo, base_bwd_filter.workspace,
         base_bwd_filter.find_ms);
    std::size_t reduce_ws = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnGetReductionWorkspaceSize(handle, sum.get(), x_desc.get(),
                                                            channel_desc.get(), &reduce_ws));
    ws = std::max(ws, reduce_ws);
    for (std::size_t i = 0; i < levels.size(); ++i) {
        LevelPlan& l = levels[i];
        const int li = static_cast<int>(i);
        // The DWT's descriptors also serve the IDWT's adjoint (a forward conv with R_k) and the
        // IDWT serves the DWT's adjoint (backward data with D_k): same shapes, same choice.
        l.dwt_fwd = find_forward_algo(handle, l.padded_desc, wavelet_filter, dwt_conv, l.bands_desc,
                                      kMaxWorkspace);
        note("dwt fwd", li, l.dwt_fwd.algo, l.dwt_fwd.workspace, l.dwt_fwd.find_ms);
        l.dwt_bwd_data = find_backward_data_algo(handle, wavelet_filter, l.bands_desc, dwt_conv,
                                                 l.padded_desc, kMaxWorkspace);
        note("idwt (bwd-data)", li, l.dwt_bwd_data.algo, l.dwt_bwd_data.workspace,
             l.dwt_bwd_data.find_ms);
        l.conv_fwd = find_forward_algo(handle, l.bands_desc, level_filter, level_conv, l.bands_desc,
                                       kMaxWorkspace);
        note("level fwd", li, l.conv_fwd.algo, l.conv_fwd.workspace, l.conv_fwd.find_ms);
        l.conv_bwd_data = find_backward_data_algo(handle, level_filter, l.bands_desc, level_conv,
                                                  l.bands_desc, kMaxWorkspace);
        note("level bwd-data", li, l.conv_bwd_data.algo, l.conv_bwd_data.workspace,
             l.conv_bwd_data.find_ms);
        l.conv_bwd_filter = find_backward_filter_algo(handle, l.bands_desc, l.bands_desc,
                                                      level_conv, level_filter, kMaxWorkspace);
        note("level bwd-filter", li, l.conv_bwd_filter.algo, l.conv_bwd_filter.workspace,
             l.conv_bwd_filter.find_ms);
        WTCONV_BENCH_CUDNN_CHECK(cudnnGetReductionWorkspaceSize(
            handle, sum.get(), l.bands_desc.get(), l.scale_desc.get(), &reduce_ws));
        ws = std::max(ws, reduce_ws);
    }
    workspace_bytes = ws;
}

void CudnnWTConv2d::Impl::allocate() {
    const Shape x_shape = shape_of(x_dims);
    const std::int64_t c = cfg.c;
    const std::int64_t k = cfg.kernel_size;
    // Forward: B, base_scale * B + R_0, y when strided, and per level P_i (where a side is odd or
    // the level reads the previous LL), Z_i, V_i, S_i and the uncropped R_i.
    base_out = buffer(x_shape, &fwd_bytes);
    y_full = buffer(x_shape, &fwd_bytes);
    y = cfg.stride > 1 ? buffer(shape_of(out_dims), &fwd_bytes) : y_full;
    std::int64_t largest_bands = 0;
    for (std::size_t i = 0; i < levels.size(); ++i) {
        LevelPlan& l = levels[i];
        if (i > 0 || l.pads) {
            l.p = buffer(shape_of(l.padded), &fwd_bytes);
        }
        l.z = buffer(shape_of(l.bands), &fwd_bytes);
        l.v = buffer(shape_of(l.bands), &fwd_bytes);
        l.s = buffer(shape_of(l.bands), &fwd_bytes);
        l.r = buffer(shape_of(l.padded), &fwd_bytes);
        largest_bands = std::max(largest_bands, l.bands.numel());
    }
    workspace = buffer({static_cast<std::int64_t>((workspace_bytes + 3) / 4) + 1}, &fwd_bytes);

    // Backward: G when strided, one scratch for the products behind the scale gradients, the
    // level-gradient buffers reused across levels, per level dR_i extended, dT_i and dP_i.
    if (cfg.stride > 1) {
        g = buffer(x_shape, &bwd_bytes);
    }
    scratch = buffer({std::max(x_dims.numel(), largest_bands)}, &bwd_bytes);
    gb = buffer(x_shape, &bwd_bytes);
    if (largest_bands > 0) {
        dv = buffer({largest_bands}, &bwd_bytes);
        dz = buffer({largest_bands}, &bwd_bytes);
    }
    for (std::size_t i = 0; i < levels.size(); ++i) {
        LevelPlan& l = levels[i];
        if (i > 0 || l.pads) {
            l.dr = buffer(shape_of(l.padded), &bwd_bytes);
        }
        l.dt = buffer(shape_of(l.bands), &bwd_bytes);
        l.dp = buffer(shape_of(l.padded), &bwd_bytes);
    }
    grads.dx = buffer(x_shape, &bwd_bytes);
    grads.dweights.base_weight = buffer({c, 1, k, k}, &bwd_bytes);
    if (cfg.bias) {
        grads.dweights.base_bias = buffer({c}, &bwd_bytes);
    }
    grads.dweights.base_scale = buffer({c}, &bwd_bytes);
    for (std::size_t i = 0; i < levels.size(); ++i) {
        grads.dweights.wavelet_weight.push_back(buffer({kBands * c, 1, k, k}, &bwd_bytes));
        grads.dweights.wavelet_scale.push_back(buffer({kBands * c}, &bwd_bytes));
    }
    // Tensor::zeros may fill on another stream; the first call must see the zeros.
    WTCONV_BENCH_CUDA_CHECK(cudaDeviceSynchronize());
}

void CudnnWTConv2d::Impl::check_inputs(const Tensor& x, const WTConvWeights& w) const {
    const char* op = "cudnn comparator";
    const Device dev = Device::cuda(device);
    const std::int64_t c = cfg.c;
    const std::int64_t k = cfg.kernel_size;
    const auto check = [&](const char* name, const Tensor& t, const Shape& shape) {
        check_device(op, name, t, dev);
        check_dtype(op, name, t, DType::kFloat32);
        check_shape(op, name, t, shape);
    };
    check("x", x, shape_of(x_dims));
    check("base_weight", w.base_weight, {c, 1, k, k});
    if (cfg.bias) {
        check("base_bias", w.base_bias, {c});
    }
    check("base_scale", w.base_scale, {c});
    WTCONV_CHECK(
        w.wavelet_weight.size() == levels.size() && w.wavelet_scale.size() == levels.size(), op,
        ": weights must have ", levels.size(), " levels, got ", w.wavelet_weight.size());
    for (std::size_t i = 0; i < levels.size(); ++i) {
        check("wavelet_weight", w.wavelet_weight[i], {kBands * c, 1, k, k});
        check("wavelet_scale", w.wavelet_scale[i], {kBands * c});
    }
}

CudnnWTConv2d::CudnnWTConv2d(const CudnnWTConv2dConfig& config, int device, cudaStream_t stream)
    : impl_(std::make_unique<Impl>(config, device, stream)) {}

CudnnWTConv2d::~CudnnWTConv2d() = default;

const Tensor& CudnnWTConv2d::forward(const Tensor& x, const WTConvWeights& w) {
    impl_->check_inputs(x, w);
    impl_->forward(x, w);
    return impl_->y;
}

const WTConvGrads& CudnnWTConv2d::backward(const Tensor& x,
                                           const Tensor& dy,
                                           const WTConvWeights& w) {
    impl_->check_inputs(x, w);
    check_device("cudnn comparator", "dy", dy, Device::cuda(impl_->device));
    check_dtype("cudnn comparator", "dy", dy, DType::kFloat32);
    check_shape("cudnn comparator", "dy", dy, shape_of(impl_->out_dims));
    impl_->backward(x, dy, w);
    return impl_->grads;
}

std::size_t CudnnWTConv2d::forward_bytes() const {
    return impl_->fwd_bytes;
}

std::size_t CudnnWTConv2d::total_bytes() const {
    return impl_->fwd_bytes + impl_->bwd_bytes;
}

int CudnnWTConv2d::forward_calls() const {
    return impl_->fwd_calls;
}

int CudnnWTConv2d::backward_calls() const {
    return impl_->bwd_calls;
}

std::string CudnnWTConv2d::algorithms() const {
    return impl_->algos.str();
}

}  // namespace wtconv::bench
