// Input sets, tensor-core rates and the summary table of the CUDA conv2d benchmark (see
// conv2d_cuda_support.h).
#include "cuda/conv2d_cuda_support.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <cublas_v2.h>

#include <wtconv/context.h>
#include <wtconv/cuda_memory.h>

#include "cuda/bench_check.h"
#include "cuda/gpu_data.h"

#define WTCONV_BENCH_CUBLAS_CHECK(expr)                                                        \
    do {                                                                                       \
        const cublasStatus_t wtconv_bench_cublas_status_ = (expr);                             \
        if (wtconv_bench_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                            \
            ::wtconv::bench::detail::throw_call_error(                                         \
                "cublas", #expr, cublasGetStatusString(wtconv_bench_cublas_status_), __FILE__, \
                __LINE__);                                                                     \
        }                                                                                      \
    } while (false)

namespace wtconv::bench {

namespace {

constexpr double kRotationBytes = 128e6;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor device_normal(
    const Shape& shape, std::uint64_t seed, float stddev, int device, cudaStream_t stream) {
    Tensor t = Tensor::empty(shape, DType::kFloat32, Device::cuda(device));
    fill_normal_f32(t.data<float>(), t.numel(), seed, stddev, stream);
    return t;
}

// float32 values rounded once to dtype: bfloat16 on the device, float16 through the host (the
// benchmark's tools have no float16 kernel).
Tensor as_dtype(const Tensor& f32, DType dtype, cudaStream_t stream) {
    if (dtype == DType::kFloat32) {
        return f32;
    }
    if (dtype == DType::kFloat16) {
        WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));
        return f32.to(Device::cpu()).to(dtype).to(f32.device());
    }
    WTCONV_CHECK(dtype == DType::kBFloat16, "conv2d bench: no inputs in ", dtype_name(dtype));
    Tensor t = Tensor::empty(f32.shape(), dtype, f32.device());
    convert_f32_to_bf16(f32.data<float>(), t.raw_data(), f32.numel(), stream);
    return t;
}

struct F32Set {
    Tensor x, weight, bias, dy;
};

F32Set f32_set(const Conv2dProblem& p, std::uint64_t seed, int device, cudaStream_t stream) {
    const auto fan_in = static_cast<float>(p.c * p.k * p.k);
    return F32Set{
        device_normal({p.n, p.c, p.h, p.w}, seed, 1.0f, device, stream),
        device_normal({p.o, p.c, p.k, p.k}, seed + 1, 1.0f / std::sqrt(fan_in), device, stream),
        device_normal({p.o}, seed + 2, 0.1f, device, stream),
        device_normal({p.n, p.o, p.ho(), p.wo()}, seed + 3, 1.0f, device, stream)};
}

// Symmetric per-channel scales: the largest |w| of each output channel maps to 127.
Tensor channel_scales(const Tensor& w) {
    const std::int64_t o = w.size(0);
    const std::int64_t per = w.numel() / o;
    const float* data = w.data<float>();
    std::vector<float> scale(static_cast<std::size_t>(o));
    for (std::int64_t i = 0; i < o; ++i) {
        float amax = 0.0f;
        for (std::int64_t j = 0; j < per; ++j) {
            amax = std::max(amax, std::abs(data[i * per + j]));
        }
        scale[static_cast<std::size_t>(i)] = amax / 127.0f;
    }
    return Tensor::from_vector(scale, Shape{o});
}

// Owns a cuBLAS handle; destroyed without throwing.
class CublasHandle {
public:
    CublasHandle() { WTCONV_BENCH_CUBLAS_CHECK(cublasCreate(&handle_)); }
    ~CublasHandle() { cublasDestroy(handle_); }
    CublasHandle(const CublasHandle&) = delete;
    CublasHandle& operator=(const CublasHandle&) = delete;
    cublasHandle_t get() const { return handle_; }

private:
    cublasHandle_t handle_ = nullptr;
};

