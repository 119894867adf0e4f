// wtconv2d on the CPU, float32: our planewise kernels, forward and forward+backward, against the
// double reference (the comparator) on the same shapes and inputs, each row held against
// this machine's measured FMA peak. JSON: --benchmark_out=f.json --benchmark_out_format=json.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <omp.h>

#include <wtconv/context.h>
#include <wtconv/ops/wtconv2d.h>
#include <wtconv/wavelets.h>

#include "reference/wtconv_ref.h"
#include "support/comparator_report.h"
#include "support/cpu_peak.h"
#include "support/timed_loop.h"
#include "support/wtconv2d_work.h"

namespace wtconv::bench {
namespace {

// The shapes, all db1, stride 1, with bias; filter_len is read from the wavelet table.
constexpr WTConv2dProblem kProblems[] = {
    {16, 64, 64, 64, 5, 1, 0},
    {16, 64, 64, 64, 5, 3, 0},
    {8, 96, 56, 56, 5, 3, 0},
    {16, 64, 63, 65, 5, 2, 0},  // odd sizes: each level pads an odd side by one
};
constexpr const char* kWavelet = "db1";

struct RefInputs {
    ref::Array x, dy;
    ref::Weights w;
    ref::Config cfg;
    ref::FilterBank fb;
};

// N(0, stddev) float32 values on the host: never all zero, so no kernel can skip work.
Tensor random_normal(std::mt19937_64& rng, const Shape& shape, float stddev) {
    Tensor t = Tensor::empty(shape, DType::kFloat32);
    std::normal_distribution<float> normal(0.0f, stddev);
    float* data = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        data[i] = normal(rng);
    }
    return t;
}

ref::Array to_ref(const Tensor& t) {
    ref::Array a;
    a.shape = t.shape().sizes();
    a.data = t.to_vector();
    return a;
}

double rel_l2_error(const Tensor& got, const ref::Array& want) {
    const std::vector<double> g = got.to_vector();
    double diff = 0;
    double norm = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        diff += (g[i] - want.data[i]) * (g[i] - want.data[i]);
        norm += want.data[i] * want.data[i];
    }
    return std::sqrt(diff / norm);
}

// One problem's inputs, made once and shared by its four benchmarks, so that the benchmark
// library's repeated calls time the op and not the set-up.
struct Fixture {
    WTConv2dProblem problem;
    WTConvParams params;
    Tensor x, dy;  // (N, C, H, W), dy shaped like the output (stride 1)
    WTConvWeights w;
    std::optional<RefInputs> ref_inputs;  // the double copies, made when the reference first runs

    Fixture(const WTConv2dProblem& p, std::uint64_t seed) : problem(p) {
        params.kernel_size = p.kernel_size;
        params.levels = p.levels;
        params.stride = 1;
        params.bias = true;
        params.wavelet = kWavelet;
        params.algo = WTConvAlgo::kPlanewise;
        std::mt19937_64 rng(seed);
        const Shape shape{p.n, p.c, p.h, p.w};
        x = random_normal(rng, shape, 1.0f);
        dy = random_normal(rng, shape, 1.0f);
        // Taps with stddev 1/K keep a K x K conv's output near unit variance at every level.
        const float tap_std = 1.0f / static_cast<float>(p.kernel_size);
        const WTConvWeights like = wtconv2d_empty_weights(p.c, params, DType::kFloat32);
        w.base_weight = random_normal(rng, like.base_weight.shape(), tap_std);
        w.base_bias = random_normal(rng, like.base_bias.shape(), 1.0f);
        w.base_scale = random_normal(rng, like.base_scale.shape(), 1.0f);
        for (int i = 0; i < p.levels; ++i) {
            w.wavelet_weight.push_back(random_normal(rng, like.wavelet_weight[i].shape(), tap_std));
            w.wavelet_scale.push_back(random_normal(rng, like.wavelet_scale[i].shape(), 1.0f));
        }
    }

