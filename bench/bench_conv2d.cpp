// conv2d on the CPU, float32, ResNet-18's convolutions at batch 32 (issue 5): ours (img2col +
// Eigen GEMM), forward and forward+backward, against oneDNN's primitives (the comparator, in its
// own layouts) and a direct convolution (forward), each held against the measured FMA peak.
// --benchmark_filter picks shapes; WTCONV_BENCH_CONV2D_BATCH changes the batch (default 32).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <omp.h>

#include <wtconv/context.h>
#include <wtconv/ops/conv2d.h>
#include <wtconv/ops/conv2d_int8.h>

#include "support/comparator_report.h"
#include "support/conv2d_work.h"
#include "support/cpu_peak.h"
#include "support/direct_conv2d.h"
#include "support/onednn_conv2d.h"
#include "support/timed_loop.h"

namespace wtconv::bench {
namespace {

// ResNet-18 (torchvision): the stem, each stage's 3x3, the stride-2 3x3 and 1x1 that open stages
// 2-4. Batch filled in at run time.
constexpr Conv2dProblem kProblems[] = {
    {"stem 7x7/2", 0, 3, 224, 224, 64, 7, 2, 3},    {"layer1 3x3", 0, 64, 56, 56, 64, 3, 1, 1},
    {"layer2 3x3/2", 0, 64, 56, 56, 128, 3, 2, 1},  {"layer2 1x1/2", 0, 64, 56, 56, 128, 1, 2, 0},
    {"layer2 3x3", 0, 128, 28, 28, 128, 3, 1, 1},   {"layer3 3x3/2", 0, 128, 28, 28, 256, 3, 2, 1},
    {"layer3 1x1/2", 0, 128, 28, 28, 256, 1, 2, 0}, {"layer3 3x3", 0, 256, 14, 14, 256, 3, 1, 1},
    {"layer4 3x3/2", 0, 256, 14, 14, 512, 3, 2, 1}, {"layer4 1x1/2", 0, 256, 14, 14, 512, 1, 2, 0},
    {"layer4 3x3", 0, 512, 7, 7, 512, 3, 1, 1},
};

// N(0, stddev) float32 on the host: never all zero.
Tensor random_normal(std::mt19937_64& rng, const Shape& shape, float stddev) {
    Tensor t = Tensor::empty(shape, DType::kFloat32);
    std::normal_distribution<float> normal(0.0f, stddev);
    float* data = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        data[i] = normal(rng);
    }
    return t;
}

double rel_l2_error(const Tensor& got, const std::vector<float>& want) {
    const float* g = got.data<float>();
    double diff = 0;
    double norm = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        diff += (static_cast<double>(g[i]) - want[i]) * (static_cast<double>(g[i]) - want[i]);
        norm += static_cast<double>(want[i]) * want[i];
    }
    return std::sqrt(diff / norm);
}

// One problem's inputs, shared by its benchmarks; the comparator is built on first use.
struct Fixture {
    Conv2dProblem problem;
    Conv2dParams params;
    Tensor x, dy;
    Conv2dWeights w;
    std::unique_ptr<OnednnConv2d> onednn;
    // The same layer in int8: x and the weights quantised as a converted QAT model would hold
    // them (per-tensor input, per-channel symmetric weights), the output scale from the float
    // output's spread.
    Tensor x_q;
    Conv2dInt8Weights w_q;
    Conv2dInt8Params int8;

    Fixture(const Conv2dProblem& p, std::uint64_t seed) : problem(p) {
        params.stride_h = params.stride_w = p.stride;
        params.pad_h = params.pad_w = p.pad;
        std::mt19937_64 rng(seed);
        x = random_normal(rng, Shape{p.n, p.c, p.h, p.w}, 1.0f);
        // PyTorch's initial scale: the output stays near unit variance.
        w.weight = random_normal(rng, Shape{p.o, p.c, p.k, p.k},
                                 1.0f / std::sqrt(static_cast<float>(p.c * p.k * p.k)));
        w.bias = random_normal(rng, Shape{p.o}, 0.1f);
        dy = random_normal(rng, Shape{p.n, p.o, p.ho(), p.wo()}, 1.0f);
        Context ctx;
        int8.conv = params;
        int8.input = ActivationQuant{8.0f / 255.0f, 128, 0, 255};  // N(0, 1) within +-4
        int8.output = ActivationQuant{8.0f / 255.0f, 128, 0, 255};
        x_q = quantize_activation(ctx, x, int8.input);
        std::vector<float> scale(static_cast<std::size_t>(p.o));
        const float* wp = w.weight.data<float>();
        const std::int64_t per = p.c * p.k * p.k;
        for (std::int64_t o = 0; o < p.o; ++o) {
            float amax = 0.0f;
            for (std::int64_t i = 0; i < per; ++i) {
                amax = std::max(amax, std::abs(wp[o * per + i]));
            }
            scale[static_cast<std::size_t>(o)] = amax / 127.5f;
        }
        w_q = quantize_conv2d_weights(w, Tensor::from_vector(scale, Shape{p.o}));
    }
    OnednnConv2d& comparator() {
        if (!onednn) {
            onednn =
                std::make_unique<OnednnConv2d>(problem, x.data<float>(), w.weight.data<float>(),
                                               w.bias.data<float>(), dy.data<float>());
        }
        return *onednn;
    }
};

