// wavkan on the CPU, float32, batch norm in training mode after every core (WAVKAN.md 8): the
// fused core (WavKanAlgo::kFused) against the unfused composition (kUnfused, the comparator: the
// (B, O, I) tensors of the original layer and of the seed's baseline, WAVKAN.md 7) on the seed's
// 512 network (whole-network forward, and backward alone) and on one wide layer per wavelet
// (forward, forward+backward). Each unfused row runs first; the fused row after it reports the
// speed-up over it and the two results' agreement. JSON: --benchmark_out=f.json
// --benchmark_out_format=json.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <omp.h>

#include <wtconv/context.h>
#include <wtconv/host_memory.h>
#include <wtconv/ops/wavkan.h>

#include "support/cpu_peak.h"
#include "support/timed_loop.h"
#include "support/wavkan_networks.h"

namespace wtconv::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

using Problem = WavKanProblem;

std::vector<Problem> problems() {
    std::vector<Problem> list;
    // The seed's first benchmark network (WAVKAN.md 8: 3,151,362 parameters), mexican_hat.
    list.push_back({"net512_B256", KanWavelet::kMexicanHat, 256, {512, 512, 512, 512, 512, 1}});
    // The wide layer at B 256, not the B 1024 (which bench_wavkan_cuda runs): at B 1024
    // each unfused (B, O, I) float32 tensor takes 4 GiB and the unfused backward holds four, 16 GiB
    // of a 24 GB build machine. B 256 keeps them at 1 GiB each; the ratio is per evaluation.
    for (const KanWavelet w : {KanWavelet::kMexicanHat, KanWavelet::kMorlet, KanWavelet::kDog,
                               KanWavelet::kMeyer, KanWavelet::kShannon}) {
        list.push_back(
            {std::string(kan_wavelet_name(w)) + "_B256_1024x1024", w, 256, {1024, 1024}});
    }
    return list;
}

enum class Pass { kForward, kBackward, kForwardBackward };

const char* pass_name(Pass pass) {
    switch (pass) {
        case Pass::kForward:
            return "fwd";
        case Pass::kBackward:
            return "bwd";
        case Pass::kForwardBackward:
            return "fwdbwd";
    }
    return "?";
}

// One problem's network and inputs, shared by its rows, with what the unfused rows leave for the
// fused rows after them.
struct Fixture {
    Problem problem;
    std::vector<WavKanLayer> layers;
    Tensor x;   // (B, widths[0]): uniform in [-1, 1], as benchmark.py's regression inputs
    Tensor dy;  // (B, widths.back()): the loss gradient, fixed N(0, 1)
    std::map<std::string, std::vector<double>> unfused_ms;  // per pass, each repetition's ms
    std::map<std::string, double> once;                     // per row: values measured once

    Fixture(Problem p, std::uint64_t seed) : problem(std::move(p)) {
        std::mt19937_64 rng(seed);
        std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        const std::int64_t batch = problem.batch;
        x = host_filled(Shape{batch, problem.widths.front()}, [&] { return unit(rng); });
        layers = make_wavkan_layers(problem.widths, rng, DType::kFloat32, Device::cpu());
        dy = host_filled(Shape{batch, problem.widths.back()}, [&] { return normal(rng); });
    }

    WavKanParams params(WavKanAlgo algo) const { return training_params(problem.wavelet, algo); }
    Tensor forward(Context& ctx, const WavKanParams& p, std::vector<WavKanSaved>& saved) {
        return network_forward(ctx, layers, x, p, saved);
    }
    std::vector<WavKanGrads> backward(Context& ctx,
                                      const WavKanParams& p,
                                      const std::vector<WavKanSaved>& saved) const {
        return network_backward(ctx, layers, dy, p, saved);
    }
};

// Reads "<key> <n> kB" from /proc/self/status, in bytes; -1 when it cannot.
double status_bytes(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) == 0) {
            return std::stod(line.substr(key.size())) * 1024.0;
        }
    }
    return -1;
}

// The most host memory one step holds beyond what was held before it, in MiB: the larger of the
// resident set's growth (VmHWM, reset to VmRSS by writing 5 to /proc/self/clear_refs, Linux 4.0
// on), which sees the unfused passes' std::vector buffers, and of the host tensor statistics,
// which see tensors served from wtconv's cache of blocks already resident. -1 when the resident
// set cannot be read.
double peak_extra_mib(const std::function<void()>& step) {
    const std::size_t tensors_before = host_memory_stats().allocated_bytes;
    host_reset_peak_memory();
    bool reset = false;
    {
        std::ofstream clear("/proc/self/clear_refs");
        reset = static_cast<bool>(clear << "5" << std::flush);
    }
    const double rss_before = status_bytes("VmRSS:");
    step();
    const double rss_peak = status_bytes("VmHWM:");
    const std::size_t tensors_peak = host_memory_stats().peak_allocated_bytes;
    if (!reset || rss_before < 0 || rss_peak < 0) {
        return -1;
    }
    const double tensors =
        tensors_peak > tensors_before ? static_cast<double>(tensors_peak - tensors_before) : 0.0;
    return std::max(rss_peak - rss_before, tensors) / kMiB;
}