    const RefInputs& ref() {
        if (!ref_inputs) {
            RefInputs r;
            r.x = to_ref(x);
            r.dy = to_ref(dy);
            r.w.base_weight = to_ref(w.base_weight);
            r.w.base_bias = to_ref(w.base_bias);
            r.w.base_scale = to_ref(w.base_scale);
            for (int i = 0; i < problem.levels; ++i) {
                r.w.wavelet_weight.push_back(to_ref(w.wavelet_weight[i]));
                r.w.wavelet_scale.push_back(to_ref(w.wavelet_scale[i]));
            }
            r.cfg = ref::Config{params.kernel_size, params.levels, params.stride, params.bias};
            const WaveletFilterBank bank = wavelet_filter_bank(params.wavelet);
            r.fb = ref::FilterBank{bank.dec_lo, bank.dec_hi, bank.rec_lo, bank.rec_hi};
            ref_inputs = std::move(r);
        }
        return *ref_inputs;
    }
};

// The fixture's parameters with the algorithm under test.
WTConvParams with_algo(const Fixture& f, WTConvAlgo algo) {
    WTConvParams p = f.params;
    p.algo = algo;
    return p;
}

void bm_forward(
    benchmark::State& state, Context& ctx, Fixture& f, const Machine& m, WTConvAlgo algo) {
    const WTConvParams params = with_algo(f, algo);
    // One untimed call: the worker threads start and the allocator maps its pages.
    benchmark::DoNotOptimize(wtconv2d_forward(ctx, f.x, f.w, params).raw_data());
    timed_loop(state, wtconv2d_forward_work(f.problem), m, [&] {
        // The output is allocated by the op and freed here, each iteration: part of its cost.
        const Tensor y = wtconv2d_forward(ctx, f.x, f.w, params);
        benchmark::DoNotOptimize(y.raw_data());
    });
}

void bm_forward_backward(
    benchmark::State& state, Context& ctx, Fixture& f, const Machine& m, WTConvAlgo algo) {
    const WTConvParams params = with_algo(f, algo);
    const auto step = [&] {
        WTConvSaved saved;
        const Tensor y = wtconv2d_forward(ctx, f.x, f.w, params, &saved);
        const WTConvGrads g = wtconv2d_backward(ctx, f.dy, f.w, params, saved);
        benchmark::DoNotOptimize(y.raw_data());
        benchmark::DoNotOptimize(g.dx.raw_data());
    };
    step();  // untimed, as in bm_forward
    timed_loop(state, wtconv2d_forward_backward_work(f.problem), m, step);
}

// The comparator also checks ours on the very same inputs: rel_l2_err of y (forward) or dx
// (forward+backward) against the double result.
void bm_reference_forward(benchmark::State& state,
                          Context& ctx,
                          Fixture& f,
                          const Machine& m,
                          WTConvAlgo /*algo: the reference has one*/) {
    const RefInputs& r = f.ref();
    ref::Array y;
    timed_loop(state, wtconv2d_forward_work(f.problem), m, [&] {
        y = ref::wtconv2d_forward(r.x, r.w, r.cfg, r.fb);
        benchmark::DoNotOptimize(y.data.data());
    });
    state.counters["rel_l2_err"] = rel_l2_error(wtconv2d_forward(ctx, f.x, f.w, f.params), y);
}

void bm_reference_forward_backward(benchmark::State& state,
                                   Context& ctx,
                                   Fixture& f,
                                   const Machine& m,
                                   WTConvAlgo /*algo: the reference has one*/) {
    const RefInputs& r = f.ref();
    ref::Grads g;
    timed_loop(state, wtconv2d_forward_backward_work(f.problem), m, [&] {
        // The reference's backward takes x and recomputes what it needs; its forward runs too so
        // that both rows time the same training step.
        const ref::Array y = ref::wtconv2d_forward(r.x, r.w, r.cfg, r.fb);
        benchmark::DoNotOptimize(y.data.data());
        g = ref::wtconv2d_backward(r.x, r.dy, r.w, r.cfg, r.fb);
        benchmark::DoNotOptimize(g.dx.data.data());
    });
    WTConvSaved saved;
    wtconv2d_forward(ctx, f.x, f.w, f.params, &saved);
    const WTConvGrads ours = wtconv2d_backward(ctx, f.dy, f.w, f.params, saved);
    state.counters["rel_l2_err"] = rel_l2_error(ours.dx, g.dx);
}

using BenchFn = void (*)(benchmark::State&, Context&, Fixture&, const Machine&, WTConvAlgo);

