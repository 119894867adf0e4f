// wavkan on the CPU, float32, batch norm in training mode after every core (WAVKAN.md 8): the
// fused core (WavKanAlgo::kFused) against the unfused composition (kUnfused, the comparator: the
// (B, O, I) tensors of the original layer and of the seed's baseline, WAVKAN.md 7) on the seed's
// 512 network (whole-network forward, and backward alone) and on one wide layer per wavelet
// (forward, forward+backward). Each unfused row runs first; the fused row after it reports the
// speed-up over it and the two results' agreement. JSON: --benchmark_out=f.json
// --benchmark_out_format=json.
#include <algorithm>
#include <chrono>
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

namespace wtconv::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// A network of wavkan layers (core + batch norm each): widths[0] inputs, then each layer's outputs.
struct Problem {
    std::string name;
    KanWavelet wavelet = KanWavelet::kMexicanHat;
    std::int64_t batch = 0;
    std::vector<std::int64_t> widths;

    // Wavelet evaluations of one forward, B sum O I (WAVKAN.md 8); a backward evaluates as many
    // (psi and dpsi together).
    double evaluations() const {
        double sum = 0;
        for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
            sum += static_cast<double>(widths[l]) * static_cast<double>(widths[l + 1]);
        }
        return static_cast<double>(batch) * sum;
    }
};

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

Tensor filled(const Shape& shape, const std::function<float()>& draw) {
    Tensor t = Tensor::empty(shape, DType::kFloat32);
    float* p = t.data<float>();
    for (std::int64_t k = 0; k < t.numel(); ++k) {
        p[k] = draw();
    }
    return t;
}

struct Layer {
    WavKanWeights w;
    WavKanRunningStats running;
};

// One problem's network and inputs, shared by its rows, with what the unfused rows leave for the
// fused rows after them.
struct Fixture {
    Problem problem;
    std::vector<Layer> layers;
    Tensor x;   // (B, widths[0]): uniform in [-1, 1], as benchmark.py's regression inputs
    Tensor dy;  // (B, widths.back()): the loss gradient, fixed N(0, 1)
    std::map<std::string, std::vector<double>> unfused_ms;  // per pass, each repetition's ms
    std::map<std::string, double> once;                     // per row: values measured once

    Fixture(Problem p, std::uint64_t seed) : problem(std::move(p)) {
        std::mt19937_64 rng(seed);
        std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
        std::uniform_real_distribution<float> magnitude(0.5f, 2.0f);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        const std::int64_t batch = problem.batch;
        x = filled(Shape{batch, problem.widths.front()}, [&] { return unit(rng); });
        for (std::size_t l = 0; l + 1 < problem.widths.size(); ++l) {
            const std::int64_t in = problem.widths[l], out = problem.widths[l + 1];
            const Shape edges{out, in};
            Layer layer;
            // nn::WavKANLinear's initialisation (wavelet_weights U(+-1/sqrt(I)), batch norm
            // gamma 1, beta 0, running mean 0, variance 1), but scale and translation moved off
            // 1 and 0 so that the wavelets are not all evaluated at the same few points:
            // |scale| uniform in [0.5, 2] with a random sign, translation N(0, 0.5).
            layer.w.scale = filled(edges, [&] {
                const float m = magnitude(rng);
                return (rng() & 1u) != 0 ? m : -m;
            });
            layer.w.translation = filled(edges, [&] { return 0.5f * normal(rng); });
            const float bound = 1.0f / std::sqrt(static_cast<float>(in));
            layer.w.wavelet_weights = filled(edges, [&] { return bound * unit(rng); });
            layer.w.bn_weight = Tensor::full(Shape{out}, 1.0, DType::kFloat32);
            layer.w.bn_bias = Tensor::full(Shape{out}, 0.0, DType::kFloat32);
            layer.running.mean = Tensor::full(Shape{out}, 0.0, DType::kFloat32);
            layer.running.var = Tensor::full(Shape{out}, 1.0, DType::kFloat32);
            layers.push_back(std::move(layer));
        }
        dy = filled(Shape{batch, problem.widths.back()}, [&] { return normal(rng); });
    }

    WavKanParams params(WavKanAlgo algo) const {
        WavKanParams p;
        p.wavelet = problem.wavelet;
        p.algo = algo;
        p.batchnorm = true;
        p.training = true;  // the benchmark never calls eval() (WAVKAN.md 8)
        return p;
    }

    // The whole network's training forward (running statistics updated), saving every layer.
    Tensor forward(Context& ctx, const WavKanParams& p, std::vector<WavKanSaved>& saved) {
        saved.assign(layers.size(), WavKanSaved{});
        Tensor h = x;
        for (std::size_t l = 0; l < layers.size(); ++l) {
            h = wavkan_forward(ctx, h, layers[l].w, p, &layers[l].running, &saved[l]);
        }
        return h;
    }

    // Every layer's backward, last to first, from the fixed dy. A network's first layer skips dx
    // (its input needs no gradient, as in the original's training step); a lone layer stands for
    // a hidden one and computes it.
    std::vector<WavKanGrads> backward(Context& ctx,
                                      const WavKanParams& p,
                                      const std::vector<WavKanSaved>& saved) const {
        std::vector<WavKanGrads> grads(layers.size());
        Tensor g = dy;
        for (std::size_t l = layers.size(); l-- > 0;) {
            grads[l] =
                wavkan_backward(ctx, g, layers[l].w, p, saved[l], l > 0 || layers.size() == 1);
            g = grads[l].dx;
        }
        return grads;
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

double rel_l2(const Tensor& got, const Tensor& want) {
    const std::vector<double> g = got.to_vector();
    const std::vector<double> w = want.to_vector();
    double diff = 0;
    double norm = 0;
    for (std::size_t k = 0; k < g.size(); ++k) {
        diff += (g[k] - w[k]) * (g[k] - w[k]);
        norm += w[k] * w[k];
    }
    return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
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
    double worst = 0;
    for (std::size_t l = 0; l < a.size(); ++l) {
        const WavKanWeights& da = a[l].dweights;
        const WavKanWeights& db = b[l].dweights;
        for (const auto& [ta, tb] :
             {std::pair{&da.scale, &db.scale}, std::pair{&da.translation, &db.translation},
              std::pair{&da.wavelet_weights, &db.wavelet_weights},
              std::pair{&da.bn_weight, &db.bn_weight}, std::pair{&da.bn_bias, &db.bn_bias},
              std::pair{&a[l].dx, &b[l].dx}}) {
            if (ta->defined()) {
                worst = std::max(worst, rel_l2(*ta, *tb));
            }
        }
    }
    return worst;
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

    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    for (auto _ : state) {
        step();
    }
    const double seconds =
        std::chrono::duration<double>(Clock::now() - start).count() /
        static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
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
        const bool network = f->problem.widths.size() > 2;
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
