// Allocation and the device-agnostic copy used by Tensor. Host memory: src/core/host_memory.cpp
// (small blocks 64-byte aligned, so vector loads never straddle a cache line at row starts; large
// ones from a cache of 2 MiB-aligned blocks advised as transparent huge pages). Device memory:
// cuda/memory.cu.
#include "core/memory.h"

#include <cstring>

#include "core/host_memory.h"

namespace wtconv::detail {

void* allocate(Device device, std::size_t bytes) {
    if (bytes == 0) {
        bytes = 1;  // a defined tensor always owns a valid pointer, even with zero elements
    }
    switch (device.type) {
        case DeviceType::kCpu:
            return host_allocate(bytes);
        case DeviceType::kCuda:
            return cuda::device_malloc(device.index, bytes);
    }
    return nullptr;
}

void deallocate(Device device, void* ptr, std::size_t bytes) noexcept {
    const std::size_t allocated = bytes == 0 ? 1 : bytes;  // as allocate rounded it
    switch (device.type) {
        case DeviceType::kCpu:
            host_deallocate(ptr, allocated);
            break;
        case DeviceType::kCuda:
            cuda::device_free(device.index, ptr, allocated);
            break;
    }
}

void copy_bytes(
    void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
    if (bytes == 0) {
        return;
    }
    if (dst_device.is_cpu() && src_device.is_cpu()) {
        std::memcpy(dst, src, bytes);
    } else if (dst_device.is_cuda() && src_device.is_cpu()) {
        cuda::memcpy_host_to_device(dst_device.index, dst, src, bytes);
    } else if (dst_device.is_cpu() && src_device.is_cuda()) {
        cuda::memcpy_device_to_host(src_device.index, dst, src, bytes);
    } else {
        cuda::memcpy_device_to_device(dst_device.index, dst, src_device.index, src, bytes);
    }
}

}  // namespace wtconv::detail
