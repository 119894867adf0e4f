// Stand-ins for cuda/memory.cu in a build without CUDA: no devices, every request for device
// memory says so instead of failing later, and the memory statistics are zeros.
#include <wtconv/cuda_memory.h>
#include <wtconv/error.h>

#include "core/memory.h"

namespace wtconv::cuda {

namespace {
[[noreturn]] void not_built() {
    throw Error(ErrorCode::kNotSupported,
                "tensor: device must be cpu in this build (wtconv was built without CUDA), got a "
                "CUDA tensor request");
}
}  // namespace

int device_count() noexcept {
    return 0;
}
OpStreamScope::OpStreamScope(Device, CUstream_st*) noexcept
    : previous_device_(-1), previous_stream_(nullptr) {}
OpStreamScope::~OpStreamScope() = default;
void device_synchronize(int) {
    not_built();
}
void* device_malloc(int, std::size_t) {
    not_built();
}
void device_free(int, void*, std::size_t) noexcept {}
void memcpy_host_to_device(int, void*, const void*, std::size_t) {
    not_built();
}
void memcpy_device_to_host(int, void*, const void*, std::size_t) {
    not_built();
}
void memcpy_device_to_device(int, void*, int, const void*, std::size_t) {
    not_built();
}
void fill_pattern(int, void*, std::size_t, std::size_t, const void*, CUstream_st*) {
    not_built();
}
void combine_inplace(int, void*, const void*, std::size_t, DType, Combine, CUstream_st*) {
    not_built();
}

}  // namespace wtconv::cuda

namespace wtconv {

// No device memory exists here, so there is nothing to count, reset or give back.
CudaMemoryStats cuda_memory_stats(int) {
    return CudaMemoryStats{};
}
void cuda_reset_peak_memory(int) {}
void cuda_empty_cache(int) {}

}  // namespace wtconv
