#pragma once
// cuBLAS for the library's GEMMs: one handle per device, created on first use and shared by every
// thread under a lock (a handle holds the stream it queues on), and the check that turns a failing
// cuBLAS call into wtconv::Error.
#include <mutex>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <wtconv/error.h>

namespace wtconv::cuda {

// The device's handle, set to queue on stream, held locked for the caller's scope: cuBLAS handles
// are not safe to retarget from two threads at once.
class BlasSession {
public:
    BlasSession(int device, cudaStream_t stream);
    cublasHandle_t handle() const { return handle_; }

private:
    std::unique_lock<std::mutex> lock_;
    cublasHandle_t handle_ = nullptr;
};

// Destroys the device's handle (its workspace goes back to the driver); the next BlasSession
// creates a new one. Called by cuda_empty_cache, after the device is idle.
void release_blas_handle(int device);

[[noreturn]] void throw_blas_error(cublasStatus_t status,
                                   const char* expr,
                                   const char* file,
                                   int line);

}  // namespace wtconv::cuda

#define WTCONV_CUBLAS_CHECK(expr)                                                             \
    do {                                                                                      \
        const cublasStatus_t wtconv_blas_status_ = (expr);                                    \
        if (wtconv_blas_status_ != CUBLAS_STATUS_SUCCESS) {                                   \
            ::wtconv::cuda::throw_blas_error(wtconv_blas_status_, #expr, __FILE__, __LINE__); \
        }                                                                                     \
    } while (false)
