// The CUDA benchmarks' common run-time frame (bench/cuda/bench_session.h).
#include "cuda/bench_session.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cuda/bench_check.h"

namespace wtconv::bench {

BenchFlags take_bench_flags(int* argc, char** argv) {
    BenchFlags flags;
    const std::string format = "--benchmark_format=";
    int kept = 1;
    for (int i = 1; i < *argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--self_check") {
            flags.self_check_only = true;
        } else if (arg.rfind("--gpu_warmup=", 0) == 0) {
            flags.timer.warmup = std::max(0, std::atoi(arg.c_str() + 13));
        } else if (arg.rfind("--gpu_reps=", 0) == 0) {
            flags.timer.repetitions = std::max(1, std::atoi(arg.c_str() + 11));
        } else {
            if (arg.rfind(format, 0) == 0) {
                flags.console = arg.substr(format.size()) == "console";
            }
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    return flags;
}

bool cuda_device_present(const char* bench) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        cudaGetLastError();  // clear the sticky "no device" / "no driver" error
        std::printf("no CUDA device: %s has nothing to measure here\n", bench);
        return false;
    }
    return true;
}

CudaBenchSession::CudaBenchSession(int device) {
    WTCONV_BENCH_CUDA_CHECK(cudaSetDevice(device));
    WTCONV_BENCH_CUDA_CHECK(cudaStreamCreate(&stream_));
    ContextOptions options;
    options.cuda_stream = stream_;
    try {
        ctx_ = std::make_unique<Context>(Device::cuda(device), options);
    } catch (...) {
        cudaStreamDestroy(stream_);
        throw;
    }
}

CudaBenchSession::~CudaBenchSession() {
    ctx_.reset();
    cudaStreamDestroy(stream_);
}

std::string timing_context(const GpuTimerOptions& timer, const std::string& inputs) {
    return "CUDA events, " + std::to_string(timer.warmup) + " warm-up + " +
           std::to_string(timer.repetitions) + " timed calls, median; " + inputs;
}

int bench_main(const char* bench, int (*run)(int, char**), int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", bench, e.what());
        return 1;
    }
}

}  // namespace wtconv::bench
