#pragma once
// WTCONV_CUDA_CHECK: turns a failing CUDA runtime call into wtconv::Error with the expression,
// the CUDA error string and file:line. Out-of-memory gets its own category.
#include <cuda_runtime.h>

#include <wtconv/error.h>

namespace wtconv::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status,
                                          const char* expr,
                                          const char* file,
                                          int line) {
    const ErrorCode code =
        status == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kCudaError;
    throw Error(
        code, ::wtconv::detail::concat("cuda: ", expr, " failed: ", cudaGetErrorName(status), " (",
                                       cudaGetErrorString(status), ") at ", file, ":", line));
}

}  // namespace wtconv::cuda::detail

#define WTCONV_CUDA_CHECK(expr)                                                                  \
    do {                                                                                         \
        const cudaError_t wtconv_status_ = (expr);                                               \
        if (wtconv_status_ != cudaSuccess) {                                                     \
            ::wtconv::cuda::detail::throw_cuda_error(wtconv_status_, #expr, __FILE__, __LINE__); \
        }                                                                                        \
    } while (false)