Work forward_work(const Conv2dProblem& p) {
    return Work{p.forward_flops(), p.forward_bytes()};
}
Work forward_backward_work(const Conv2dProblem& p) {
    return Work{p.forward_backward_flops(), p.forward_backward_bytes()};
}

void bm_ours_forward(benchmark::State& state, Context& ctx, Fixture& f, const Machine& m) {
    benchmark::DoNotOptimize(conv2d_forward(ctx, f.x, f.w, f.params).raw_data());  // warm-up
    timed_loop(state, forward_work(f.problem), m, [&] {
        const Tensor y = conv2d_forward(ctx, f.x, f.w, f.params);
        benchmark::DoNotOptimize(y.raw_data());
    });
}

void bm_ours_forward_backward(benchmark::State& state, Context& ctx, Fixture& f, const Machine& m) {
    const auto step = [&] {
        Conv2dSaved saved;
        const Tensor y = conv2d_forward(ctx, f.x, f.w, f.params, &saved);
        const Conv2dGrads g = conv2d_backward(ctx, f.dy, f.w, f.params, saved);
        benchmark::DoNotOptimize(y.raw_data());
        benchmark::DoNotOptimize(g.dx.raw_data());
    };
    step();
    timed_loop(state, forward_backward_work(f.problem), m, step);
}

// The comparator rows also check ours against it on the same inputs (rel_l2_err of y or dx).
void bm_onednn_forward(benchmark::State& state, Context& ctx, Fixture& f, const Machine& m) {
    OnednnConv2d& c = f.comparator();
    c.forward();
    timed_loop(state, forward_work(f.problem), m, [&] { c.forward(); });
    state.counters["rel_l2_err"] =
        rel_l2_error(conv2d_forward(ctx, f.x, f.w, f.params), c.y_nchw());
}

void bm_onednn_forward_backward(benchmark::State& state,
                                Context& ctx,
                                Fixture& f,
                                const Machine& m) {
    OnednnConv2d& c = f.comparator();
    c.forward();
    c.backward();
    timed_loop(state, forward_backward_work(f.problem), m, [&] {
        c.forward();
        c.backward();
    });
    Conv2dSaved saved;
    conv2d_forward(ctx, f.x, f.w, f.params, &saved);
    state.counters["rel_l2_err"] =
        rel_l2_error(conv2d_backward(ctx, f.dy, f.w, f.params, saved).dx, c.dx_nchw());
}

// int8: the quantised layer on the same shape; its figure to compare is our float32 forward.
void bm_int8_forward(benchmark::State& state, Context& ctx, Fixture& f, const Machine& m) {
    benchmark::DoNotOptimize(conv2d_int8_forward(ctx, f.x_q, f.w_q, f.int8).raw_data());
    timed_loop(state, forward_work(f.problem), m, [&] {
        const Tensor y = conv2d_int8_forward(ctx, f.x_q, f.w_q, f.int8);
        benchmark::DoNotOptimize(y.raw_data());
    });
}

// The VNNI product on a CPU whose default is AMX: what the tiles add over it.
void bm_int8_vnni_forward(benchmark::State& state, Context& ctx, Fixture& f, const Machine& m) {
    Conv2dInt8Params params = f.int8;
    params.algo = Conv2dInt8Algo::kVnni;
    benchmark::DoNotOptimize(conv2d_int8_forward(ctx, f.x_q, f.w_q, params).raw_data());
    timed_loop(state, forward_work(f.problem), m, [&] {
        const Tensor y = conv2d_int8_forward(ctx, f.x_q, f.w_q, params);
        benchmark::DoNotOptimize(y.raw_data());
    });
}

