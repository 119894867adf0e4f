// cuDNN's convolution as the conv2d benchmark's comparator, and its self-check (see
// cudnn_conv2d.h).
#include "cuda/cudnn_conv2d.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <random>
#include <utility>
#include <vector>

#include <cudnn.h>

#include <wtconv/context.h>
#include <wtconv/ops/conv2d.h>

#include "cuda/bench_check.h"
#include "cuda/bench_inputs.h"
#include "cuda/cudnn_util.h"

namespace wtconv::bench {

namespace {

// Scaling factors are float for every data type but double (cuDNN's "scaling parameters").
constexpr float kOne = 1.0f;
constexpr float kZero = 0.0f;
constexpr double kMiB = 1024.0 * 1024.0;

// Indexed by the cudnnConvolution*Algo_t values (cudnn_ops.h).
constexpr const char* kForwardNames[] = {
    "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
    "WINOGRAD",      "WINOGRAD_NONFUSED"};
constexpr const char* kBackwardDataNames[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                              "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kBackwardFilterNames[] = {
    "ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};

template <std::size_t N>
std::string algo_name(const char* const (&names)[N], int algo) {
    return algo >= 0 && algo < static_cast<int>(N) ? names[algo] : "algo " + std::to_string(algo);
}

const char* math_report(cudnnMathType_t math) {
    switch (math) {
        case CUDNN_DEFAULT_MATH:
            return "default";
        case CUDNN_TENSOR_OP_MATH:
            return "tensor_op";
        case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
            return "tensor_op_conversion";
        case CUDNN_FMA_MATH:
            return "fma";
    }
    return "?";
}

cudnnDataType_t data_type(CudnnMath math) {
    switch (math) {
        case CudnnMath::kFma:
        case CudnnMath::kTf32:
            return CUDNN_DATA_FLOAT;
        case CudnnMath::kHalf:
            return CUDNN_DATA_HALF;
        case CudnnMath::kBf16:
            return CUDNN_DATA_BFLOAT16;
    }
    return CUDNN_DATA_FLOAT;
}

// cuDNN's docs (cudnnMathType_t): CUDNN_FMA_MATH is "restricted to only kernels that use FMA
// instructions"; "with NVIDIA Ampere architecture and CUDA toolkit 11, CUDNN_DEFAULT_MATH permits
// TF32 Tensor Core operation and CUDNN_FMA_MATH does not". So fp32 asks for FMA and tf32 for the
// default, as PyTorch does for float32 with allow_tf32 off or on; half data asks for
// CUDNN_TENSOR_OP_MATH (PyTorch's choice for float16). NVIDIA_TF32_OVERRIDE=0 in the environment
// would turn TF32 off behind our back: the tf32 rows' rel_l2_y_vs_fp32 shows it (~1e-7 instead of
// 1e-4 to 1e-3).
cudnnMathType_t math_type(CudnnMath math) {
    switch (math) {
        case CudnnMath::kFma:
            return CUDNN_FMA_MATH;
        case CudnnMath::kTf32:
            return CUDNN_DEFAULT_MATH;
        case CudnnMath::kHalf:
        case CudnnMath::kBf16:
            return CUDNN_TENSOR_OP_MATH;
    }
    return CUDNN_FMA_MATH;
}

int to_int(std::int64_t v) {
    WTCONV_CHECK(v >= 1 && v <= 0x7fffffff, "cudnn conv2d: a size must fit in int, got ", v);
    return static_cast<int>(v);
}

TensorDesc nchw_desc(
    std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, cudnnDataType_t type) {
    TensorDesc desc;
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetTensor4dDescriptor(
        desc.get(), CUDNN_TENSOR_NCHW, type, to_int(n), to_int(c), to_int(h), to_int(w)));
    return desc;
}

// cudnnFind* returns its results fastest first; the first that ran is cuDNN's best in the mode.
// A tensor-op result in FMA mode would mean cuDNN ignored the descriptor, and the float16
// conversion of float32 data is not TF32: both are passed over, so no row runs in another mode.
template <class Perf, std::size_t N>
CudnnChoice pick(const std::vector<Perf>& results,
                 int returned,
                 CudnnMath math,
                 const char* const (&names)[N],
                 const char* op,
                 int* algo) {
    for (int i = 0; i < returned; ++i) {
        const Perf& r = results[static_cast<std::size_t>(i)];
        const bool tensor_op = r.mathType == CUDNN_TENSOR_OP_MATH;
        if (r.status != CUDNN_STATUS_SUCCESS ||
            r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ||
            (math == CudnnMath::kFma && tensor_op)) {
            continue;
        }
        *algo = static_cast<int>(r.algo);
        return CudnnChoice{algo_name(names, *algo), r.memory, r.time, tensor_op,
                           math_report(r.mathType)};
    }
    throw Error(ErrorCode::kNotSupported,
                ::wtconv::detail::concat("cudnn conv2d: none of ", returned, " ", op,
                                         " algorithms runs in ", cudnn_math_name(math), " math"));
}

std::string describe_choice(const char* direction, const CudnnChoice& c) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "%s %s (%s, %.1f MiB, find %.3f ms)", direction, c.algo.c_str(),
                  c.math_report.c_str(), static_cast<double>(c.workspace) / kMiB,
                  static_cast<double>(c.find_ms));
    return buf;
}

