// cuBLAS handles, one per device (cuda/blas.h).
#include "cuda/blas.h"

#include <map>

#include "cuda/check.h"

namespace wtconv::cuda {

namespace {

struct Handles {
    std::mutex mutex;
    std::map<int, cublasHandle_t> by_device;
};

Handles& handles() {
    static Handles* h = new Handles;  // never destroyed: no teardown order against the runtime
    return *h;
}

}  // namespace

BlasSession::BlasSession(int device, cudaStream_t stream) : lock_(handles().mutex) {
    auto& by_device = handles().by_device;
    auto it = by_device.find(device);
    if (it == by_device.end()) {
        cublasHandle_t h = nullptr;
        WTCONV_CUBLAS_CHECK(cublasCreate(&h));
        it = by_device.emplace(device, h).first;
    }
    handle_ = it->second;
    WTCONV_CUBLAS_CHECK(cublasSetStream(handle_, stream));
}

void release_blas_handle(int device) {
    const std::lock_guard<std::mutex> lock(handles().mutex);
    auto& by_device = handles().by_device;
    const auto it = by_device.find(device);
    if (it != by_device.end()) {
        cublasDestroy(it->second);  // best effort: the handle is gone either way
        by_device.erase(it);
    }
}

void throw_blas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
    const ErrorCode code =
        status == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::kOutOfMemory : ErrorCode::kCudaError;
    throw Error(code, ::wtconv::detail::concat(
                          "cublas: ", expr, " failed: ", cublasGetStatusName(status), " (",
                          cublasGetStatusString(status), ") at ", file, ":", line));
}

}  // namespace wtconv::cuda
