// conv2d on CUDA, ResNet-18's convolutions at batch 32 (issue 5, section 4): ours, implicit GEMM
// and img2col (column matrix + cuBLAS), against cuDNN's best algorithm in the same math mode
// (float32 FMA, TF32, float16; bfloat16 forward only), forward and forward+backward, and our int8
// forward against our float16 one. Every row of ours is checked against cuDNN on the same inputs
// before it is timed (CUDA-event median, inputs and weights rotated past L2), and held against the
// peak of its math mode measured in the same process. cuDNN itself is checked against the CPU.
//   bench_conv2d_cuda [--self_check] [--gpu_warmup=N] [--gpu_reps=N] [benchmark flags]
//   WTCONV_BENCH_CONV2D_BATCH changes the batch (default 32). Without a GPU it says so, exits 0.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <wtconv/ops/conv2d.h>
#include <wtconv/ops/conv2d_int8.h>

#include "cuda/bench_check.h"
#include "cuda/bench_inputs.h"
#include "cuda/bench_session.h"
#include "cuda/conv2d_cuda_support.h"
#include "cuda/cudnn_conv2d.h"
#include "cuda/gpu_peak.h"
#include "cuda/gpu_timer.h"
#include "support/conv2d_work.h"

namespace wtconv::bench {
namespace {

constexpr int kDevice = 0;
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The same list as bench_conv2d.cpp's, so CPU and GPU figures line up.
// TODO(#5): one list in support/conv2d_work.h for both.
constexpr Conv2dProblem kProblems[] = {
    {"stem 7x7/2", 0, 3, 224, 224, 64, 7, 2, 3},    {"layer1 3x3", 0, 64, 56, 56, 64, 3, 1, 1},
    {"layer2 3x3/2", 0, 64, 56, 56, 128, 3, 2, 1},  {"layer2 1x1/2", 0, 64, 56, 56, 128, 1, 2, 0},
    {"layer2 3x3", 0, 128, 28, 28, 128, 3, 1, 1},   {"layer3 3x3/2", 0, 128, 28, 28, 256, 3, 2, 1},
    {"layer3 1x1/2", 0, 128, 28, 28, 256, 1, 2, 0}, {"layer3 3x3", 0, 256, 14, 14, 256, 3, 1, 1},
    {"layer4 3x3/2", 0, 256, 14, 14, 512, 3, 2, 1}, {"layer4 1x1/2", 0, 256, 14, 14, 512, 1, 2, 0},
    {"layer4 3x3", 0, 512, 7, 7, 512, 3, 1, 1},
};
constexpr CudnnMath kModes[] = {CudnnMath::kFma, CudnnMath::kTf32, CudnnMath::kHalf,
                                CudnnMath::kBf16};

enum class Impl { kCudnn, kImplicit, kImg2col, kInt8 };
const char* impl_name(Impl impl) {
    switch (impl) {
        case Impl::kCudnn:
            return "cudnn";
        case Impl::kImplicit:
            return "implicit";
        case Impl::kImg2col:
            return "img2col";
        case Impl::kInt8:
            return "dp4a";
    }
    return "?";
}

bool has_backward(CudnnMath mode) {
    return mode != CudnnMath::kBf16;
}

// Ours against cuDNN, relative L2. fp32: both sum exact float32 products, ~1e-7 apart, up to a few
// 1e-6 when cuDNN picks an FFT or Winograd transform, and the weight gradient's sums of N Ho Wo
// (100k) terms differ by 1.6e-5 at layer1 (measured), so 1e-4; the tests hold ours to 1e-5
// against a double reference. tf32: each side's inputs rounded (or
// truncated) to 10 mantissa bits, ~5e-4 each. fp16 and bf16: the same products, each output
// rounded once (2^-11, 2^-8). Any indexing error costs O(1).
double tolerance(CudnnMath mode) {
    switch (mode) {
        case CudnnMath::kFma:
            return 1e-4;
        case CudnnMath::kTf32:
        case CudnnMath::kHalf:
            return 5e-3;
        case CudnnMath::kBf16:
            return 2e-2;
    }
    return 0;
}
// int8 against cuDNN float32: the input, weight and output quantisation steps each add ~0.9% rms
// (a step of 8/255 on unit-variance values, the weights' step of amax/127), ~1.6% in all.
constexpr double kInt8Tolerance = 5e-2;

struct Reference {  // cuDNN's results on set 0
    std::vector<double> y, dx, dw, db;
};

// One problem's inputs and comparators, dropped before the next problem's.
struct Fixture {
    Conv2dProblem problem{};
    Conv2dParams params;
    std::uint64_t seed = 0;
    std::map<DType, Conv2dSets> sets;  // made on first use; fp32 and tf32 share float32
    Conv2dInt8Sets int8_sets;
    Conv2dInt8Params int8;
    std::map<CudnnMath, std::unique_ptr<CudnnConv2d>> cudnn;
    std::map<CudnnMath, Reference> refs;
};

struct Env {
    cudaStream_t stream = nullptr;
    Context* ctx = nullptr;
    GpuPeaks peaks;
    TensorCorePeaks tensor_core;
    GpuTimerOptions timer;
    std::vector<Conv2dProblem> problems;
    Conv2dSummary summary;
    std::unique_ptr<Fixture> fixture;
    int fixture_index = -1;
};

std::string row_key(const Conv2dProblem& p, CudnnMath mode, bool fb, Impl impl) {
    return Conv2dSummary::key(p, impl == Impl::kInt8 ? "int8" : cudnn_math_name(mode), fb,
                              impl_name(impl));
}

Fixture& fixture_for(Env& env, int index) {
    if (env.fixture_index != index) {
        env.fixture.reset();  // free the previous problem's buffers first
        env.fixture = std::make_unique<Fixture>();
        env.fixture_index = index;
        Fixture& f = *env.fixture;
        f.problem = env.problems[static_cast<std::size_t>(index)];
        f.seed = 100000ULL * static_cast<std::uint64_t>(index + 1);
        f.params.stride_h = f.params.stride_w = f.problem.stride;
        f.params.pad_h = f.params.pad_w = f.problem.pad;
        f.int8.conv = f.params;
        f.int8.input = ActivationQuant{8.0f / 255.0f, 128, 0, 255};  // N(0, 1) within +-4
        f.int8.output = ActivationQuant{8.0f / 255.0f, 128, 0, 255};
        f.int8.algo = Conv2dInt8Algo::kDp4a;  // named, so that the row cannot run another
    }
    return *env.fixture;
}

const Conv2dSets& sets_for(Env& env, Fixture& f, DType dtype) {
    auto it = f.sets.find(dtype);
    if (it == f.sets.end()) {
        it = f.sets.emplace(dtype, make_conv2d_sets(f.problem, f.seed, dtype, kDevice, env.stream))
                 .first;
    }
    return it->second;
}

CudnnConv2d& comparator(Env& env, Fixture& f, CudnnMath mode) {
    std::unique_ptr<CudnnConv2d>& c = f.cudnn[mode];
    if (!c) {
        c = std::make_unique<CudnnConv2d>(f.problem, mode, has_backward(mode), kDevice, env.stream);
        std::fprintf(stderr, "cudnn %s %s: %s\n", cudnn_math_name(mode),
                     f.problem.shape_name().c_str(), c->describe().c_str());
    }
    return *c;
}

const Reference& reference(Env& env, Fixture& f, CudnnMath mode) {
    const auto it = f.refs.find(mode);
    if (it != f.refs.end()) {
        return it->second;
    }
    CudnnConv2d& c = comparator(env, f, mode);
    const Conv2dSets& s = sets_for(env, f, cudnn_math_dtype(mode));
    c.forward(s.x[0], s.w[0].weight, s.w[0].bias);
    if (has_backward(mode)) {
        c.backward(s.x[0], s.dy[0], s.w[0].weight);
    }
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
    Reference r;
    r.y = host_values(c.y());
    if (has_backward(mode)) {
        r.dx = host_values(c.dx());
        r.dw = host_values(c.dw());
        r.db = host_values(c.db());
    }
    return f.refs.emplace(mode, std::move(r)).first->second;
}

double peak_for(const Env& env, CudnnMath mode) {
    switch (mode) {
        case CudnnMath::kFma:
            return env.peaks.fma_tflops;
        case CudnnMath::kTf32:
            return env.tensor_core.tf32_tflops;
        case CudnnMath::kHalf:
        case CudnnMath::kBf16:
            return env.tensor_core.half_tflops;
    }
    return kNaN;
}

bool run_cudnn(benchmark::State& state, Env& env, Fixture& f, CudnnMath mode, bool fb) {
    CudnnConv2d& c = comparator(env, f, mode);
    const Conv2dSets& s = sets_for(env, f, cudnn_math_dtype(mode));
    if (mode == CudnnMath::kTf32) {  // ~1e-7 here would mean cuDNN's "tf32" ran FMA kernels
        state.counters["rel_l2_y_vs_fp32"] =
            rel_l2(reference(env, f, mode).y, reference(env, f, CudnnMath::kFma).y);
    }
    const auto n = s.x.size();
    const GpuTimes t = time_gpu_calls(
        env.stream,
        [&](int i) {
            const auto k = static_cast<std::size_t>(i) % n;
            c.forward(s.x[k], s.w[k].weight, s.w[k].bias);
            if (fb) {
                c.backward(s.x[k], s.dy[k], s.w[k].weight);
            }
        },
        env.timer);
    const std::size_t elem = dtype_size(cudnn_math_dtype(mode));
    set_rate_counters(state, t, conv2d_flops(f.problem, fb), conv2d_bytes(f.problem, fb, elem),
                      env.peaks.copy_gbs, peak_for(env, mode));
    const CudnnChoice& fwd = c.forward_choice();
    state.counters["workspace_MiB"] =
        static_cast<double>(fb ? c.workspace_bytes() : fwd.workspace) / kMiB;
    state.counters["tensor_op_reported"] =
        fwd.tensor_op &&
        (!fb || (c.backward_data_choice().tensor_op && c.backward_filter_choice().tensor_op));
    state.SetLabel(fb ? c.describe() : "fwd " + fwd.algo + " (" + fwd.math_report + ")");
    env.summary.record(row_key(f.problem, mode, fb, Impl::kCudnn), t.median_ms);
    return true;
}

bool run_ours(benchmark::State& state, Env& env, Fixture& f, CudnnMath mode, Impl impl, bool fb) {
    Conv2dParams params = f.params;
    params.algo = impl == Impl::kImg2col ? Conv2dAlgo::kImg2col : Conv2dAlgo::kImplicitGemm;
    params.allow_tf32 = mode == CudnnMath::kTf32;
    const Conv2dSets& s = sets_for(env, f, cudnn_math_dtype(mode));
    Context& ctx = *env.ctx;
    const std::string key = row_key(f.problem, mode, fb, impl);

    // The check comes first: a row that disagrees with cuDNN is reported failed, never timed.
    const Reference& ref = reference(env, f, mode);
    Conv2dSaved saved;
    const std::vector<double> y = host_values(conv2d_forward(ctx, s.x[0], s.w[0], params, &saved));
    std::vector<std::pair<std::string, double>> errors = {{"y", rel_l2(y, ref.y)}};
    if (fb) {
        const Conv2dGrads g = conv2d_backward(ctx, s.dy[0], s.w[0], params, saved);
        errors.emplace_back("dx", rel_l2(host_values(g.dx), ref.dx));
        errors.emplace_back("dw", rel_l2(host_values(g.dweights.weight), ref.dw));
        errors.emplace_back("db", rel_l2(host_values(g.dweights.bias), ref.db));
    }
    if (mode == CudnnMath::kTf32) {  // ~1e-7 here would mean our "tf32" ran FMA kernels
        state.counters["rel_l2_y_vs_fp32"] = rel_l2(y, reference(env, f, CudnnMath::kFma).y);
    }
    std::string why;
    if (!record_errors(state, errors, tolerance(mode), &why)) {
        env.summary.record_failed(key);
        state.SkipWithError(("check against cudnn failed: " + why).c_str());
        return false;
    }

    // Outputs (and the saved state) are allocated by the op and freed inside the timed span.
    const auto n = s.x.size();
    const std::function<void(int)> call = [&](int i) {
        const auto k = static_cast<std::size_t>(i) % n;
        Conv2dSaved sv;
        const Tensor out = conv2d_forward(ctx, s.x[k], s.w[k], params, fb ? &sv : nullptr);
        if (fb) {
            const Conv2dGrads g = conv2d_backward(ctx, s.dy[k], s.w[k], params, sv);
        }
    };
    const GpuTimes t = time_gpu_calls(env.stream, call, env.timer);
    const std::size_t elem = dtype_size(cudnn_math_dtype(mode));
    set_rate_counters(state, t, conv2d_flops(f.problem, fb), conv2d_bytes(f.problem, fb, elem),
                      env.peaks.copy_gbs, peak_for(env, mode));
    state.counters["peak_extra_MiB"] = peak_extra_bytes(kDevice, env.stream, call) / kMiB;
    const double cudnn_ms = env.summary.ms(row_key(f.problem, mode, fb, Impl::kCudnn));
    if (!std::isnan(cudnn_ms)) {
        state.counters["cudnn_ms"] = cudnn_ms;
        state.counters["ours_over_cudnn"] = t.median_ms / cudnn_ms;
    }
    env.summary.record(key, t.median_ms);
    return true;
}

bool run_int8(benchmark::State& state, Env& env, Fixture& f) {
    if (f.int8_sets.x.empty()) {
        f.int8_sets = make_conv2d_int8_sets(f.problem, f.seed, f.int8.input, kDevice, env.stream);
    }
    const Conv2dInt8Sets& s = f.int8_sets;
    Context& ctx = *env.ctx;
    const std::string key = row_key(f.problem, CudnnMath::kHalf, false, Impl::kInt8);
    // Dequantised, against cuDNN float32 on the float32 values that set 0 quantises.
    std::vector<double> y = host_values(conv2d_int8_forward(ctx, s.x[0], s.w[0], f.int8));
    const ActivationQuant& q = f.int8.output;
    for (double& v : y) {
        v = (v - q.zero_point) * q.scale;
    }
    std::string why;
    if (!record_errors(state, {{"y_vs_fp32", rel_l2(y, reference(env, f, CudnnMath::kFma).y)}},
                       kInt8Tolerance, &why)) {
        env.summary.record_failed(key);
        state.SkipWithError(("check against cudnn fp32 failed: " + why).c_str());
        return false;
    }
    const auto n = s.x.size();
    const GpuTimes t = time_gpu_calls(
        env.stream,
        [&](int i) {
            const auto k = static_cast<std::size_t>(i) % n;
            const Tensor out = conv2d_int8_forward(ctx, s.x[k], s.w[k], f.int8);
        },
        env.timer);
    set_rate_counters(state, t, conv2d_flops(f.problem, false), conv2d_bytes(f.problem, false, 1),
                      env.peaks.copy_gbs, kNaN);
    const double fp16_ms =
        env.summary.ms(row_key(f.problem, CudnnMath::kHalf, false, Impl::kImplicit));
    if (!std::isnan(fp16_ms)) {
        state.counters["fp16_implicit_ms"] = fp16_ms;
        state.counters["speedup_vs_fp16"] = fp16_ms / t.median_ms;
    }
    env.summary.record(key, t.median_ms);
    return true;
}

void bm_row(benchmark::State& state, Env& env, int index, CudnnMath mode, Impl impl, bool fb) {
    for (auto _ : state) {
        try {
            Fixture& f = fixture_for(env, index);
            const bool ran = impl == Impl::kCudnn  ? run_cudnn(state, env, f, mode, fb)
                             : impl == Impl::kInt8 ? run_int8(state, env, f)
                                                   : run_ours(state, env, f, mode, impl, fb);
            if (!ran) {
                break;
            }
        } catch (const Error& e) {
            // kNotSupported: this build, device or dtype has no such kernel yet; the row says so.
            const std::string why =
                e.code() == ErrorCode::kNotSupported ? "not supported: " : "error: ";
            state.SkipWithError((why + e.what()).c_str());
            break;
        } catch (const std::exception& e) {
            state.SkipWithError((std::string("error: ") + e.what()).c_str());
            break;
        }
    }
}

void register_rows(Env& env) {
    const auto add = [&](int index, CudnnMath mode, Impl impl, bool fb) {
        const char* m = impl == Impl::kInt8 ? "int8" : cudnn_math_name(mode);
        const std::string name = std::string("conv2d_cuda/") + (fb ? "fwdbwd/" : "fwd/") + m + "/" +
                                 impl_name(impl) + "/" +
                                 env.problems[static_cast<std::size_t>(index)].shape_name();
        benchmark::RegisterBenchmark(name.c_str(),
                                     [&env, index, mode, impl, fb](benchmark::State& state) {
                                         bm_row(state, env, index, mode, impl, fb);
                                     })
            ->UseManualTime()
            ->Iterations(1)
            ->Repetitions(1)
            ->Unit(benchmark::kMillisecond);
    };
    // cuDNN before ours, so that our rows find its time; int8 after the fp16 forward it is held
    // against.
    for (int index = 0; index < static_cast<int>(env.problems.size()); ++index) {
        for (const CudnnMath mode : kModes) {
            for (const bool fb : {false, true}) {
                if (fb && !has_backward(mode)) {
                    continue;
                }
                for (const Impl impl : {Impl::kCudnn, Impl::kImplicit, Impl::kImg2col}) {
                    add(index, mode, impl, fb);
                }
                if (mode == CudnnMath::kHalf && !fb) {
                    add(index, mode, Impl::kInt8, false);
                }
            }
        }
    }
}

int run(int argc, char** argv) {
    const BenchFlags flags = take_bench_flags(&argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    if (!cuda_device_present("bench_conv2d_cuda")) {
        return 0;
    }
    CudaBenchSession session(kDevice);
    Env env;
    const char* batch_env = std::getenv("WTCONV_BENCH_CONV2D_BATCH");
    const std::int64_t batch = batch_env != nullptr ? std::max(1LL, std::atoll(batch_env)) : 32;
    for (Conv2dProblem p : kProblems) {
        p.n = batch;
        env.problems.push_back(p);
    }
    env.stream = session.stream();
    env.ctx = &session.context();
    env.timer = flags.timer;

    // cuDNN judges our rows, so it is judged first, against the CPU in float64.
    const bool checked = cudnn_conv2d_self_check(env.problems, kDevice, env.stream, stdout);
    if (flags.self_check_only || !checked) {
        if (!checked) {
            std::printf("cuDNN disagrees with the CPU conv2d: not benchmarking\n");
        }
        return checked ? 0 : 1;
    }

    env.peaks = measure_gpu_peaks(kDevice, env.stream);
    env.tensor_core = measure_tensor_core_peaks(kDevice, env.stream);
    const auto fixed = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.1f", v);
        return std::string(buf);
    };
    benchmark::AddCustomContext(
        "gpu", env.peaks.name + ", " + std::to_string(env.peaks.sm_count) + " SMs");
    benchmark::AddCustomContext("copy_bandwidth_gbs",
                                fixed(env.peaks.copy_gbs) + " (256 MB device-to-device)");
    benchmark::AddCustomContext("fp32_fma_peak_tflops",
                                fixed(env.peaks.fma_tflops) + " (FMA chains on every SM)");
    benchmark::AddCustomContext("tf32_peak_tflops", fixed(env.tensor_core.tf32_tflops) +
                                                        " (cuBLAS TF32 GEMM 8192^3, reachable)");
    benchmark::AddCustomContext("half_peak_tflops", fixed(env.tensor_core.half_tflops) +
                                                        " (cuBLAS bf16 GEMM 8192^3, reachable)");
    benchmark::AddCustomContext("int8_peak", "not measured: int8 rows carry no floor");
    benchmark::AddCustomContext("batch", std::to_string(batch));
    benchmark::AddCustomContext("cudnn_version", std::to_string(cudnnGetVersion()));
    benchmark::AddCustomContext("timing",
                                timing_context(env.timer, "inputs rotated over >= 128 MB"));
    benchmark::AddCustomContext("comparator",
                                "cuDNN legacy API, cudnnFind* fastest per shape and mode "
                                "(bench/cuda/cudnn_conv2d.h)");

    register_rows(env);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (flags.console) {
        env.summary.print(env.problems, stdout);
    }
    return 0;
}

}  // namespace
}  // namespace wtconv::bench

int main(int argc, char** argv) {
    return wtconv::bench::bench_main("bench_conv2d_cuda", wtconv::bench::run, argc, argv);
}