void check_arg(const Tensor& t, const Shape& shape, DType dtype, const char* what) {
    WTCONV_CHECK(t.defined() && t.device().is_cuda() && t.dtype() == dtype && t.shape() == shape,
                 "cudnn conv2d: ", what, " must be ", dtype_name(dtype), " ", shape,
                 " on CUDA, got ", t.defined() ? dtype_name(t.dtype()) : "undefined", " ",
                 t.shape());
}

}  // namespace

const char* cudnn_math_name(CudnnMath math) {
    switch (math) {
        case CudnnMath::kFma:
            return "fp32";
        case CudnnMath::kTf32:
            return "tf32";
        case CudnnMath::kHalf:
            return "fp16";
        case CudnnMath::kBf16:
            return "bf16";
    }
    return "?";
}

DType cudnn_math_dtype(CudnnMath math) {
    switch (math) {
        case CudnnMath::kFma:
        case CudnnMath::kTf32:
            return DType::kFloat32;
        case CudnnMath::kHalf:
            return DType::kFloat16;
        case CudnnMath::kBf16:
            return DType::kBFloat16;
    }
    return DType::kFloat32;
}

struct CudnnConv2d::Impl {
    DType dtype = DType::kFloat32;
    Shape x_shape, w_shape, b_shape, y_shape;
    cudnnHandle_t handle = nullptr;
    TensorDesc x_desc, y_desc, bias_desc;
    FilterDesc w_desc;
    ConvDesc conv;
    CudnnChoice fwd, bwd_data, bwd_filter;
    int fwd_algo = 0, bwd_data_algo = 0, bwd_filter_algo = 0;
    Tensor y, dx, dw, db, workspace;
    std::size_t workspace_bytes = 0;

    Impl() = default;
    ~Impl() {
        if (handle != nullptr) {
            cudnnDestroy(handle);
        }
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
};

CudnnConv2d::CudnnConv2d(
    const Conv2dProblem& problem, CudnnMath math, bool backward, int device, cudaStream_t stream)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.dtype = cudnn_math_dtype(math);
    const Conv2dProblem& p = problem;
    m.x_shape = {p.n, p.c, p.h, p.w};
    m.w_shape = {p.o, p.c, p.k, p.k};
    m.b_shape = {p.o};
    m.y_shape = {p.n, p.o, p.ho(), p.wo()};
    WTCONV_BENCH_CUDA_CHECK(cudaSetDevice(device));
    WTCONV_BENCH_CUDNN_CHECK(cudnnCreate(&m.handle));
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetStream(m.handle, stream));

    const cudnnDataType_t type = data_type(math);
    m.x_desc = nchw_desc(p.n, p.c, p.h, p.w, type);
    m.y_desc = nchw_desc(p.n, p.o, p.ho(), p.wo(), type);
    m.bias_desc = nchw_desc(1, p.o, 1, 1, type);
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetFilter4dDescriptor(m.w_desc.get(), type, CUDNN_TENSOR_NCHW,
                                                        to_int(p.o), to_int(p.c), p.k, p.k));
    // float32 accumulation in every mode: for half data the "pseudo-half" configuration, as
    // PyTorch runs it, and what our half kernels do.
    WTCONV_BENCH_CUDNN_CHECK(
        cudnnSetConvolution2dDescriptor(m.conv.get(), p.pad, p.pad, p.stride, p.stride, 1, 1,
                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetConvolutionMathType(m.conv.get(), math_type(math)));

    // The searches allocate their own scratch (the non-Ex cudnnFind*); no workspace cap, so the
    // comparator is cuDNN's best whatever it costs in memory, which the row reports.
    int count = 0;
    int returned = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(m.handle, &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(static_cast<std::size_t>(count));
    WTCONV_BENCH_CUDNN_CHECK(
        cudnnFindConvolutionForwardAlgorithm(m.handle, m.x_desc.get(), m.w_desc.get(), m.conv.get(),
                                             m.y_desc.get(), count, &returned, fwd.data()));
    m.fwd = pick(fwd, returned, math, kForwardNames, "forward", &m.fwd_algo);
    m.workspace_bytes = m.fwd.workspace;
    const Device gpu = Device::cuda(device);
    m.y = Tensor::empty(m.y_shape, m.dtype, gpu);
    if (backward) {
        WTCONV_BENCH_CUDNN_CHECK(
            cudnnGetConvolutionBackwardDataAlgorithmMaxCount(m.handle, &count));
        std::vector<cudnnConvolutionBwdDataAlgoPerf_t> data(static_cast<std::size_t>(count));
        WTCONV_BENCH_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(
            m.handle, m.w_desc.get(), m.y_desc.get(), m.conv.get(), m.x_desc.get(), count,
            &returned, data.data()));
        m.bwd_data =
            pick(data, returned, math, kBackwardDataNames, "backward-data", &m.bwd_data_algo);
        WTCONV_BENCH_CUDNN_CHECK(
            cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(m.handle, &count));
        std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> filter(static_cast<std::size_t>(count));
        WTCONV_BENCH_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
            m.handle, m.x_desc.get(), m.y_desc.get(), m.conv.get(), m.w_desc.get(), count,
            &returned, filter.data()));
        m.bwd_filter = pick(filter, returned, math, kBackwardFilterNames, "backward-filter",
                            &m.bwd_filter_algo);
        m.workspace_bytes =
            std::max({m.workspace_bytes, m.bwd_data.workspace, m.bwd_filter.workspace});
        m.dx = Tensor::empty(m.x_shape, m.dtype, gpu);
        m.dw = Tensor::empty(m.w_shape, m.dtype, gpu);
        m.db = Tensor::empty(m.b_shape, m.dtype, gpu);
    }
    // One byte more than needed: a zero-byte tensor would hand cuDNN no pointer at all.
    m.workspace =
        Tensor::empty({static_cast<std::int64_t>(m.workspace_bytes) + 1}, DType::kUInt8, gpu);
}