double gemm_tflops(int device, cudaStream_t stream, bool tf32) {
    constexpr int kSize = 8192;
    const Shape shape{kSize, kSize};
    const DType dtype = tf32 ? DType::kFloat32 : DType::kBFloat16;
    const Tensor a = as_dtype(device_normal(shape, 1, 1.0f, device, stream), dtype, stream);
    const Tensor b = as_dtype(device_normal(shape, 2, 1.0f, device, stream), dtype, stream);
    Tensor c = Tensor::empty(shape, dtype, Device::cuda(device));
    const cudaDataType_t type = tf32 ? CUDA_R_32F : CUDA_R_16BF;
    const cublasComputeType_t compute = tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const float one = 1.0f;
    const float zero = 0.0f;
    CublasHandle handle;
    WTCONV_BENCH_CUBLAS_CHECK(cublasSetStream(handle.get(), stream));
    const GpuTimes t = time_gpu_calls(
        stream,
        [&](int) {
            WTCONV_BENCH_CUBLAS_CHECK(cublasGemmEx(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, kSize,
                                                   kSize, kSize, &one, a.raw_data(), type, kSize,
                                                   b.raw_data(), type, kSize, &zero, c.raw_data(),
                                                   type, kSize, compute, CUBLAS_GEMM_DEFAULT));
        },
        GpuTimerOptions{2, 5});
    return 2.0 * kSize * kSize * static_cast<double>(kSize) / (t.median_ms * 1e-3) * 1e-12;
}

std::string fixed(double v, const char* format) {
    if (std::isnan(v)) {
        return "-";
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}

}  // namespace

int conv2d_rotation_sets(const Conv2dProblem& p, std::size_t elem_bytes) {
    const double bytes = p.forward_bytes() * static_cast<double>(elem_bytes) / 4.0;
    return std::max(2, static_cast<int>(std::ceil(kRotationBytes / bytes)));
}

Conv2dSets make_conv2d_sets(
    const Conv2dProblem& p, std::uint64_t seed, DType dtype, int device, cudaStream_t stream) {
    Conv2dSets s;
    const int count = conv2d_rotation_sets(p, dtype_size(dtype));
    for (int k = 0; k < count; ++k) {
        const F32Set v = f32_set(p, seed + 4ULL * static_cast<std::uint64_t>(k), device, stream);
        s.x.push_back(as_dtype(v.x, dtype, stream));
        s.dy.push_back(as_dtype(v.dy, dtype, stream));
        s.w.push_back(
            Conv2dWeights{as_dtype(v.weight, dtype, stream), as_dtype(v.bias, dtype, stream)});
    }
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));
    return s;
}

Conv2dInt8Sets make_conv2d_int8_sets(const Conv2dProblem& p,
                                     std::uint64_t seed,
                                     const ActivationQuant& input,
                                     int device,
                                     cudaStream_t stream) {
    const Device gpu = Device::cuda(device);
    ContextOptions options;
    options.cuda_stream = stream;
    Context ctx(gpu, options);
    Conv2dInt8Sets s;
    const int count = conv2d_rotation_sets(p, 1);
    for (int k = 0; k < count; ++k) {
        const F32Set v = f32_set(p, seed + 4ULL * static_cast<std::uint64_t>(k), device, stream);
        s.x.push_back(quantize_activation(ctx, v.x, input));
        WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));
        const Tensor w = v.weight.to(Device::cpu());
        const Conv2dInt8Weights q =
            quantize_conv2d_weights(Conv2dWeights{w, v.bias.to(Device::cpu())}, channel_scales(w));
        s.w.push_back(to_device(q, gpu));
    }
    return s;
}

TensorCorePeaks measure_tensor_core_peaks(int device, cudaStream_t stream) {
    TensorCorePeaks peaks;
    peaks.tf32_tflops = gemm_tflops(device, stream, true);
    peaks.half_tflops = gemm_tflops(device, stream, false);
    return peaks;
}

double conv2d_flops(const Conv2dProblem& p, bool fb) {
    return fb ? p.forward_backward_flops() : p.forward_flops();
}

double conv2d_bytes(const Conv2dProblem& p, bool fb, std::size_t elem_bytes) {
    return (fb ? p.forward_backward_bytes() : p.forward_bytes()) * static_cast<double>(elem_bytes) /
           4.0;
}