// The worst relative L2 difference between the fused and the unfused results on the same inputs:
// the network's output (forward) or every gradient of every layer (backward).
double fused_vs_unfused(Context& ctx, Fixture& f, Pass pass) {
    std::vector<WavKanSaved> saved_fused;
    std::vector<WavKanSaved> saved_unfused;
    const WavKanParams fused = f.params(WavKanAlgo::kFused);
    const WavKanParams unfused = f.params(WavKanAlgo::kUnfused);
    const Tensor y_fused = f.forward(ctx, fused, saved_fused);
    const Tensor y_unfused = f.forward(ctx, unfused, saved_unfused);
    if (pass == Pass::kForward) {
        return rel_l2(y_fused, y_unfused);
    }
    const std::vector<WavKanGrads> a = f.backward(ctx, fused, saved_fused);
    const std::vector<WavKanGrads> b = f.backward(ctx, unfused, saved_unfused);
    return worst_gradient_difference(a, b);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The value of key, computed by make() the first time only (the rows' repetitions share it).
double once(Fixture& f, const std::string& key, const std::function<double()>& make) {
    const auto it = f.once.find(key);
    if (it != f.once.end()) {
        return it->second;
    }
    return f.once[key] = make();
}

void bm_row(benchmark::State& state, Context& ctx, Fixture& f, WavKanAlgo algo, Pass pass) {
    const WavKanParams p = f.params(algo);
    std::vector<WavKanSaved> saved;  // the backward rows' forward state, made once, untimed
    std::function<void()> step;
    switch (pass) {
        case Pass::kForward:
            step = [&] {
                std::vector<WavKanSaved> s;
                benchmark::DoNotOptimize(f.forward(ctx, p, s).raw_data());
            };
            break;
        case Pass::kBackward:
            f.forward(ctx, p, saved);
            step = [&] {
                const std::vector<WavKanGrads> g = f.backward(ctx, p, saved);
                benchmark::DoNotOptimize(g.front().dweights.scale.raw_data());
            };
            break;
        case Pass::kForwardBackward:
            step = [&] {
                std::vector<WavKanSaved> s;
                benchmark::DoNotOptimize(f.forward(ctx, p, s).raw_data());
                const std::vector<WavKanGrads> g = f.backward(ctx, p, s);
                benchmark::DoNotOptimize(g.front().dweights.scale.raw_data());
            };
            break;
    }
    step();  // untimed: the worker threads start and the allocators map their pages

    const double seconds = timed_seconds(state, step);
    const double evaluations =
        f.problem.evaluations() * (pass == Pass::kForwardBackward ? 2.0 : 1.0);
    state.counters["ms"] = seconds * 1e3;
    state.counters["evals_per_s"] = evaluations / seconds;

    const std::string row = std::string(pass_name(pass)) + "/" + wavkan_algo_name(algo);
    state.counters["peak_extra_MiB"] =
        once(f, row + "/memory", [&] { return peak_extra_mib(step); });
    if (algo == WavKanAlgo::kUnfused) {
        f.unfused_ms[pass_name(pass)].push_back(seconds * 1e3);
        return;
    }
    const auto unfused = f.unfused_ms.find(pass_name(pass));
    if (unfused != f.unfused_ms.end() && !unfused->second.empty()) {
        state.counters["speedup_vs_unfused"] = median(unfused->second) / (seconds * 1e3);
        state.counters["rel_l2_vs_unfused"] =
            once(f, row + "/check", [&] { return fused_vs_unfused(ctx, f, pass); });
    }
}

int run(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    // OpenMP's default thread count, the one a user's program gets.
    ContextOptions options;
    options.num_threads = omp_get_max_threads();
    Context ctx(Device::cpu(), options);
    benchmark::AddCustomContext("cpu_model", cpu_model_name());
    benchmark::AddCustomContext("threads", std::to_string(ctx.num_threads()));
    benchmark::AddCustomContext("comparator",
                                "wavkan unfused: (B, O, I) terms materialised, then summed");
    benchmark::AddCustomContext("layer", "float32, core + batch norm (training), base off");
    benchmark::AddCustomContext("evals_per_s",
                                "wavelet evaluations B sum(O I) per pass (x2 for fwdbwd) / s");

    std::vector<std::unique_ptr<Fixture>> fixtures;  // stable addresses for the lambdas
    std::uint64_t seed = 1;
    for (const Problem& p : problems()) {
        fixtures.push_back(std::make_unique<Fixture>(p, seed++));
    }
    for (const auto& f : fixtures) {
        const bool network = f->problem.network();
        const Pass passes[] = {Pass::kForward, network ? Pass::kBackward : Pass::kForwardBackward};
        for (const Pass pass : passes) {
            // The comparator first: the fused row reads its times.
            for (const WavKanAlgo algo : {WavKanAlgo::kUnfused, WavKanAlgo::kFused}) {
                const std::string name = std::string("wavkan_") + pass_name(pass) + "/cpu_" +
                                         wavkan_algo_name(algo) + "/" + f->problem.name;
                Fixture* fp = f.get();
                benchmark::RegisterBenchmark(name.c_str(),
                                             [&ctx, fp, algo, pass](benchmark::State& state) {
                                                 bm_row(state, ctx, *fp, algo, pass);
                                             })
                    ->UseRealTime()
                    ->MeasureProcessCPUTime()
                    ->Unit(benchmark::kMillisecond)
                    // The median of 5 rides out other work on a shared machine; the console shows
                    // the aggregates, --benchmark_out also keeps every repetition.
                    ->Repetitions(5)
                    ->DisplayAggregatesOnly(true);
            }
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // namespace
}  // namespace wtconv::bench

int main(int argc, char** argv) {
    return wtconv::bench::run(argc, argv);
}
