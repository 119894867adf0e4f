// wavkan on CUDA, float32, batch norm in training mode after every core (WAVKAN.md 8): the fused
// core (WavKanAlgo::kFused) against the unfused composition (kUnfused, the comparator: the seed's
// baseline, one thread per (b, o, i) writing (B, O, I) tensors, WAVKAN.md 7) on the seed's two
// networks at batch 256 and one wide layer (B 1024, 1024 -> 1024) per wavelet. Forward (the whole
// network) and backward (every layer's, last to first, from a fixed loss gradient) are timed
// separately: CUDA-event medians with inputs rotated over a few sets. Each unfused row runs first;
// the fused row after it reports the speed-up and the two results' agreement. A summary table
// with the targets follows the rows.
//   bench_wavkan_cuda [--gpu_warmup=N] [--gpu_reps=N] [benchmark flags]
//   JSON: --benchmark_out=f.json --benchmark_out_format=json. Without a GPU it says so, exits 0.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <wtconv/context.h>
#include <wtconv/cuda_memory.h>
#include <wtconv/ops/wavkan.h>

#include "cuda/bench_check.h"
#include "cuda/bench_session.h"
#include "cuda/gpu_data.h"
#include "cuda/gpu_timer.h"
#include "support/wavkan_networks.h"

namespace wtconv::bench {
namespace {

constexpr int kDevice = 0;
constexpr int kInputSets = 4;  // x and dy sets rotated between calls
constexpr double kMiB = 1024.0 * 1024.0;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

using Problem = WavKanProblem;

// WAVKAN.md 8: the seed's README networks (mexican_hat), then the wide layer for every wavelet.
std::vector<Problem> problems() {
    std::vector<Problem> list;
    list.push_back({"net512_B256", KanWavelet::kMexicanHat, 256, {512, 512, 512, 512, 512, 1}});
    list.push_back(
        {"net1024_B256", KanWavelet::kMexicanHat, 256, {1024, 1024, 1024, 1024, 1024, 64}});
    // The half types' storage (float sums): the networks again.
    for (const auto& [suffix, dtype] :
         {std::pair{"_f16", DType::kFloat16}, std::pair{"_bf16", DType::kBFloat16}}) {
        list.push_back({std::string("net512_B256") + suffix,
                        KanWavelet::kMexicanHat,
                        256,
                        {512, 512, 512, 512, 512, 1},
                        dtype});
        list.push_back({std::string("net1024_B256") + suffix,
                        KanWavelet::kMexicanHat,
                        256,
                        {1024, 1024, 1024, 1024, 1024, 64},
                        dtype});
    }
    for (const KanWavelet w : {KanWavelet::kMexicanHat, KanWavelet::kMorlet, KanWavelet::kDog,
                               KanWavelet::kMeyer, KanWavelet::kShannon}) {
        list.push_back(
            {std::string(kan_wavelet_name(w)) + "_B1024_1024x1024", w, 1024, {1024, 1024}});
    }
    return list;
}

enum class Pass { kForward, kBackward };

const char* pass_name(Pass pass) {
    return pass == Pass::kForward ? "fwd" : "bwd";
}

// One problem's network and input sets on the device, shared by its rows and dropped before the
// next problem's.
struct Fixture {
    int index = -1;
    Problem problem;
    std::vector<WavKanLayer> layers;
    std::vector<Tensor> x, dy;  // rotated sets: (B, widths[0]) and (B, widths.back())
};

// The short table printed after the rows: per problem, pass and algorithm, the median and the
// peak extra memory.
struct Result {
    double ms = kNaN;
    double peak_mib = kNaN;
};

struct Env {
    cudaStream_t stream = nullptr;
    Context* ctx = nullptr;
    GpuTimerOptions timer;
    std::vector<Problem> problems;
    std::unique_ptr<Fixture> fixture;
    std::map<std::string, Result> results;  // key: problem/pass/algo
};

std::string result_key(const Problem& p, Pass pass, WavKanAlgo algo) {
    return p.name + "/" + pass_name(pass) + "/" + wavkan_algo_name(algo);
}

double result_ms(const Env& env, const Problem& p, Pass pass, WavKanAlgo algo) {
    const auto it = env.results.find(result_key(p, pass, algo));
    return it == env.results.end() ? kNaN : it->second.ms;
}

// N(0, stddev^2) drawn in float32 on the device, rounded to dtype (through the host: setup only).
Tensor device_normal(
    const Shape& shape, std::uint64_t seed, float stddev, DType dtype, cudaStream_t stream) {
    Tensor t = Tensor::empty(shape, DType::kFloat32, Device::cuda(kDevice));
    fill_normal_f32(t.data<float>(), t.numel(), seed, stddev, stream);
    if (dtype == DType::kFloat32) {
        return t;
    }
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));
    return t.to(Device::cpu()).to(dtype).to(Device::cuda(kDevice));
}

