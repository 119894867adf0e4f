#pragma once
// Timing of GPU work with CUDA events on one stream: warm-up calls, then repetitions each between
// its own event pair, summarised by the median (the figure every row reports), min and p90.
#include <functional>
#include <vector>

#include <cuda_runtime.h>

namespace wtconv::bench {

struct GpuTimerOptions {
    int warmup = 10;       // >= 10: lazy module loading, cuDNN's first-call set-up, allocator pools
    int repetitions = 30;  // >= 30, so that the p90 is an observed repetition and not the maximum
};

struct GpuTimes {
    double median_ms = 0;
    double min_ms = 0;
    double p90_ms = 0;
    std::vector<double> all_ms;  // every repetition in call order
};

// Enqueues call(i) on stream for i = 0, 1, ... (warm-up calls first; i keeps counting, so callers
// rotate inputs with i % k) and times each repetition between two events on the stream. The
// stream is drained before every repetition, so each one starts on an idle GPU and its time
// includes the host's submission cost whenever the host is slower than the GPU: the latency of
// one call, as a training step that waits for the layer would see it.
GpuTimes time_gpu_calls(cudaStream_t stream,
                        const std::function<void(int)>& call,
                        const GpuTimerOptions& options = {});

}  // namespace wtconv::bench