CudnnConv2d::~CudnnConv2d() = default;

void CudnnConv2d::forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    Impl& m = *impl_;
    check_arg(x, m.x_shape, m.dtype, "x");
    check_arg(weight, m.w_shape, m.dtype, "weight");
    check_arg(bias, m.b_shape, m.dtype, "bias");
    WTCONV_BENCH_CUDNN_CHECK(cudnnConvolutionForward(
        m.handle, &kOne, m.x_desc.get(), x.raw_data(), m.w_desc.get(), weight.raw_data(),
        m.conv.get(), static_cast<cudnnConvolutionFwdAlgo_t>(m.fwd_algo), m.workspace.raw_data(),
        m.workspace_bytes, &kZero, m.y_desc.get(), m.y.raw_data()));
    WTCONV_BENCH_CUDNN_CHECK(cudnnAddTensor(m.handle, &kOne, m.bias_desc.get(), bias.raw_data(),
                                            &kOne, m.y_desc.get(), m.y.raw_data()));
}

void CudnnConv2d::backward(const Tensor& x, const Tensor& dy, const Tensor& weight) {
    Impl& m = *impl_;
    WTCONV_CHECK(m.dx.defined(), "cudnn conv2d: backward of a comparator made without backward");
    check_arg(x, m.x_shape, m.dtype, "x");
    check_arg(dy, m.y_shape, m.dtype, "dy");
    check_arg(weight, m.w_shape, m.dtype, "weight");
    WTCONV_BENCH_CUDNN_CHECK(cudnnConvolutionBackwardData(
        m.handle, &kOne, m.w_desc.get(), weight.raw_data(), m.y_desc.get(), dy.raw_data(),
        m.conv.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(m.bwd_data_algo),
        m.workspace.raw_data(), m.workspace_bytes, &kZero, m.x_desc.get(), m.dx.raw_data()));
    WTCONV_BENCH_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
        m.handle, &kOne, m.x_desc.get(), x.raw_data(), m.y_desc.get(), dy.raw_data(), m.conv.get(),
        static_cast<cudnnConvolutionBwdFilterAlgo_t>(m.bwd_filter_algo), m.workspace.raw_data(),
        m.workspace_bytes, &kZero, m.w_desc.get(), m.dw.raw_data()));
    WTCONV_BENCH_CUDNN_CHECK(cudnnConvolutionBackwardBias(m.handle, &kOne, m.y_desc.get(),
                                                          dy.raw_data(), &kZero, m.bias_desc.get(),
                                                          m.db.raw_data()));
}