Fixture& fixture_for(Env& env, int index) {
    if (env.fixture && env.fixture->index == index) {
        return *env.fixture;
    }
    env.fixture.reset();  // free the previous problem's tensors first
    auto f = std::make_unique<Fixture>();
    f->index = index;
    f->problem = env.problems[static_cast<std::size_t>(index)];
    const Problem& p = f->problem;
    const Device device = Device::cuda(kDevice);
    std::mt19937_64 rng(static_cast<std::uint64_t>(index) + 1);
    f->layers = make_wavkan_layers(p.widths, rng, p.dtype, device);
    for (int s = 0; s < kInputSets; ++s) {
        const auto seed = 1000ULL * static_cast<std::uint64_t>(index + 1) + 2ULL * s;
        // N(0, 0.5): about the spread of benchmark.py's inputs, uniform in [-1, 1].
        f->x.push_back(
            device_normal(Shape{p.batch, p.widths.front()}, seed, 0.5f, p.dtype, env.stream));
        f->dy.push_back(
            device_normal(Shape{p.batch, p.widths.back()}, seed + 1, 1.0f, p.dtype, env.stream));
    }
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(env.stream));
    env.fixture = std::move(f);
    return *env.fixture;
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

// The worst relative L2 difference between fused and unfused on input set 0: the network's output
// (forward) or every gradient of every layer (backward).
double fused_vs_unfused(Env& env, Fixture& f, Pass pass) {
    const WavKanParams fused = training_params(f.problem.wavelet, WavKanAlgo::kFused);
    const WavKanParams unfused = training_params(f.problem.wavelet, WavKanAlgo::kUnfused);
    std::vector<WavKanSaved> saved_fused;
    std::vector<WavKanSaved> saved_unfused;
    const Tensor y_fused = network_forward(*env.ctx, f.layers, f.x[0], fused, saved_fused);
    const Tensor y_unfused = network_forward(*env.ctx, f.layers, f.x[0], unfused, saved_unfused);
    if (pass == Pass::kForward) {
        return rel_l2(y_fused, y_unfused);
    }
    const std::vector<WavKanGrads> a =
        network_backward(*env.ctx, f.layers, f.dy[0], fused, saved_fused);
    const std::vector<WavKanGrads> b =
        network_backward(*env.ctx, f.layers, f.dy[0], unfused, saved_unfused);
    return worst_gradient_difference(a, b);
}

// checked false: the fused forward with ContextOptions::check_values off (no scan of the inputs
// and parameters for non-finite values, and no synchronisation per layer to read its result).
void run_row(benchmark::State& state,
             Env& env,
             Fixture& f,
             WavKanAlgo algo,
             Pass pass,
             bool checked = true) {
    Context& ctx = *env.ctx;
    ctx.set_check_values(checked);
    const WavKanParams p = training_params(f.problem.wavelet, algo);
    // Backward: each set's forward state, made once and untimed (a training step's forward).
    std::vector<std::vector<WavKanSaved>> saved(kInputSets);
    if (pass == Pass::kBackward) {
        for (int s = 0; s < kInputSets; ++s) {
            network_forward(ctx, f.layers, f.x[static_cast<std::size_t>(s)], p,
                            saved[static_cast<std::size_t>(s)]);
        }
    }
    // Outputs and gradients are allocated by the op and freed here, inside the timed span.
    const std::function<void(int)> call = [&](int i) {
        const int s = i % kInputSets;
        if (pass == Pass::kForward) {
            std::vector<WavKanSaved> fresh;
            network_forward(ctx, f.layers, f.x[static_cast<std::size_t>(s)], p, fresh);
        } else {
            network_backward(ctx, f.layers, f.dy[static_cast<std::size_t>(s)], p,
                             saved[static_cast<std::size_t>(s)]);
        }
    };
    const GpuTimes t = time_gpu_calls(env.stream, call, env.timer);
    state.SetIterationTime(t.median_ms * 1e-3);
    state.counters["ms"] = t.median_ms;
    state.counters["min_ms"] = t.min_ms;
    state.counters["p90_ms"] = t.p90_ms;
    state.counters["Gevals_per_s"] = f.problem.evaluations() / (t.median_ms * 1e-3) * 1e-9;
    const double peak_mib = peak_extra_bytes(env, [&] { call(0); }) / kMiB;
    state.counters["peak_extra_MiB"] = peak_mib;
    ctx.set_check_values(true);
    if (!checked) {
        env.results[result_key(f.problem, pass, algo) + "/unchecked"] =
            Result{t.median_ms, peak_mib};
        return;
    }
    env.results[result_key(f.problem, pass, algo)] = Result{t.median_ms, peak_mib};
    if (algo == WavKanAlgo::kFused) {
        const double unfused_ms = result_ms(env, f.problem, pass, WavKanAlgo::kUnfused);
        if (!std::isnan(unfused_ms)) {
            state.counters["speedup_vs_unfused"] = unfused_ms / t.median_ms;
            try {
                state.counters["rel_l2_vs_unfused"] = fused_vs_unfused(env, f, pass);
            } catch (const std::exception& e) {
                state.SetLabel(std::string("no check against unfused: ") + e.what());
            }
        }
    }
}

