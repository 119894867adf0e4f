// Host allocation and the device-agnostic copy used by Tensor. Small host buffers are 64-byte
// aligned, so vector loads never straddle a cache line at row starts. Large ones are 2 MiB aligned
// and advised as transparent huge pages: a fresh 16 MiB output otherwise costs 4096 page faults,
// which on a VM took longer (25-45 ms) than the WTConv forward that filled it (about 2 ms).
#include "core/memory.h"

#include <cstring>
#include <new>
#include <sys/mman.h>

#include <wtconv/error.h>

namespace wtconv::detail {

namespace {
constexpr std::size_t kHugePage = std::size_t{1} << 21;

std::align_val_t host_alignment(std::size_t bytes) {
    return std::align_val_t{bytes >= kHugePage ? kHugePage : 64};
}
}  // namespace

void* allocate(Device device, std::size_t bytes) {
    if (bytes == 0) {
        bytes = 1;  // a defined tensor always owns a valid pointer, even with zero elements
    }
    switch (device.type) {
        case DeviceType::kCpu: {
            void* ptr = ::operator new(bytes, host_alignment(bytes), std::nothrow);
            WTCONV_CHECK_CODE(ptr != nullptr, ErrorCode::kOutOfMemory,
                              "tensor: host allocation of ", bytes, " bytes failed");
            if (bytes >= kHugePage) {
                // Advice only: where THP is off or madvise fails, small pages still work.
                madvise(ptr, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
            }
            return ptr;
        }
        case DeviceType::kCuda:
            return cuda::device_malloc(device.index, bytes);
    }
    return nullptr;
}

void deallocate(Device device, void* ptr, std::size_t bytes) noexcept {
    const std::size_t allocated = bytes == 0 ? 1 : bytes;  // as allocate rounded it
    switch (device.type) {
        case DeviceType::kCpu:
            ::operator delete(ptr, host_alignment(allocated));
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