void register_benchmark(const std::string& name,
                        BenchFn fn,
                        Context& ctx,
                        Fixture& f,
                        const Machine& m,
                        WTConvAlgo algo,
                        bool reference) {
    benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
        name.c_str(),
        [fn, &ctx, &f, &m, algo](benchmark::State& state) { fn(state, ctx, f, m, algo); });
    // Wall time, since the op runs on several threads; the CPU column sums all of them.
    b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
    if (reference) {
        // Seconds a call, far above any timer noise: one timed call, never repeated.
        b->Iterations(1)->Repetitions(1);
    } else {
        // The median of 5 (the summary's figure) rides out other work on a shared machine; the
        // console shows the aggregates, --benchmark_out also keeps every repetition.
        b->Repetitions(5)->DisplayAggregatesOnly(true);
    }
}

std::string fixed(double value, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", digits, value);
    return buf;
}

// True unless --benchmark_format asks for json or csv; read before Initialize consumes it.
bool console_format(int argc, char** argv) {
    const std::string flag = "--benchmark_format=";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind(flag, 0) == 0) {
            return arg.substr(flag.size()) == "console";
        }
    }
    return true;
}

int run(int argc, char** argv) {
    const bool console = console_format(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    // OpenMP's default thread count, the one a user's program gets; the peak uses the same.
    ContextOptions options;
    options.num_threads = omp_get_max_threads();
    Context ctx(Device::cpu(), options);
    const int threads = ctx.num_threads();
    const CpuPeak peak = measure_fma_peak(threads);
    const Machine machine{peak.gflops, measure_copy_bandwidth_gbs(threads)};
    benchmark::AddCustomContext("cpu_model", cpu_model_name());
    benchmark::AddCustomContext("threads", std::to_string(threads));
    benchmark::AddCustomContext("fp32_fma_peak_gflops",
                                fixed(peak.gflops, 1) + " (" + peak.isa +
                                    "; measured: " + std::to_string(threads) + " threads " +
                                    fixed(peak.all_threads_gflops, 1) + ", 1 thread " +
                                    fixed(peak.one_thread_gflops, 1) + ")");
    benchmark::AddCustomContext("copy_bandwidth_gbs", fixed(machine.copy_gbs, 1));
    benchmark::AddCustomContext("comparator", "tests/reference, float64 plain loops, 1 thread");
    benchmark::AddCustomContext("flops", "bench/support/wtconv2d_work.h");

    const int filter_len = static_cast<int>(wavelet_filter_bank(kWavelet).dec_lo.size());
    std::vector<std::unique_ptr<Fixture>> fixtures;  // stable addresses for the lambdas
    std::uint64_t seed = 1;
    for (WTConv2dProblem p : kProblems) {
        p.filter_len = filter_len;
        fixtures.push_back(std::make_unique<Fixture>(p, seed++));
    }
    // Ours: the default CPU algorithm (planewise) and the plain stage-by-stage one (direct).
    const WTConvAlgo algos[] = {WTConvAlgo::kPlanewise, WTConvAlgo::kDirect};
    const WTConvAlgo none = WTConvAlgo::kAuto;
    for (const auto& f : fixtures) {
        const std::string shape = problem_name(f->problem);
        for (const WTConvAlgo algo : algos) {
            register_benchmark(
                "wtconv2d_fwd/cpu_" + std::string(wtconv_algo_name(algo)) + "/" + shape, bm_forward,
                ctx, *f, machine, algo, false);
        }
        register_benchmark("wtconv2d_fwd/reference/" + shape, bm_reference_forward, ctx, *f,
                           machine, none, true);
    }
    for (const auto& f : fixtures) {
        const std::string shape = problem_name(f->problem);
        for (const WTConvAlgo algo : algos) {
            register_benchmark(
                "wtconv2d_fwdbwd/cpu_" + std::string(wtconv_algo_name(algo)) + "/" + shape,
                bm_forward_backward, ctx, *f, machine, algo, false);
        }
        register_benchmark("wtconv2d_fwdbwd/reference/" + shape, bm_reference_forward_backward, ctx,
                           *f, machine, none, true);
    }

    if (console) {
        ComparatorReporter reporter("reference");
        benchmark::RunSpecifiedBenchmarks(&reporter);
    } else {
        benchmark::RunSpecifiedBenchmarks();  // the library's json / csv reporter, no summary
    }
    benchmark::Shutdown();
    return 0;
}

}  // namespace
}  // namespace wtconv::bench

int main(int argc, char** argv) {
    return wtconv::bench::run(argc, argv);
}
