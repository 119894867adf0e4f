// CUDA-event timing: one event pair per repetition, summarised after all have run.
#include <algorithm>
#include <cmath>

#include "cuda/bench_check.h"
#include "cuda/gpu_timer.h"

namespace wtconv::bench {

namespace {

// Owns one CUDA event; destroyed without throwing.
class Event {
public:
    Event() { WTCONV_BENCH_CUDA_CHECK(cudaEventCreate(&event_)); }
    ~Event() { cudaEventDestroy(event_); }
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    cudaEvent_t get() const { return event_; }

private:
    cudaEvent_t event_ = nullptr;
};

// The value at fraction q of the sorted samples, the nearest rank at or above it: for 30 samples
// the p90 is the 27th, an observed time rather than an interpolation.
double quantile(const std::vector<double>& sorted, double q) {
    const auto n = static_cast<double>(sorted.size());
    const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n)));
    return sorted[std::min(rank, sorted.size()) - 1];
}

}  // namespace

GpuTimes time_gpu_calls(cudaStream_t stream,
                        const std::function<void(int)>& call,
                        const GpuTimerOptions& options) {
    WTCONV_CHECK(options.repetitions >= 1, "gpu timer: repetitions must be >= 1, got ",
                 options.repetitions);
    int index = 0;
    for (int i = 0; i < options.warmup; ++i) {
        call(index++);
    }
    WTCONV_BENCH_CUDA_CHECK(cudaStreamSynchronize(stream));

    Event start;
    Event stop;
    GpuTimes times;
    times.all_ms.reserve(static_cast<std::size_t>(options.repetitions));
    for (int i = 0; i < options.repetitions; ++i) {
        WTCONV_BENCH_CUDA_CHECK(cudaEventRecord(start.get(), stream));
        call(index++);
        WTCONV_BENCH_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
        // Waiting here keeps repetitions from overlapping, so each pair times exactly one call.
        WTCONV_BENCH_CUDA_CHECK(cudaEventSynchronize(stop.get()));
        float ms = 0;
        WTCONV_BENCH_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
        times.all_ms.push_back(ms);
    }
    std::vector<double> sorted = times.all_ms;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    times.min_ms = sorted.front();
    times.median_ms = n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    times.p90_ms = quantile(sorted, 0.9);
    return times;
}

}  // namespace wtconv::bench
