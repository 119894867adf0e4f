// wtconv2d on CUDA: our fused and direct (baseline) algorithms in float32, fused in bfloat16, and
// the cuDNN-composed comparator, forward and forward+backward, on the shapes. Each row is
// the CUDA-event median of repeated calls with inputs rotated past L2, held against the GPU's
// copy bandwidth and FMA peak measured in the same process, and ours are checked against the
// comparator on the same inputs. The comparator itself is checked against the CPU first.
//   bench_wtconv2d_cuda [--self_check] [--gpu_warmup=N] [--gpu_reps=N] [benchmark flags]
//   JSON: --benchmark_out=f.json --benchmark_out_format=json. Without a GPU it says so, exits 0.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <wtconv/cuda_memory.h>
#include <wtconv/wtconv.h>

#include "cuda/bench_check.h"
#include "cuda/bench_inputs.h"
#include "cuda/bench_session.h"
#include "cuda/cudnn_wtconv2d.h"
#include "cuda/gpu_data.h"
#include "cuda/gpu_peak.h"
#include "cuda/gpu_summary.h"
#include "cuda/gpu_timer.h"
#include "cuda/gpu_work.h"
#include "cuda/self_check.h"

namespace wtconv::bench {
namespace {

constexpr int kDevice = 0;
// Input sets are rotated until they span this many bytes: over twice the H100's 50 MB L2, so no
// call finds its input left in L2 by an earlier one.
constexpr double kRotationBytes = 128e6;
constexpr double kMiB = 1024.0 * 1024.0;

enum class Impl { kCudnn, kFused, kDirect, kFusedBf16 };

const char* impl_name(Impl impl) {
    switch (impl) {
        case Impl::kCudnn:
            return "cudnn";
        case Impl::kFused:
            return "fused";
        case Impl::kDirect:
            return "direct";
        case Impl::kFusedBf16:
            return "fused_bf16";
    }
    return "?";
}

// The comparator's outputs on input set 0, the yardstick for our rows.
struct Reference {
    std::vector<double> y, dx;
    std::vector<std::pair<std::string, std::vector<double>>> dweights;  // named_tensors order
};

// One configuration's inputs, shared by its rows and dropped before the next configuration's.
struct Fixture {
    GpuProblem problem{};
    WTConvParams params;
    std::vector<Tensor> x, dy;  // float32 on the device, rotated
    WTConvWeights w;
    std::vector<Tensor> x_bf16, dy_bf16;  // made on first use
    WTConvWeights w_bf16;
    std::unique_ptr<CudnnWTConv2d> cudnn;  // made on first use (its algorithm search takes time)
    std::optional<Reference> reference;
};

struct Env {
    cudaStream_t stream = nullptr;
    Context* ctx = nullptr;
    GpuPeaks peaks;
    GpuTimerOptions timer;
    GpuSummary summary;
    std::unique_ptr<Fixture> fixture;
    int fixture_index = -1;
};

// Enough sets that together they span kRotationBytes of minimum traffic, and at least 2.
int rotation_sets(const GpuProblem& p, double elem_bytes) {
    return std::max(2,
                    static_cast<int>(std::ceil(kRotationBytes / min_bytes(p, false, elem_bytes))));
}

std::uint64_t input_seed(int index, int set, bool is_dy) {
    return 1000ULL * static_cast<std::uint64_t>(index + 1) + 2ULL * set + (is_dy ? 1 : 0);
}

Tensor device_normal(const Shape& shape, std::uint64_t seed, cudaStream_t stream) {
    Tensor t = Tensor::empty(shape, DType::kFloat32, Device::cuda(kDevice));
    fill_normal_f32(t.data<float>(), t.numel(), seed, 1.0f, stream);
    return t;
}

Tensor device_bf16(const Tensor& f32, cudaStream_t stream) {
    Tensor t = Tensor::empty(f32.shape(), DType::kBFloat16, f32.device());
    convert_f32_to_bf16(f32.data<float>(), t.raw_data(), f32.numel(), stream);
    return t;
}

Fixture& fixture_for(Env& env, int index) {
    if (env.fixture_index == index) {
        return *env.fixture;
    }
    env.fixture.reset();  // free the previous configuration's buffers first
    env.fixture_index = -1;
    auto f = std::make_unique<Fixture>();
    const GpuProblem& p = kGpuProblems[index];
    f->problem = p;
    f->params.kernel_size = p.kernel_size;
    f->params.levels = p.levels;
    f->params.stride = 1;
    f->params.bias = true;
    f->params.wavelet = "db1";
    const Shape shape{p.n, p.c, p.h, p.w};
    for (int s = 0; s < rotation_sets(p, 4); ++s) {
        f->x.push_back(device_normal(shape, input_seed(index, s, false), env.stream));
        f->dy.push_back(device_normal(shape, input_seed(index, s, true), env.stream));
    }
    std::mt19937_64 rng(static_cast<std::uint64_t>(index) + 7);
    f->w = weights_to(random_weights(rng, p.c, f->params), Device::cuda(kDevice));
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
    env.fixture = std::move(f);
    env.fixture_index = index;
    return *env.fixture;
}

// The bfloat16 sets round the float32 sets of the same seeds; more of them, as each is smaller.
void ensure_bf16(Env& env, Fixture& f) {
    if (!f.x_bf16.empty()) {
        return;
    }
    const Shape shape{f.problem.n, f.problem.c, f.problem.h, f.problem.w};
    for (int s = 0; s < rotation_sets(f.problem, 2); ++s) {
        const Tensor x = device_normal(shape, input_seed(env.fixture_index, s, false), env.stream);
        const Tensor dy = device_normal(shape, input_seed(env.fixture_index, s, true), env.stream);
        f.x_bf16.push_back(device_bf16(x, env.stream));
        f.dy_bf16.push_back(device_bf16(dy, env.stream));
        // x and dy are freed here on the legacy stream, which waits for the conversions.
    }
    const auto to_bf16 = [&](const Tensor& t) { return device_bf16(t, env.stream); };
    f.w_bf16.base_weight = to_bf16(f.w.base_weight);
    if (f.w.base_bias.defined()) {
        f.w_bf16.base_bias = to_bf16(f.w.base_bias);
    }
    f.w_bf16.base_scale = to_bf16(f.w.base_scale);
    for (std::size_t i = 0; i < f.w.wavelet_weight.size(); ++i) {
        f.w_bf16.wavelet_weight.push_back(to_bf16(f.w.wavelet_weight[i]));
        f.w_bf16.wavelet_scale.push_back(to_bf16(f.w.wavelet_scale[i]));
    }
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
}

CudnnWTConv2d& comparator(Env& env, Fixture& f) {
    if (!f.cudnn) {
        CudnnWTConv2dConfig cfg;
        cfg.n = f.problem.n;
        cfg.c = f.problem.c;
        cfg.h = f.problem.h;
        cfg.w = f.problem.w;
        cfg.kernel_size = f.problem.kernel_size;
        cfg.levels = f.problem.levels;
        f.cudnn = std::make_unique<CudnnWTConv2d>(cfg, kDevice, env.stream);
        std::fprintf(stderr, "cudnn comparator %s: %.1f MiB, algorithms (cudnnFind):\n%s",
                     gpu_problem_name(f.problem).c_str(),
                     static_cast<double>(f.cudnn->total_bytes()) / kMiB,
                     f.cudnn->algorithms().c_str());
    }
    return *f.cudnn;
}

const Reference& reference(Env& env, Fixture& f) {
    if (!f.reference) {
        CudnnWTConv2d& c = comparator(env, f);
        Reference r;
        const Tensor& y = c.forward(f.x[0], f.w);
        WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
        r.y = host_values(y);
        const WTConvGrads& g = c.backward(f.x[0], f.dy[0], f.w);
        WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
        r.dx = host_values(g.dx);
        for (const auto& [name, t] : named_tensors(g.dweights)) {
            r.dweights.emplace_back(name, host_values(*t));
        }
        f.reference = std::move(r);
    }
    return *f.reference;
}

// The counters every row carries, from the median and the configuration's minimum work.
void set_rate_counters(
    benchmark::State& state, const GpuTimes& t, double bytes, double flops, const GpuPeaks& peaks) {
    const double s = t.median_ms * 1e-3;
    const double gbs = bytes / s * 1e-9;
    const double tflops = flops / s * 1e-12;
    const double floor_s =
        std::max(bytes / (peaks.copy_gbs * 1e9), flops / (peaks.fma_tflops * 1e12));
    state.counters["ms"] = t.median_ms;
    state.counters["min_ms"] = t.min_ms;
    state.counters["p90_ms"] = t.p90_ms;
    state.counters["GB_per_s"] = gbs;
    state.counters["pct_copy_bw"] = 100.0 * gbs / peaks.copy_gbs;
    state.counters["TFLOP_per_s"] = tflops;
    state.counters["pct_fma_peak"] = 100.0 * tflops / peaks.fma_tflops;
    state.counters["floor_ms"] = floor_s * 1e3;
    state.counters["x_floor"] = s / floor_s;
}

// The most device memory one call holds beyond what was allocated before it (outputs included).
double peak_extra_bytes(Env& env, const std::function<void()>& call) {
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
    const std::size_t before = cuda_memory_stats(kDevice).allocated_bytes;
    cuda_reset_peak_memory(kDevice);
    call();
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
    const std::size_t peak = cuda_memory_stats(kDevice).peak_allocated_bytes;
    return peak > before ? static_cast<double>(peak - before) : 0.0;
}

// "wavelet_weight_2" -> "wavelet_weight": levels share one counter, their worst.
std::string without_level(const std::string& name) {
    const std::size_t cut = name.find_last_of('_');
    const bool numbered = cut != std::string::npos && cut + 1 < name.size() &&
                          name.find_first_not_of("0123456789", cut + 1) == std::string::npos;
    return numbered ? name.substr(0, cut) : name;
}

// Ours against the comparator on input set 0; the forward+backward rows add every gradient and
// the bitwise repeat of the weight gradients.
void check_ours(benchmark::State& state,
                Env& env,
                Fixture& f,
                const std::vector<Tensor>& xs,
                const std::vector<Tensor>& dys,
                const WTConvWeights& w,
                const WTConvParams& params,
                bool fb) {
    const Reference& ref = reference(env, f);
    if (!fb) {
        state.counters["rel_l2_y"] =
            rel_l2(host_values(wtconv2d_forward(*env.ctx, xs[0], w, params)), ref.y);
        return;
    }
    WTConvSaved saved;
    const Tensor y = wtconv2d_forward(*env.ctx, xs[0], w, params, &saved);
    const WTConvGrads g = wtconv2d_backward(*env.ctx, dys[0], w, params, saved);
    const WTConvGrads again = wtconv2d_backward(*env.ctx, dys[0], w, params, saved);
    state.counters["rel_l2_y"] = rel_l2(host_values(y), ref.y);
    state.counters["rel_l2_dx"] = rel_l2(host_values(g.dx), ref.dx);
    const auto got = named_tensors(g.dweights);
    const auto repeat = named_tensors(again.dweights);
    std::map<std::string, double> worst;
    WTCONV_CHECK(got.size() == repeat.size() && got.size() == ref.dweights.size(),
                 "bench: ", got.size(), " weight gradients, the comparator has ",
                 ref.dweights.size());
    bool bitwise = true;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double e = rel_l2(host_values(*got[i].second), ref.dweights[i].second);
        double& slot = worst["rel_l2_d" + without_level(got[i].first)];
        slot = std::isnan(e) || std::isnan(slot) ? std::numeric_limits<double>::quiet_NaN()
                                                 : std::max(slot, e);
        bitwise = bitwise && same_bytes(*got[i].second, *repeat[i].second);
    }
    for (const auto& [name, e] : worst) {
        state.counters[name] = e;
    }
    state.counters["grads_bitwise_repeat"] = bitwise ? 1.0 : 0.0;
}

void run_ours(benchmark::State& state, Env& env, Fixture& f, Impl impl, bool fb) {
    WTConvParams params = f.params;
    params.algo = impl == Impl::kDirect ? WTConvAlgo::kDirect : WTConvAlgo::kFused;
    const bool bf16 = impl == Impl::kFusedBf16;
    if (bf16) {
        ensure_bf16(env, f);
    }
    const std::vector<Tensor>& xs = bf16 ? f.x_bf16 : f.x;
    const std::vector<Tensor>& dys = bf16 ? f.dy_bf16 : f.dy;
    const WTConvWeights& w = bf16 ? f.w_bf16 : f.w;
    const int sets = static_cast<int>(xs.size());
    Context& ctx = *env.ctx;
    // Outputs (and the saved state) are allocated by the op and freed here, inside the timed span.
    std::function<void(int)> call = [&](int i) {
        const Tensor y = wtconv2d_forward(ctx, xs[static_cast<std::size_t>(i % sets)], w, params);
    };
    if (fb) {
        call = [&](int i) {
            const auto s = static_cast<std::size_t>(i % sets);
            WTConvSaved saved;
            const Tensor y = wtconv2d_forward(ctx, xs[s], w, params, &saved);
            const WTConvGrads g = wtconv2d_backward(ctx, dys[s], w, params, saved);
        };
    }
    const GpuTimes t = time_gpu_calls(env.stream, call, env.timer);
    state.SetIterationTime(t.median_ms * 1e-3);
    const GpuProblem& p = f.problem;
    set_rate_counters(state, t, min_bytes(p, fb, bf16 ? 2 : 4), min_flops(p, fb), env.peaks);
    state.counters["peak_extra_MiB"] = peak_extra_bytes(env, [&] { call(0); }) / kMiB;
    if (impl != Impl::kDirect) {
        const double fast = fb ? p.fast_fb_ms : p.fast_fwd_ms;
        state.counters["fast_impl_ms"] = fast;
        state.counters["speedup_vs_fast"] = fast / t.median_ms;
    }
    const std::string name = gpu_problem_name(p);
    const double cudnn_ms = env.summary.ms(name, fb ? "fwdbwd" : "fwd", "cudnn");
    if (!std::isnan(cudnn_ms)) {
        state.counters["speedup_vs_cudnn"] = cudnn_ms / t.median_ms;
    }
    env.summary.record(name, fb ? "fwdbwd" : "fwd", impl_name(impl), t.median_ms,
                       state.counters["x_floor"].value);
    try {
        check_ours(state, env, f, xs, dys, w, params, fb);
    } catch (const std::exception& e) {
        state.SetLabel(std::string("no check against the comparator: ") + e.what());
    }
}

void run_cudnn(benchmark::State& state, Env& env, Fixture& f, bool fb) {
    CudnnWTConv2d& c = comparator(env, f);
    const int sets = static_cast<int>(f.x.size());
    std::function<void(int)> call = [&](int i) {
        c.forward(f.x[static_cast<std::size_t>(i % sets)], f.w);
    };
    if (fb) {
        call = [&](int i) {
            const auto s = static_cast<std::size_t>(i % sets);
            c.forward(f.x[s], f.w);
            c.backward(f.x[s], f.dy[s], f.w);
        };
    }
    const GpuTimes t = time_gpu_calls(env.stream, call, env.timer);
    state.SetIterationTime(t.median_ms * 1e-3);
    const GpuProblem& p = f.problem;
    set_rate_counters(state, t, min_bytes(p, fb, 4), min_flops(p, fb), env.peaks);
    state.counters["peak_extra_MiB"] =
        static_cast<double>(fb ? c.total_bytes() : c.forward_bytes()) / kMiB;
    state.counters["cudnn_calls"] = c.forward_calls() + (fb ? c.backward_calls() : 0);
    const double eager = fb ? p.eager_fb_ms : p.eager_fwd_ms;
    state.counters["eager_pytorch_ms"] = eager;
    state.counters["eager_over_cudnn"] = eager / t.median_ms;
    env.summary.record(gpu_problem_name(p), fb ? "fwdbwd" : "fwd", "cudnn", t.median_ms,
                       state.counters["x_floor"].value);
}

void bm_row(benchmark::State& state, Env& env, int index, Impl impl, bool fb) {
    for (auto _ : state) {
        try {
            Fixture& f = fixture_for(env, index);
            if (impl == Impl::kCudnn) {
                run_cudnn(state, env, f, fb);
            } else {
                run_ours(state, env, f, impl, fb);
            }
        } catch (const Error& e) {
            // kNotSupported: this build or dtype has no such kernel yet; the row says why.
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

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
    return buf;
}

int run(int argc, char** argv) {
    const BenchFlags flags = take_bench_flags(&argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    if (!cuda_device_present("bench_wtconv2d_cuda")) {
        return 0;
    }
    CudaBenchSession session(kDevice);
    Env env;
    env.stream = session.stream();
    env.ctx = &session.context();
    env.timer = flags.timer;

    // The comparator judges our rows, so it is judged first, against the CPU in float64.
    const GpuProblem& first = kGpuProblems[0];
    const bool checked = comparator_self_check(
        kDevice, env.stream, {first.n, first.c, first.h, first.w, first.kernel_size, first.levels},
        stdout);
    if (flags.self_check_only || !checked) {
        if (!checked) {
            std::printf(
                "the cuDNN comparator disagrees with the CPU implementation: not benchmarking\n");
        }
        return checked ? 0 : 1;
    }

    env.peaks = measure_gpu_peaks(kDevice, env.stream);
    benchmark::AddCustomContext(
        "gpu", env.peaks.name + ", " + std::to_string(env.peaks.sm_count) + " SMs");
    benchmark::AddCustomContext(
        "copy_bandwidth_gbs",
        fixed(env.peaks.copy_gbs, 1) + " (measured: 256 MB device-to-device, read + write)");
    benchmark::AddCustomContext("fp32_fma_peak_tflops", fixed(env.peaks.fma_tflops, 2) +
                                                            " (measured: FMA chains on every SM)");
    benchmark::AddCustomContext("cudnn_version", std::to_string(cudnnGetVersion()));
    benchmark::AddCustomContext("timing",
                                timing_context(env.timer, "inputs rotated over >= 128 MB"));
    benchmark::AddCustomContext("comparator",
                                "cuDNN-composed (bench/cuda/cudnn_wtconv2d.h), float32, FMA math");
    benchmark::AddCustomContext("work", "bench/cuda/gpu_work.h");

    const Impl impls[] = {Impl::kCudnn, Impl::kFused, Impl::kDirect, Impl::kFusedBf16};
    const int count = static_cast<int>(std::size(kGpuProblems));
    for (int index = 0; index < count; ++index) {
        const std::string shape = gpu_problem_name(kGpuProblems[index]);
        for (const bool fb : {false, true}) {
            for (const Impl impl : impls) {
                const std::string name = std::string("wtconv2d_cuda/") + (fb ? "fwdbwd/" : "fwd/") +
                                         impl_name(impl) + "/" + shape;
                benchmark::RegisterBenchmark(name.c_str(),
                                             [&env, index, impl, fb](benchmark::State& state) {
                                                 bm_row(state, env, index, impl, fb);
                                             })
                    ->UseManualTime()
                    ->Iterations(1)
                    ->Repetitions(1)
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (flags.console) {
        env.summary.print(stdout);
    }
    return 0;
}

}  // namespace
}  // namespace wtconv::bench

int main(int argc, char** argv) {
    return wtconv::bench::bench_main("bench_wtconv2d_cuda", wtconv::bench::run, argc, argv);
}
