// bench_conv2d_compact: what structured pruning buys once pruned channels are cut out. A ResNet
// basic block's two 3x3 convolutions (C -> C -> C, batch 32) with the first layer's output
// channels pruned at 0/30/50/70 % (L2 norm, COMPRESSION.md 2.2) and the pair compacted into
// smaller dense layers (layers/conv2d_compact.h); forward and forward+backward on the CPU, and
// on cuda:0 when there is one. The summary gives each compacted pair's speed-up over the dense
// pair of the same run.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <wtconv/device.h>
#include <wtconv/layers/conv2d_compact.h>
#include <wtconv/ops/prune.h>

namespace wtconv::bench {
namespace {

struct Block {
    const char* name;
    std::int64_t channels, size;
};
constexpr Block kBlocks[] = {{"layer2", 128, 28}, {"layer3", 256, 14}};
constexpr double kSparsities[] = {0.0, 0.3, 0.5, 0.7};

Tensor random_normal(std::mt19937_64& rng, const Shape& shape) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(static_cast<std::size_t>(shape.numel()));
    for (float& e : v) {
        e = normal(rng);
    }
    return Tensor::from_vector(v, shape);
}

// The pair at one sparsity: the first layer pruned by channel norm, then both cut down.
struct Pair {
    std::unique_ptr<nn::Conv2d> first, second;
    Tensor x, dy;
    std::int64_t kept = 0;

    Pair(const Block& b, double sparsity, std::int64_t batch, Device device) {
        LayerOptions options;
        options.device = device;
        options.seed = 1;
        nn::Conv2d dense_first(b.channels, b.channels, 3, 1, 1, 1, 1, true, options);
        options.seed = 2;
        nn::Conv2d dense_second(b.channels, b.channels, 3, 1, 1, 1, 1, true, options);
        dense_first.set_mask(
            structured_mask(dense_first.weights().weight.to(Device::cpu()), sparsity).to(device));
        const std::vector<std::int64_t> keep = nn::live_output_channels(dense_first);
        kept = static_cast<std::int64_t>(keep.size());
        first = std::make_unique<nn::Conv2d>(nn::select_output_channels(dense_first, keep));
        second = std::make_unique<nn::Conv2d>(nn::select_input_channels(dense_second, keep));
        std::mt19937_64 rng(3);
        x = random_normal(rng, Shape{batch, b.channels, b.size, b.size}).to(device);
        dy = random_normal(rng, Shape{batch, b.channels, b.size, b.size}).to(device);
    }

    void step(bool backward) {
        const Tensor y = second->forward(first->forward(x));
        if (backward) {
            first->backward(second->backward(dy));
        }
        synchronize(x.device());  // the clock stops when the GPU is done
    }
};

void register_pair(const std::string& name, Pair& pair, bool backward) {
    benchmark::RegisterBenchmark(name.c_str(),
                                 [&pair, backward](benchmark::State& state) {
                                     pair.step(backward);  // warm-up: workspaces, cuBLAS handle
                                     for (auto _ : state) {
                                         pair.step(backward);
                                     }
                                     state.counters["out_channels_kept"] =
                                         static_cast<double>(pair.kept);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.2)
        ->Repetitions(5)
        ->DisplayAggregatesOnly(true);
}

// The console as usual, plus each row's median kept for the speed-up table.
class MedianReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            if (r.aggregate_name == "median") {
                median_ms[r.run_name.function_name] = r.GetAdjustedRealTime();
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }
    std::map<std::string, double> median_ms;
};

std::string row_name(const char* device, const Block& b, const char* pass, double sparsity) {
    char buf[128];
    std::snprintf(buf, sizeof(buf), "conv2d_compact/%s/%s/%s/sparsity_%02d", device, b.name, pass,
                  static_cast<int>(sparsity * 100 + 0.5));
    return buf;
}

int run(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    const char* batch_env = std::getenv("WTCONV_BENCH_CONV2D_BATCH");
    const std::int64_t batch = batch_env != nullptr ? std::atoll(batch_env) : 32;
    benchmark::AddCustomContext("batch", std::to_string(batch));
    std::vector<std::pair<const char*, Device>> devices{{"cpu", Device::cpu()}};
    if (cuda_device_count() > 0) {
        devices.emplace_back("cuda", Device::cuda(0));
    }
    std::vector<std::unique_ptr<Pair>> pairs;
    for (const auto& [device_name, device] : devices) {
        for (const Block& b : kBlocks) {
            for (const char* pass : {"fwd", "fwdbwd"}) {
                for (const double s : kSparsities) {
                    pairs.push_back(std::make_unique<Pair>(b, s, batch, device));
                    register_pair(row_name(device_name, b, pass, s), *pairs.back(),
                                  std::string(pass) == "fwdbwd");
                }
            }
        }
    }
    MedianReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    std::printf("\nconv2d compact summary (median ms, speed-up over the dense pair)\n");
    for (const auto& [device_name, device] : devices) {
        for (const Block& b : kBlocks) {
            for (const char* pass : {"fwd", "fwdbwd"}) {
                const auto dense = reporter.median_ms.find(row_name(device_name, b, pass, 0.0));
                if (dense == reporter.median_ms.end()) {
                    continue;  // filtered out
                }
                std::printf("%-5s %-7s %-7s dense %8.3f", device_name, b.name, pass, dense->second);
                for (const double s : kSparsities) {
                    const auto it = reporter.median_ms.find(row_name(device_name, b, pass, s));
                    if (s > 0.0 && it != reporter.median_ms.end()) {
                        std::printf(" | %2.0f%%: %8.3f (%.2fx)", s * 100, it->second,
                                    dense->second / it->second);
                    }
                }
                std::printf("\n");
            }
        }
    }
    benchmark::Shutdown();
    return 0;
}

}  // namespace
}  // namespace wtconv::bench

int main(int argc, char** argv) {
    return wtconv::bench::run(argc, argv);
}
