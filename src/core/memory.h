#pragma once
// Raw allocation and copies for tensor storage on any device. The CUDA half lives in
// cuda/memory.cu; a build without CUDA gets versions that throw Error(kNotSupported).
#include <cstddef>

#include <wtconv/device.h>

namespace wtconv::detail {

void* allocate(Device device, std::size_t bytes);
// bytes: what allocate was asked for (it picks the host alignment from it).
void deallocate(Device device, void* ptr, std::size_t bytes) noexcept;
// Copies bytes between any two devices; synchronous.
void copy_bytes(
    void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);

}  // namespace wtconv::detail

namespace wtconv::cuda {

int device_count() noexcept;
void* device_malloc(int device, std::size_t bytes);
void device_free(int device, void* ptr) noexcept;
void memcpy_host_to_device(int device, void* dst, const void* src, std::size_t bytes);
void memcpy_device_to_host(int device, void* dst, const void* src, std::size_t bytes);
void memcpy_device_to_device(
    int dst_device, void* dst, int src_device, const void* src, std::size_t bytes);
// Fills n elements of 4 or 8 bytes each with the same bit pattern.
void fill_pattern(
    int device, void* dst, std::size_t n, std::size_t elem_bytes, const void* pattern);

}  // namespace wtconv::cuda
