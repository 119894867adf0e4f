// Device memory for tensor storage: the only place that calls cudaMalloc and cudaFree. Every call
// first selects the tensor's device, so tensors on different GPUs can be mixed in one thread.
#include <algorithm>
#include <cstdint>

#include "core/memory.h"
#include "cuda/check.h"

namespace wtconv::cuda {

namespace {

// Restores the caller's current device on scope exit, so the library never changes it behind the
// caller's back.
class DeviceGuard {
public:
    explicit DeviceGuard(int device) {
        WTCONV_CUDA_CHECK(cudaGetDevice(&previous_));
        if (device != previous_) {
            WTCONV_CUDA_CHECK(cudaSetDevice(device));
        }
    }
    ~DeviceGuard() { cudaSetDevice(previous_); }  // destructors never throw
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int previous_ = 0;
};

void check_index(int device) {
    const int count = device_count();
    WTCONV_CHECK(device >= 0 && device < count, "tensor: CUDA device index must be in [0, ", count,
                 "), got ", device);
}

template <class T>
__global__ void fill_kernel(T* __restrict__ dst, std::size_t n, T value) {
    for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
        dst[i] = value;
    }
}

}  // namespace

int device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // no driver or no GPU: clear the sticky error and report none
        return 0;
    }
    return count;
}

void* device_malloc(int device, std::size_t bytes) {
    check_index(device);
    DeviceGuard guard(device);
    void* ptr = nullptr;
    WTCONV_CUDA_CHECK(cudaMalloc(&ptr, bytes));
    return ptr;
}

void device_free(int device, void* ptr) noexcept {
    int previous = 0;
    if (cudaGetDevice(&previous) == cudaSuccess && previous != device) {
        cudaSetDevice(device);
    }
    cudaFree(ptr);  // failure here cannot be reported: destructors never throw
    cudaSetDevice(previous);
}

void memcpy_host_to_device(int device, void* dst, const void* src, std::size_t bytes) {
    DeviceGuard guard(device);
    WTCONV_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void memcpy_device_to_host(int device, void* dst, const void* src, std::size_t bytes) {
    DeviceGuard guard(device);
    WTCONV_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void memcpy_device_to_device(
    int dst_device, void* dst, int src_device, const void* src, std::size_t bytes) {
    if (dst_device == src_device) {
        DeviceGuard guard(dst_device);
        WTCONV_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
    } else {
        WTCONV_CUDA_CHECK(cudaMemcpyPeer(dst, dst_device, src, src_device, bytes));
    }
}

void fill_pattern(
    int device, void* dst, std::size_t n, std::size_t elem_bytes, const void* pattern) {
    DeviceGuard guard(device);
    constexpr int kThreads = 256;
    const int blocks = static_cast<int>(std::min<std::size_t>((n + kThreads - 1) / kThreads, 4096));
    if (n == 0) {
        return;
    }
    if (elem_bytes == 4) {
        fill_kernel<<<blocks, kThreads>>>(static_cast<std::uint32_t*>(dst), n,
                                          *static_cast<const std::uint32_t*>(pattern));
    } else {
        fill_kernel<<<blocks, kThreads>>>(static_cast<std::uint64_t*>(dst), n,
                                          *static_cast<const std::uint64_t*>(pattern));
    }
    WTCONV_CUDA_CHECK(cudaGetLastError());
    WTCONV_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace wtconv::cuda