const Tensor& CudnnConv2d::y() const {
    return impl_->y;
}
const Tensor& CudnnConv2d::dx() const {
    return impl_->dx;
}
const Tensor& CudnnConv2d::dw() const {
    return impl_->dw;
}
const Tensor& CudnnConv2d::db() const {
    return impl_->db;
}
const CudnnChoice& CudnnConv2d::forward_choice() const {
    return impl_->fwd;
}
const CudnnChoice& CudnnConv2d::backward_data_choice() const {
    return impl_->bwd_data;
}
const CudnnChoice& CudnnConv2d::backward_filter_choice() const {
    return impl_->bwd_filter;
}
std::size_t CudnnConv2d::workspace_bytes() const {
    return impl_->workspace_bytes;
}

std::string CudnnConv2d::describe() const {
    const Impl& m = *impl_;
    std::string s = describe_choice("fwd", m.fwd);
    if (!m.bwd_data.algo.empty()) {
        s += " | " + describe_choice("bwd-data", m.bwd_data) + " | " +
             describe_choice("bwd-filter", m.bwd_filter);
    }
    return s;
}

namespace {

// float32 sums of at most C k k = 4608 products (dW: N Ho Wo = 25088 at batch 2) against float64:
// ~1e-7 seen for FMA kernels, a few 1e-6 for cuDNN's FFT and Winograd transforms. A wrong pad,
// stride, layout or bias costs O(1).
constexpr double kSelfCheckTolerance = 1e-5;

// The worst relative L2 difference of y, dx, dw, db, and which it was.
std::pair<double, const char*> check_problem(const Conv2dProblem& p,
                                             int device,
                                             cudaStream_t stream,
                                             std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const Tensor x = random_normal(rng, {p.n, p.c, p.h, p.w}, 1.0f);
    const auto fan_in = static_cast<float>(p.c * p.k * p.k);
    const Tensor w = random_normal(rng, {p.o, p.c, p.k, p.k}, 1.0f / std::sqrt(fan_in));
    const Tensor b = random_normal(rng, {p.o}, 1.0f);
    const Tensor dy = random_normal(rng, {p.n, p.o, p.ho(), p.wo()}, 1.0f);

    const Device gpu = Device::cuda(device);
    const Tensor xd = x.to(gpu);
    const Tensor wd = w.to(gpu);
    const Tensor bd = b.to(gpu);
    const Tensor dyd = dy.to(gpu);
    CudnnConv2d cudnn(p, CudnnMath::kFma, true, device, stream);
    cudnn.forward(xd, wd, bd);
    cudnn.backward(xd, dyd, wd);
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));

    Context cpu(Device::cpu());
    Conv2dParams params;
    params.stride_h = params.stride_w = p.stride;
    params.pad_h = params.pad_w = p.pad;
    const Conv2dWeights w64{w.to(DType::kFloat64), b.to(DType::kFloat64)};
    Conv2dSaved saved;
    const Tensor y = conv2d_forward(cpu, x.to(DType::kFloat64), w64, params, &saved);
    const Conv2dGrads g = conv2d_backward(cpu, dy.to(DType::kFloat64), w64, params, saved);

    const std::pair<const char*, double> errors[] = {
        {"y", rel_l2(host_values(cudnn.y()), host_values(y))},
        {"dx", rel_l2(host_values(cudnn.dx()), host_values(g.dx))},
        {"dw", rel_l2(host_values(cudnn.dw()), host_values(g.dweights.weight))},
        {"db", rel_l2(host_values(cudnn.db()), host_values(g.dweights.bias))},
    };
    std::pair<double, const char*> worst{0.0, "y"};
    for (const auto& [name, e] : errors) {
        if (!(e <= worst.first)) {  // NaN counts as the worst, so that it fails
            worst = {e, name};
        }
    }
    return worst;
}

}  // namespace

bool cudnn_conv2d_self_check(const std::vector<Conv2dProblem>& problems,
                             int device,
                             cudaStream_t stream,
                             std::FILE* out) {
    bool ok = true;
    std::uint64_t seed = 500;
    for (Conv2dProblem p : problems) {
        p.n = 2;  // every shape at a size the float64 CPU reference runs in milliseconds
        try {
            const auto [error, name] = check_problem(p, device, stream, seed++);
            const bool pass = error < kSelfCheckTolerance;
            ok = ok && pass;
            std::fprintf(out,
                         "self-check cudnn fp32 vs CPU float64, %-30s worst rel L2 %.2e (%s) %s\n",
                         p.shape_name().c_str(), error, name, pass ? "ok" : "FAILED");
        } catch (const std::exception& e) {
            ok = false;
            std::fprintf(out, "self-check cudnn fp32 vs CPU float64, %-30s FAILED: %s\n",
                         p.shape_name().c_str(), e.what());
        }
    }
    std::fflush(out);
    return ok;
}

}  // namespace wtconv::bench
