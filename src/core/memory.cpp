// Host allocation (64-byte aligned, so vector loads never straddle a cache line at row starts)
// and the device-agnostic copy used by Tensor.
#include "core/memory.h"

#include <cstring>
#include <new>

#include <wtconv/error.h>

namespace wtconv::detail {

namespace {
constexpr std::align_val_t kHostAlignment{64};
}

void* allocate(Device device, std::size_t bytes) {
    if (bytes == 0) {
        bytes = 1;  // a defined tensor always owns a valid pointer, even with zero elements
    }
    switch (device.type) {
        case DeviceType::kCpu: {
            void* ptr = ::operator new(bytes, kHostAlignment, std::nothrow);
            WTCONV_CHECK_CODE(ptr != nullptr, ErrorCode::kOutOfMemory,
                              "tensor: host allocation of ", bytes, " bytes failed");
            return ptr;
        }
        case DeviceType::kCuda:
            return cuda::device_malloc(device.index, bytes);
    }
    return nullptr;
}

void deallocate(Device device, void* ptr) noexcept {
    switch (device.type) {
        case DeviceType::kCpu:
            ::operator delete(ptr, kHostAlignment);
            break;
        case DeviceType::kCuda:
            cuda::device_free(device.index, ptr);
            break;
    }
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
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