void bm_direct_forward(benchmark::State& state, Context& ctx, Fixture& f, const Machine& m) {
    std::vector<float> y(
        static_cast<std::size_t>(f.problem.n * f.problem.o * f.problem.ho() * f.problem.wo()));
    timed_loop(state, forward_work(f.problem), m, [&] {
        direct_conv2d_forward(f.problem, f.x.data<float>(), f.w.weight.data<float>(),
                              f.w.bias.data<float>(), y.data());
        benchmark::DoNotOptimize(y.data());
    });
    state.counters["rel_l2_err"] = rel_l2_error(conv2d_forward(ctx, f.x, f.w, f.params), y);
}

using BenchFn = void (*)(benchmark::State&, Context&, Fixture&, const Machine&);

void register_benchmark(
    const std::string& name, BenchFn fn, Context& ctx, Fixture& f, const Machine& m, bool once) {
    benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
        name.c_str(), [fn, &ctx, &f, &m](benchmark::State& state) { fn(state, ctx, f, m); });
    b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
    if (once) {
        b->Iterations(1)->Repetitions(1);  // the direct loops: seconds a call
    } else {
        // Median of 5 repetitions of at least 0.2 s each: a shared 2-core machine is noisy.
        b->MinTime(0.2)->Repetitions(5)->DisplayAggregatesOnly(true);
    }
}

std::string fixed(double value, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", digits, value);
    return buf;
}

int run(int argc, char** argv) {
    bool console = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind("--benchmark_format=", 0) == 0) {
            console = arg == "--benchmark_format=console";
        }
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    ContextOptions options;
    options.num_threads = omp_get_max_threads();
    Context ctx(Device::cpu(), options);
    const int threads = ctx.num_threads();
    const CpuPeak peak = measure_fma_peak(threads);
    const Machine machine{peak.gflops, measure_copy_bandwidth_gbs(threads)};
    const char* batch_env = std::getenv("WTCONV_BENCH_CONV2D_BATCH");
    const std::int64_t batch = batch_env != nullptr ? std::atoll(batch_env) : 32;
    benchmark::AddCustomContext("cpu_model", cpu_model_name());
    benchmark::AddCustomContext("threads", std::to_string(threads));
    benchmark::AddCustomContext("fp32_fma_peak_gflops",
                                fixed(peak.gflops, 1) + " (" + peak.isa + ")");
    benchmark::AddCustomContext("copy_bandwidth_gbs", fixed(machine.copy_gbs, 1));
    benchmark::AddCustomContext("int8_algo", conv2d_int8_algo_name(conv2d_int8_auto_algo()));
    benchmark::AddCustomContext("batch", std::to_string(batch));
    benchmark::AddCustomContext("comparator",
                                "oneDNN " + onednn_version() + " primitives in their own layouts");

    std::vector<std::unique_ptr<Fixture>> fixtures;
    std::uint64_t seed = 1;
    for (Conv2dProblem p : kProblems) {
        p.n = batch;
        fixtures.push_back(std::make_unique<Fixture>(p, seed++));
    }
    for (const auto& f : fixtures) {
        const std::string shape = f->problem.shape_name();
        register_benchmark("conv2d_fwd/cpu_img2col/" + shape, bm_ours_forward, ctx, *f, machine,
                           false);
        register_benchmark("conv2d_fwd/onednn/" + shape, bm_onednn_forward, ctx, *f, machine,
                           false);
        register_benchmark("conv2d_fwd/cpu_int8/" + shape, bm_int8_forward, ctx, *f, machine,
                           false);
        if (conv2d_int8_supports(Conv2dInt8Algo::kAmx)) {
            register_benchmark("conv2d_fwd/cpu_int8_vnni/" + shape, bm_int8_vnni_forward, ctx, *f,
                               machine, false);
        }
        register_benchmark("conv2d_fwd/direct/" + shape, bm_direct_forward, ctx, *f, machine, true);
    }
    for (const auto& f : fixtures) {
        const std::string shape = f->problem.shape_name();
        register_benchmark("conv2d_fwdbwd/cpu_img2col/" + shape, bm_ours_forward_backward, ctx, *f,
                           machine, false);
        register_benchmark("conv2d_fwdbwd/onednn/" + shape, bm_onednn_forward_backward, ctx, *f,
                           machine, false);
    }
    if (console) {
        ComparatorReporter reporter("onednn");
        benchmark::RunSpecifiedBenchmarks(&reporter);
    } else {
        benchmark::RunSpecifiedBenchmarks();
    }
    benchmark::Shutdown();
    return 0;
}

}  // namespace
}  // namespace wtconv::bench

int main(int argc, char** argv) {
    return wtconv::bench::run(argc, argv);
}