void set_rate_counters(benchmark::State& state,
                       const GpuTimes& t,
                       double flops,
                       double bytes,
                       double copy_gbs,
                       double peak_tflops) {
    const double s = t.median_ms * 1e-3;
    state.SetIterationTime(s);
    state.counters["ms"] = t.median_ms;
    state.counters["min_ms"] = t.min_ms;
    state.counters["p90_ms"] = t.p90_ms;
    state.counters["TFLOP_per_s"] = flops / s * 1e-12;
    if (!std::isnan(peak_tflops)) {
        const double floor_s = std::max(bytes / (copy_gbs * 1e9), flops / (peak_tflops * 1e12));
        state.counters["pct_peak"] = 100.0 * flops / s * 1e-12 / peak_tflops;
        state.counters["floor_ms"] = floor_s * 1e3;
        state.counters["x_floor"] = s / floor_s;
    }
}

bool record_errors(benchmark::State& state,
                   const std::vector<std::pair<std::string, double>>& errors,
                   double tol,
                   std::string* why) {
    bool ok = true;
    for (const auto& [name, e] : errors) {
        state.counters["rel_l2_" + name] = e;
        if (!(e <= tol)) {
            ok = false;
            char buf[96];
            std::snprintf(buf, sizeof(buf), "%s %.2e > %.0e; ", name.c_str(), e, tol);
            *why += buf;
        }
    }
    return ok;
}

double peak_extra_bytes(int device, cudaStream_t stream, const std::function<void(int)>& call) {
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::size_t before = cuda_memory_stats(device).allocated_bytes;
    cuda_reset_peak_memory(device);
    call(0);
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));
    const std::size_t peak = cuda_memory_stats(device).peak_allocated_bytes;
    return peak > before ? static_cast<double>(peak - before) : 0.0;
}

std::string Conv2dSummary::key(const Conv2dProblem& p,
                               const char* mode,
                               bool fb,
                               const char* impl) {
    return p.shape_name() + "/" + mode + (fb ? "/fwdbwd/" : "/fwd/") + impl;
}

double Conv2dSummary::ms(const std::string& key) const {
    const auto it = ms_.find(key);
    return it == ms_.end() ? kNaN : it->second;
}

// "-" when the row did not run, "FAIL" when its check failed.
std::string Conv2dSummary::cell(const std::string& key) const {
    return failed_.count(key) != 0 ? "FAIL" : fixed(ms(key), "%.3f");
}

void Conv2dSummary::print(const std::vector<Conv2dProblem>& problems, std::FILE* out) const {
    const char* modes[] = {"fp32", "tf32", "fp16", "bf16"};
    std::fprintf(out,
                 "\nconv2d CUDA summary: median ms at batch %lld; impl = our implicit GEMM forward "
                 "(kAuto: its backward is img2col's), i2c = img2col, cud = cuDNN's best in the "
                 "mode; impl/cud < 1: ours faster; int8 x = fp16 impl fwd / int8 fwd\n",
                 static_cast<long long>(problems.empty() ? 0 : problems.front().n));
    std::fprintf(out, "%-14s %-4s | %8s %8s %8s %8s | %8s %8s %8s %8s | %6s\n", "layer", "mode",
                 "impl fwd", "i2c fwd", "cud fwd", "impl/cud", "impl f+b", "i2c f+b", "cud f+b",
                 "impl/cud", "int8 x");
    for (const Conv2dProblem& p : problems) {
        for (const char* m : modes) {
            std::string line;
            for (const bool fb : {false, true}) {
                const std::string impl = key(p, m, fb, "implicit");
                const std::string cud = key(p, m, fb, "cudnn");
                char buf[64];
                std::snprintf(buf, sizeof(buf), " %8s %8s %8s %8s |", cell(impl).c_str(),
                              cell(key(p, m, fb, "img2col")).c_str(), cell(cud).c_str(),
                              fixed(ms(impl) / ms(cud), "%.2f").c_str());
                line += buf;
            }
            // The int8 speed-up sits on the fp16 line, the forward it is held against.
            std::string int8;
            if (std::string(m) == "fp16") {
                const std::string q = key(p, "int8", false, "dp4a");
                int8 = failed_.count(q) != 0
                           ? "FAIL"
                           : fixed(ms(key(p, m, false, "implicit")) / ms(q), "%.2f");
            }
            std::fprintf(out, "%-14s %-4s |%s %6s\n", p.name, m, line.c_str(), int8.c_str());
        }
    }
    std::fflush(out);
}

}  // namespace wtconv::bench