void bm_row(
    benchmark::State& state, Env& env, int index, WavKanAlgo algo, Pass pass, bool checked) {
    for (auto _ : state) {
        try {
            run_row(state, env, fixture_for(env, index), algo, pass, checked);
        } catch (const Error& e) {
            // kNotSupported: this build has no such kernel yet; the row says why.
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

// "  12.345" or "       -" for a row that did not run.
std::string cell(double v, const char* format) {
    if (std::isnan(v)) {
        return "-";
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}

// The targets: fused forward >= 10x and forward+backward >= 5x faster than unfused; the 512
// network's fused forward under 0.3 ms and forward+backward under 1 ms. fwd+bwd is the sum of the
// two medians.
void print_summary(const Env& env, std::FILE* out) {
    std::fprintf(out,
                 "\nwavkan CUDA summary: median ms (fwd+bwd = sum of the two medians), peak "
                 "extra MiB, fused speed-up over unfused\n");
    std::fprintf(out, "%-26s %-7s %11s %11s %9s %12s %12s %s\n", "problem", "pass", "unfused_ms",
                 "fused_ms", "speedup", "unfused_MiB", "fused_MiB", "target");
    std::fprintf(out, "(fwd*: the fused forward with ContextOptions::check_values off)\n");
    for (const Problem& p : env.problems) {
        for (const char* pass : {"fwd", "bwd", "fwd+bwd"}) {
            const std::string name = pass;
            double ms[2] = {kNaN, kNaN};
            double mib[2] = {kNaN, kNaN};
            const WavKanAlgo algos[2] = {WavKanAlgo::kUnfused, WavKanAlgo::kFused};
            for (int a = 0; a < 2; ++a) {
                if (name == "fwd+bwd") {
                    ms[a] = result_ms(env, p, Pass::kForward, algos[a]) +
                            result_ms(env, p, Pass::kBackward, algos[a]);
                    continue;
                }
                const Pass which = name == "fwd" ? Pass::kForward : Pass::kBackward;
                const auto it = env.results.find(result_key(p, which, algos[a]));
                if (it != env.results.end()) {
                    ms[a] = it->second.ms;
                    mib[a] = it->second.peak_mib;
                }
            }
            const double speedup = ms[0] / ms[1];
            std::string target;
            const auto mark = [&](bool met, const std::string& what) {
                target += (target.empty() ? "" : ", ") + what + (met ? " met" : " MISSED");
            };
            if (name == "fwd" && !std::isnan(speedup)) {
                mark(speedup >= 10, ">= 10x");
            }
            if (name == "fwd+bwd" && !std::isnan(speedup)) {
                mark(speedup >= 5, ">= 5x");
            }
            if (p.name == "net512_B256" && name == "fwd" && !std::isnan(ms[1])) {
                mark(ms[1] < 0.3, "< 0.3 ms");
            }
            if (p.name == "net512_B256" && name == "fwd+bwd" && !std::isnan(ms[1])) {
                mark(ms[1] < 1.0, "< 1 ms");
            }
            std::fprintf(out, "%-26s %-7s %11s %11s %9s %12s %12s %s\n", p.name.c_str(), pass,
                         cell(ms[0], "%.3f").c_str(), cell(ms[1], "%.3f").c_str(),
                         cell(speedup, "%.1fx").c_str(), cell(mib[0], "%.1f").c_str(),
                         cell(mib[1], "%.1f").c_str(), target.c_str());
        }
        // The fused forward with the value checks off (ContextOptions::check_values = false).
        const auto unchecked =
            env.results.find(result_key(p, Pass::kForward, WavKanAlgo::kFused) + "/unchecked");
        if (unchecked != env.results.end()) {
            const double fwd = unchecked->second.ms;
            const double both = fwd + result_ms(env, p, Pass::kBackward, WavKanAlgo::kFused);
            const double unfused_fwd = result_ms(env, p, Pass::kForward, WavKanAlgo::kUnfused);
            const double unfused_both =
                unfused_fwd + result_ms(env, p, Pass::kBackward, WavKanAlgo::kUnfused);
            for (const bool with_bwd : {false, true}) {
                const double mine = with_bwd ? both : fwd;
                const double theirs = with_bwd ? unfused_both : unfused_fwd;
                std::string target;
                if (p.name == "net512_B256") {
                    target = with_bwd ? (mine < 1.0 ? "< 1 ms met" : "< 1 ms MISSED")
                                      : (mine < 0.3 ? "< 0.3 ms met" : "< 0.3 ms MISSED");
                }
                std::fprintf(out, "%-26s %-7s %11s %11s %9s %12s %12s %s\n", p.name.c_str(),
                             with_bwd ? "fwd*+bwd" : "fwd*", cell(theirs, "%.3f").c_str(),
                             cell(mine, "%.3f").c_str(), cell(theirs / mine, "%.1fx").c_str(), "-",
                             "-", target.c_str());
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
    if (!cuda_device_present("bench_wavkan_cuda")) {
        return 0;
    }
    CudaBenchSession session(kDevice);
    Env env;
    env.stream = session.stream();
    env.ctx = &session.context();
    env.timer = flags.timer;
    env.problems = problems();

    cudaDeviceProp prop{};
    WTCONV_BENCH_CUDA_CHECK(cudaGetDeviceProperties(&prop, kDevice));
    benchmark::AddCustomContext(
        "gpu", std::string(prop.name) + ", " + std::to_string(prop.multiProcessorCount) + " SMs");
    benchmark::AddCustomContext(
        "timing", timing_context(env.timer, std::to_string(kInputSets) + " input sets rotated"));
    benchmark::AddCustomContext("comparator",
                                "wavkan unfused: (B, O, I) terms materialised, then summed");
    benchmark::AddCustomContext("layer",
                                "core + batch norm (training), base off; float32, or the storage "
                                "type a name ends in (_f16, _bf16: float sums)");
    benchmark::AddCustomContext("Gevals_per_s", "wavelet evaluations B sum(O I) per pass / s");

    for (int index = 0; index < static_cast<int>(env.problems.size()); ++index) {
        for (const Pass pass : {Pass::kForward, Pass::kBackward}) {
            // The comparator first: the fused row reads its median.
            for (const WavKanAlgo algo : {WavKanAlgo::kUnfused, WavKanAlgo::kFused}) {
                // The forward also without the value checks (backward has none).
                for (const bool checked : {true, false}) {
                    if (!checked && (algo != WavKanAlgo::kFused || pass != Pass::kForward)) {
                        continue;
                    }
                    const std::string name = std::string("wavkan_cuda/") + pass_name(pass) + "/" +
                                             wavkan_algo_name(algo) +
                                             (checked ? "" : "_unchecked") + "/" +
                                             env.problems[static_cast<std::size_t>(index)].name;
                    benchmark::RegisterBenchmark(
                        name.c_str(),
                        [&env, index, algo, pass, checked](benchmark::State& state) {
                            bm_row(state, env, index, algo, pass, checked);
                        })
                        ->UseManualTime()
                        ->Iterations(1)
                        ->Repetitions(1)
                        ->Unit(benchmark::kMillisecond);
                }
            }
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (flags.console) {
        print_summary(env, stdout);
    }
    return 0;
}

}  // namespace
}  // namespace wtconv::bench

int main(int argc, char** argv) {
    return wtconv::bench::bench_main("bench_wavkan_cuda", wtconv::bench::run, argc, argv);
}
