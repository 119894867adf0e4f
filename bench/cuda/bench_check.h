#pragma once
// Status checks for the CUDA benchmarks: a failing CUDA runtime or cuDNN call becomes wtconv::Error
// (kCudaError) carrying the call's text, the library's message and file:line, so that a failure on
// the GPU machine names the exact call without a rebuild.
#include <cuda_runtime.h>

#include <wtconv/error.h>

namespace wtconv::bench::detail {

[[noreturn]] inline void throw_call_error(
    const char* api, const char* expr, const char* what, const char* file, int line) {
    throw Error(ErrorCode::kCudaError, ::wtconv::detail::concat(api, ": ", expr, " failed: ", what,
                                                                " at ", file, ":", line));
}

}  // namespace wtconv::bench::detail

#define WTCONV_BENCH_CUDA_CHECK(expr)                                                         \
    do {                                                                                      \
        const cudaError_t wtconv_bench_status_ = (expr);                                      \
        if (wtconv_bench_status_ != cudaSuccess) {                                            \
            ::wtconv::bench::detail::throw_call_error(                                        \
                "cuda", #expr, cudaGetErrorString(wtconv_bench_status_), __FILE__, __LINE__); \
        }                                                                                     \
    } while (false)
