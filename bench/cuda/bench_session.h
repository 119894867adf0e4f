#pragma once
// What every CUDA benchmark's run() does around its rows: our flags out of argv, the device check,
// the stream and context the rows run on, the timing note in the JSON context, and main()'s error
// handling. One copy for bench_wtconv2d_cuda, bench_conv2d_cuda and bench_wavkan_cuda.
#include <memory>
#include <string>

#include <cuda_runtime.h>

#include <wtconv/context.h>

#include "cuda/gpu_timer.h"

namespace wtconv::bench {

// Our flags, removed from argv (Google Benchmark rejects flags it does not know): --self_check
// (stop after the comparator's own check, in the benchmarks that have one), --gpu_warmup=N,
// --gpu_reps=N; console is false when --benchmark_format asks for json or csv on stdout, which a
// summary table would corrupt.
struct BenchFlags {
    bool self_check_only = false;
    bool console = true;
    GpuTimerOptions timer;
};
BenchFlags take_bench_flags(int* argc, char** argv);

// Whether a CUDA device is there; without one, says that `bench` has nothing to measure and clears
// CUDA's sticky "no device" error.
bool cuda_device_present(const char* bench);

// The stream and context the rows run on, on `device`. The stream is a blocking one: tensor memory
// is freed on the legacy default stream, which then waits for this stream's work (context.h).
class CudaBenchSession {
public:
    explicit CudaBenchSession(int device);
    ~CudaBenchSession();
    CudaBenchSession(const CudaBenchSession&) = delete;
    CudaBenchSession& operator=(const CudaBenchSession&) = delete;

    cudaStream_t stream() const { return stream_; }
    Context& context() { return *ctx_; }

private:
    cudaStream_t stream_ = nullptr;
    std::unique_ptr<Context> ctx_;
};

// "CUDA events, W warm-up + R timed calls, median; " + inputs, for the JSON's "timing" context.
std::string timing_context(const GpuTimerOptions& timer, const std::string& inputs);

// main()'s body: run(argc, argv), an exception reported on stderr as "bench: what" and exit code 1.
int bench_main(const char* bench, int (*run)(int, char**), int argc, char** argv);

}  // namespace wtconv::bench
